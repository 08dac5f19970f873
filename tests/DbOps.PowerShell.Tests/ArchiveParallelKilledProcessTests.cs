namespace DbOps.PowerShell.Tests;

/// <summary>
/// Export-TableArchive -Parallel killed after it finished a range (issue 22): no archive, the finished range kept, and
/// the same command run again resumes from it and publishes an archive that verifies and imports.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ArchiveParallelKilledProcessTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_parallel_export_killed_after_a_range_resumes_from_it_and_finishes_a_correct_archive()
    {
        const long rows = 100_000;
        var database = cluster.CreateDatabase("killparallel");
        cluster.Execute(database, $"CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, {rows}) g");
        var archives = _folder.File("archives");
        var script = _folder.File("export.ps1");
        File.WriteAllText(script, "param($cs, $dest) Export-TableArchive -Database $cs -Table big -Destination $dest -Parallel 2 -Verify -Verbose\n");

        RemovalKilledProcessTests.KillAtFaultPoint("ArchiveRangeFinished", script, "-cs", cluster.ConnectionString(database), "-dest", archives);

        Assert.False(File.Exists(Path.Combine(archives, "public.big.manifest.json")));
        var work = Path.Combine(archives, ".public.big.csv.parts");
        Assert.True(File.Exists(Path.Combine(work, "progress.json")));

        var (exitCode, stdout, stderr) = PwshProcess.Run(script, "-cs", cluster.ConnectionString(database), "-dest", archives);

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Matches(@"Kept [1-7] of 8 ranges from the earlier run", stdout);
        Assert.False(Directory.Exists(work));
        var restore = _folder.File("restore.ps1");
        File.WriteAllText(restore, """
            param($manifest, $target)
            $i = Import-TableArchive -Path $manifest -Database $target -ErrorAction Stop
            Write-Output "imported=$($i.RowCount) verified=$((Get-Content $manifest | ConvertFrom-Json).verifiedAt -ne $null)"
            """);
        var target = cluster.CreateDatabase("killparallel_target");
        var imported = PwshProcess.Run(restore, "-manifest", Path.Combine(archives, "public.big.manifest.json"), "-target", cluster.ConnectionString(target));
        Assert.True(imported.ExitCode == 0, imported.Stdout + imported.Stderr);
        Assert.Contains($"imported={rows} verified=True", imported.Stdout, StringComparison.Ordinal);
        Assert.Equal(cluster.Scalar<string>(database, "SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM big"),
                     cluster.Scalar<string>(target, "SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM big"));
    }
}
