using System.Diagnostics;

namespace DbOps.PowerShell.Tests;

/// <summary>
/// Remove-TableRow killed after its DELETE ran and before its COMMIT, on both engines: the table is whole, the archive of
/// the rows' prior image is intact and loads, and the same command run again completes. Update-TableRow -BatchSize killed
/// after its first batch committed: that batch stays, and the same command run again finishes with the same archive.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RowFixKilledProcessTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private const string Fix = "Remove-TableRow -Database $db -Table legacy_imports -Where 'id <= 100' -Destination $dest -Confirm:$false";

    [Fact]
    public void A_killed_fix_on_SQLite_leaves_the_table_whole_and_the_rerun_completes()
    {
        var path = _folder.File("goals.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, File.ReadAllText(Datasets.Example("goals-tracker.sql")));
        AssertKilledFixRecovers(session, path, _folder.File("check.db"), () => (long)session.SqliteScalar(path, "SELECT count(*) FROM legacy_imports"));
    }

    [Fact]
    public void A_killed_fix_on_PostgreSQL_leaves_the_table_whole_and_the_rerun_completes()
    {
        var database = cluster.CreateGoalsTracker();
        using var session = new PowerShellSession();
        AssertKilledFixRecovers(session, cluster.ConnectionString(database), cluster.ConnectionString(cluster.CreateDatabase("check")), () =>
        {
            // The server rolls the killed session's transaction back once it notices the closed connection.
            var wait = Stopwatch.StartNew();
            while (cluster.Scalar<long>(database, "SELECT count(*) FROM pg_locks WHERE relation = to_regclass('public.legacy_imports') AND granted " +
                                                  "AND mode = 'ShareRowExclusiveLock'") > 0 && wait.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(50);
            }
            return cluster.Scalar<long>(database, "SELECT count(*) FROM legacy_imports");
        });
    }

    private const string BatchedFix = "Update-TableRow -Database $db -Table legacy_imports -Where 'id <= 100' -Set @{ source = \"source || '+'\" } " +
                                      "-BatchSize 30 -Destination $dest -Confirm:$false";

    [Fact]
    public void A_batched_fix_killed_after_a_batch_on_SQLite_is_finished_by_the_rerun_changing_no_row_twice()
    {
        var path = _folder.File("goals.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, File.ReadAllText(Datasets.Example("goals-tracker.sql")));
        AssertKilledBatchedFixResumes(session, path, sql => (long)session.SqliteScalar(path, sql));
    }

    [Fact]
    public void A_batched_fix_killed_after_a_batch_on_PostgreSQL_is_finished_by_the_rerun_changing_no_row_twice()
    {
        var database = cluster.CreateGoalsTracker();
        using var session = new PowerShellSession();
        AssertKilledBatchedFixResumes(session, cluster.ConnectionString(database), sql => cluster.Scalar<long>(database, sql));
    }

    /// <summary>Kills the batched fix after its first batch, then runs it again and undoes it.</summary>
    private void AssertKilledBatchedFixResumes(PowerShellSession session, string db, Func<string, long> count)
    {
        var archives = _folder.File("batched");
        var script = _folder.File("batched.ps1");
        File.WriteAllText(script, $"param($db, $dest) {BatchedFix}\n");
        const string Marked = "SELECT count(*) FROM legacy_imports WHERE source LIKE '%+'";
        const string MarkedOnce = "SELECT count(*) FROM legacy_imports WHERE source LIKE '%+' AND source NOT LIKE '%++' AND id <= 100";

        RemovalKilledProcessTests.KillAtFaultPoint("RowFixBatchCommitted", script, "-db", db, "-dest", archives);

        Assert.Equal(30, count(Marked));
        var manifest = Assert.Single(Directory.GetFiles(archives, "*.manifest.json", SearchOption.AllDirectories));

        var again = session.Run($"$r = {BatchedFix}; \"$($r.RowCount) $($r.Batches) $($r.ArchivePath)\"", new { db, dest = archives });

        Assert.Empty(session.Errors);
        Assert.Equal($"100 4 {manifest}", Assert.Single(again).BaseObject);
        Assert.Equal(100, count(MarkedOnce));
        Assert.Equal(100, count(Marked));
        Assert.Single(Directory.GetFiles(archives, "*.manifest.json", SearchOption.AllDirectories));

        var undone = session.Run("(Import-TableArchive -Path $manifest -Database $db -Mode Upsert).RowCount", new { manifest, db });

        Assert.Empty(session.Errors);
        Assert.Equal(100L, Assert.Single(undone).BaseObject);
        Assert.Equal(0, count(Marked));
    }

    /// <summary>Kills the fix at its fault point, then checks the table, loads the archive into <paramref name="scratch"/>, and runs the fix again.</summary>
    private void AssertKilledFixRecovers(PowerShellSession session, string db, string scratch, Func<long> rows)
    {
        var archives = _folder.File("fixes");
        var script = _folder.File("fix.ps1");
        File.WriteAllText(script, $"param($db, $dest) {Fix}\n");

        RemovalKilledProcessTests.KillAtFaultPoint("RowFixApplied", script, "-db", db, "-dest", archives);

        Assert.Equal(350, rows());
        var manifest = Assert.Single(Directory.GetFiles(archives, "*.manifest.json", SearchOption.AllDirectories));
        var check = session.Run("(Import-TableArchive -Path $manifest -Database $scratch -Confirm:$false).RowCount",
            new { manifest, scratch });
        Assert.Empty(session.Errors);
        Assert.Equal(100L, Assert.Single(check).BaseObject);

        var again = session.Run($"({Fix}).RowCount", new { db, dest = archives });

        Assert.Empty(session.Errors);
        Assert.Equal(100L, Assert.Single(again).BaseObject);
        Assert.Equal(250, rows());
    }
}
