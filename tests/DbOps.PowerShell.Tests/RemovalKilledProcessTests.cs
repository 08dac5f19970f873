using System.Diagnostics;

namespace DbOps.PowerShell.Tests;

/// <summary>
/// Remove-DeprecatedTable killed while it holds the table lock (rechecking the rows before the DROP): the table is
/// afterwards fully present, never gone without an archive, and the next run drops it with the same archive.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RemovalKilledProcessTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_removal_killed_under_the_lock_leaves_the_table_whole_and_the_archive_usable()
    {
        const long rows = 1_000_000;
        var database = cluster.CreateDatabase("killdrop");
        cluster.Execute(database, $"CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, {rows}) g");
        var archives = _folder.File("archives");
        var script = _folder.File("remove.ps1");
        File.WriteAllText(script, "param($cs, $dest) Export-TableArchive -Database $cs -Table big -Destination $dest -Verify | Remove-DeprecatedTable -Confirm:$false\n");

        using (var runner = Process.Start(RunnerTests.RunnerStartInfo(script, "-cs", cluster.ConnectionString(database), "-dest", archives))!)
        {
            runner.StandardInput.Close();
            var clock = Stopwatch.StartNew();
            while (!HoldsExclusiveLock(database))
            {
                if (runner.HasExited)
                {
                    Assert.Fail($"The removal ended (exit code {runner.ExitCode}) before it could be killed: {runner.StandardError.ReadToEnd()}");
                }
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "the removal never took the table lock");
                Thread.Sleep(20);
            }
            runner.Kill(entireProcessTree: true);
            runner.WaitForExit();
        }

        // The server rolls back the killed session's transaction once it notices the closed connection.
        var wait = Stopwatch.StartNew();
        while (HoldsExclusiveLock(database) && wait.Elapsed < TimeSpan.FromSeconds(30))
        {
            Thread.Sleep(50);
        }
        Assert.Equal(rows, cluster.Scalar<long>(database, "SELECT count(*) FROM big"));
        var manifest = Path.Combine(archives, "public.big.manifest.json");
        Assert.True(File.Exists(manifest));

        var again = _folder.File("again.ps1");
        File.WriteAllText(again, """
            param($cs, $manifest, $target)
            $r = Remove-DeprecatedTable -Database $cs -Table big -ArchivePath $manifest -Confirm:$false -ErrorAction Stop
            Write-Output "dropped=$($r.Dropped) rows=$($r.RowCount)"
            $i = Import-TableArchive -Path $manifest -Database $target -ErrorAction Stop
            Write-Output "imported=$($i.RowCount)"
            """);
        var target = cluster.CreateDatabase("killdrop_target");
        var (exitCode, stdout, stderr) = RunnerTests.RunRunner(again, "-cs", cluster.ConnectionString(database), "-manifest", manifest,
            "-target", cluster.ConnectionString(target));

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains($"dropped=True rows={rows}", stdout, StringComparison.Ordinal);
        Assert.Contains($"imported={rows}", stdout, StringComparison.Ordinal);
        Assert.False(cluster.Scalar<bool>(database, "SELECT to_regclass('public.big') IS NOT NULL"));
    }

    private bool HoldsExclusiveLock(string database) => cluster.Scalar<long>(database, """
        SELECT count(*) FROM pg_locks l
         WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.relation = to_regclass('public.big')
        """) > 0;
}

/// <summary>examples/phase-cleanup.ps1 under DbOps.Runner: on the sample SQLite database and on PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PhaseCleanupExampleTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string Example => Path.Combine(Path.GetDirectoryName(PowerShellSession.ModuleManifest)!, "..", "..", "examples", "phase-cleanup.ps1");

    [Fact]
    public void The_phase_cleanup_example_drops_the_unused_tables_and_proves_the_survivors_on_SQLite()
    {
        var (exitCode, stdout, stderr) = RunnerTests.RunRunner(Example, "-Folder", _folder.Path);

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("Dropped 2 table(s) (legacy_imports, tmp_migration_2019); 4 table(s) kept", stdout, StringComparison.Ordinal);
        Assert.Contains("kept     activity_instances           6000 rows", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_phase_cleanup_example_runs_against_PostgreSQL()
    {
        var database = cluster.CreateGoalsTracker();
        // Building the sample scanned and wrote every table: start the usage statistics afresh, as after a quiet week.
        cluster.Execute(database, "SELECT pg_stat_reset()");

        var (exitCode, stdout, stderr) = RunnerTests.RunRunner(Example, "-Folder", _folder.Path, "-Database", cluster.ConnectionString(database),
            "-MinimumStatsAge", "00:00:00");

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("kept     public.goals", stdout, StringComparison.Ordinal);
        var summary = stdout.Split('\n').Single(l => l.StartsWith("Dropped ", StringComparison.Ordinal));
        Assert.True(summary.StartsWith("Dropped 2 table(s) (public.legacy_imports, public.tmp_migration_2019)", StringComparison.Ordinal), stdout);
    }
}
