using System.Diagnostics;

namespace DbOps.PowerShell.Tests;

/// <summary>
/// A verification killed while it loads its scratch database cannot drop it; the next verification on the server does,
/// and never one that a live run still uses.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ScratchDatabaseKilledProcessTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private long ScratchDatabases() =>
        cluster.Scalar<long>("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dbops\\_verify\\_%'");

    [Fact]
    public void A_scratch_database_left_by_a_killed_verification_is_dropped_by_the_next_one()
    {
        var database = cluster.CreateDatabase("killverify");
        cluster.Execute(database, "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 1000000) g");
        var script = _folder.File("backup.ps1");
        File.WriteAllText(script, "param($cs, $dest) Backup-Database -Database $cs -Destination $dest -Verify\n");
        Assert.Equal(0L, ScratchDatabases());

        using (var runner = Process.Start(RunnerTests.RunnerStartInfo(script, "-cs", cluster.ConnectionString(database), "-dest", _folder.File("b1")))!)
        {
            runner.StandardInput.Close();
            var clock = Stopwatch.StartNew();
            while (cluster.Scalar<long>("postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'dbops\\_verify\\_%' AND query ILIKE 'COPY %'") == 0)
            {
                if (runner.HasExited)
                {
                    Assert.Fail($"The backup ended (exit code {runner.ExitCode}) before it could be killed: {runner.StandardError.ReadToEnd()}");
                }
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "the verification never loaded its scratch database");
                Thread.Sleep(10);
            }
            // The runner and its pg_restore: nothing of the run survives to clean up.
            PwshProcess.KillTree(runner);
        }
        Assert.Equal(1L, ScratchDatabases());

        using var session = new PowerShellSession();
        var result = session.Run("Backup-Database -Database $cs -Destination $dest -Verify -Verbose",
            new { cs = cluster.ConnectionString(database), dest = _folder.File("b2") }).Single();

        Assert.Equal(true, result.Properties["Verified"].Value);
        Assert.Equal(0L, ScratchDatabases());
        Assert.Contains(session.Verbose, v => v.Contains("left behind by a verification", StringComparison.Ordinal));
    }
}
