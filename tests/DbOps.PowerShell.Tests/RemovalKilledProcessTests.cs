using System.Diagnostics;

namespace DbOps.PowerShell.Tests;

/// <summary>
/// Remove-DeprecatedTable killed while it holds the table lock (rechecking the rows before the DROP), on both engines:
/// the table is afterwards fully present, never gone without an archive, and the next run drops it with the same archive.
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

        using (var pwsh = Process.Start(PwshProcess.StartInfo(script, "-cs", cluster.ConnectionString(database), "-dest", archives))!)
        {
            pwsh.StandardInput.Close();
            var clock = Stopwatch.StartNew();
            while (!HoldsExclusiveLock(database))
            {
                if (pwsh.HasExited)
                {
                    Assert.Fail($"The removal ended (exit code {pwsh.ExitCode}) before it could be killed: {pwsh.StandardError.ReadToEnd()}");
                }
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "the removal never took the table lock");
                Thread.Sleep(20);
            }
            PwshProcess.KillTree(pwsh);
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
        var (exitCode, stdout, stderr) = PwshProcess.Run(again, "-cs", cluster.ConnectionString(database), "-manifest", manifest,
            "-target", cluster.ConnectionString(target));

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains($"dropped=True rows={rows}", stdout, StringComparison.Ordinal);
        Assert.Contains($"imported={rows}", stdout, StringComparison.Ordinal);
        Assert.False(cluster.Scalar<bool>(database, "SELECT to_regclass('public.big') IS NOT NULL"));
    }

    [Fact]
    public void A_SQLite_removal_killed_under_the_lock_leaves_the_table_whole_and_the_archive_usable()
    {
        const long rows = 1_000_000;
        var path = _folder.File("killdrop.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, $"""
            CREATE TABLE keep(id INTEGER PRIMARY KEY);
            CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) INSERT INTO big SELECT i, hex(randomblob(16)) FROM n;
            """);
        var archives = _folder.File("archives");
        var script = _folder.File("remove-sqlite.ps1");
        File.WriteAllText(script, "param($db, $dest) Export-TableArchive -Database $db -Table big -Destination $dest -Verify | Remove-DeprecatedTable -Confirm:$false -Verbose\n");

        // The removal says when it holds the write lock and starts rechecking the rows; it is killed right then.
        using (var pwsh = Process.Start(PwshProcess.StartInfo(script, "-db", path, "-dest", archives))!)
        {
            pwsh.StandardInput.Close();
            _ = pwsh.StandardError.ReadToEndAsync(); // drained, so pwsh never blocks on a full pipe
            var said = new List<string>();
            // pwsh shows the verbose stream on standard output.
            while (pwsh.StandardOutput.ReadLine() is { } line && !line.Contains("checking it again under the lock", StringComparison.Ordinal))
            {
                said.Add(line);
            }
            Assert.False(pwsh.HasExited, $"The removal ended before it could be killed: {string.Join('\n', said)}");
            PwshProcess.KillTree(pwsh);
        }

        // The next connection rolls the interrupted transaction back from its journal.
        Assert.Equal(rows, (long)session.SqliteScalar(path, "SELECT count(*) FROM big"));

        var manifest = Path.Combine(archives, "big.manifest.json");
        var again = session.Run("""
            $r = Remove-DeprecatedTable -Database $path -Table big -ArchivePath $manifest -Confirm:$false
            $i = Import-TableArchive -Path $manifest -Database $target
            "dropped=$($r.Dropped) rows=$($r.RowCount) imported=$($i.RowCount)"
            """, new { path, manifest, target = _folder.File("restored.db") });
        Assert.Empty(session.Errors);
        Assert.Equal($"dropped=True rows={rows} imported={rows}", Assert.Single(again).BaseObject);
    }

    [Fact]
    public void A_removal_killed_between_its_commit_and_its_journal_line_is_settled_by_the_next_run()
    {
        var path = _folder.File("window.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, """
            CREATE TABLE keep(id INTEGER PRIMARY KEY);
            CREATE TABLE old(id INTEGER PRIMARY KEY, v TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO old SELECT i, hex(randomblob(8)) FROM n;
            """);
        var archives = _folder.File("archives");
        session.Run("$before = Get-DatabaseSnapshot -Database $path -Checksum; $null = Export-TableArchive -Database $path -Table old -Destination $dest -Verify",
            new { path, dest = archives });
        Assert.Empty(session.Errors);
        var manifest = Path.Combine(archives, "old.manifest.json");
        var script = _folder.File("remove-window.ps1");
        File.WriteAllText(script, "param($db, $manifest) Remove-DeprecatedTable -Database $db -Table old -ArchivePath $manifest -Confirm:$false\n");

        // Stopped at the named point: the drop has committed, its outcome line is not written yet. Then killed.
        KillAtFaultPoint("RemovalCommitted", script, "-db", path, "-manifest", manifest);

        List<System.Text.Json.Nodes.JsonNode> Removals() => File.ReadAllLines(Environment.GetEnvironmentVariable("DBOPS_JOURNAL")!)
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!)
            .Where(e => (string?)e["database"] == Path.GetFullPath(path) && ((string?)e["operation"])!.StartsWith("TableRemov", StringComparison.Ordinal))
            .ToList();
        var intent = Assert.Single(Removals());
        Assert.Equal("TableRemovalStarted", (string?)intent["operation"]);
        Assert.Equal(500L, (long?)intent["rows"]);

        // The table is gone; the comparison counts the intent (its archive re-checked), and the next run records the outcome.
        var loss = session.Run("$d = @(Compare-DatabaseSnapshot $before (Get-DatabaseSnapshot -Database $path -Checksum)); " +
                               "\"$(@($d | Where-Object ObjectType -eq Table).Count) $(@($d | Where-Object DataLoss).Count)\"", new { path });
        Assert.Equal("1 0", Assert.Single(loss).BaseObject);
        session.Run("Remove-DeprecatedTable -Database $path -Table old -ArchivePath $manifest -Confirm:$false -ErrorAction SilentlyContinue",
            new { path, manifest });
        var settled = Removals();
        Assert.Equal(["TableRemovalStarted", "TableRemoved"], settled.Select(e => (string?)e["operation"]));
        Assert.Equal((string?)intent["id"], (string?)settled[1]["id"]);
    }

    [Fact]
    public void An_export_killed_between_its_files_and_its_manifest_is_cleaned_up_by_the_rerun()
    {
        var path = _folder.File("export-window.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, "CREATE TABLE old(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO old VALUES (1, 'a'), (2, 'b');");
        var archives = _folder.File("archives");
        var script = _folder.File("export-window.ps1");
        File.WriteAllText(script, "param($db, $dest) Export-TableArchive -Database $db -Table old -Destination $dest\n");

        KillAtFaultPoint("ArchiveFilesRenamed", script, "-db", path, "-dest", archives);
        // Complete-looking files, no manifest: no archive.
        Assert.True(File.Exists(Path.Combine(archives, "old.csv")) && File.Exists(Path.Combine(archives, "old.schema.sql")));
        Assert.False(File.Exists(Path.Combine(archives, "old.manifest.json")));

        var again = session.Run("(Export-TableArchive -Database $path -Table old -Destination $dest -Verify).Status", new { path, dest = archives });

        Assert.Empty(session.Errors);
        Assert.Equal("Verified", Assert.Single(again).BaseObject);
        Assert.Equal(["old.csv", "old.manifest.json", "old.schema.sql"], Directory.GetFiles(archives).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Runs <paramref name="script"/> in pwsh until DbOps reports reaching the named fault point (it then waits there),
    /// and kills it: the process dies exactly at that point of the operation, not wherever a timer lands.
    /// </summary>
    internal static void KillAtFaultPoint(string point, string script, params string[] arguments)
    {
        var start = RunnerTests.RunnerStartInfo(script, arguments);
        start.Environment["DBOPS_TEST_FAULT_POINT"] = point;
        using var runner = Process.Start(start)!;
        runner.StandardInput.Close();
        _ = runner.StandardOutput.ReadToEndAsync();
        var said = new List<string>();
        while (runner.StandardError.ReadLine() is { } line && line != $"DBOPS_TEST_FAULT_POINT={point}")
        {
            said.Add(line);
        }
        Assert.False(runner.HasExited, $"The run ended before the fault point {point}: {string.Join('\n', said)}");
        PwshProcess.KillTree(runner);
    }

    private bool HoldsExclusiveLock(string database) => cluster.Scalar<long>(database, """
        SELECT count(*) FROM pg_locks l
         WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.relation = to_regclass('public.big')
        """) > 0;
}
