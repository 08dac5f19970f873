namespace DbOps.PowerShell.Tests;

/// <summary>
/// Copy-TableData killed between two batches (at the CopyBatchCommitted fault point): the committed batch stays, and the
/// same copy run again finishes the job without duplicating a row.
/// </summary>
public sealed class CopyKilledProcessTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    // Batches of 20: the rerun finds the first 20 rows and copies the 30 left.
    [InlineData(50, "-BatchSize 20", 20, "-BatchSize 20", "copied=30 present=20 verdict=Equal batches=3")]
    // Batches sized by time: the first takes 10,000 rows. The rerun's batches of 7,000 end elsewhere: its second
    // (7,001..14,000) straddles the killed run's last committed key, so it finds 3,000 of its rows and copies 4,000.
    [InlineData(25_000, "-BatchTime 0.001", 10_000, "-BatchSize 7000", "copied=15000 present=10000 verdict=Equal batches=4")]
    public void A_copy_killed_after_its_first_batch_is_finished_by_the_rerun_without_duplicates(
        int rows, string batches, long committed, string rerunBatches, string expected)
    {
        var path = _folder.File("copy-killed.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, $"""
            CREATE TABLE old_rows(id INTEGER PRIMARY KEY, v TEXT NOT NULL);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) INSERT INTO old_rows SELECT i, 'v' || i FROM n;
            CREATE TABLE new_rows(id INTEGER PRIMARY KEY, value TEXT NOT NULL);
            """);
        const string copy = "Copy-TableData -Source old_rows -Target new_rows -Key id -Map @{ v = 'value' } -Confirm:$false";
        var script = _folder.File("copy.ps1");
        File.WriteAllText(script, $"param($db) {copy} -Database $db {batches}\n");

        RemovalKilledProcessTests.KillAtFaultPoint("CopyBatchCommitted", script, "-db", path);
        Assert.Equal(committed, (long)session.SqliteScalar(path, "SELECT count(*) FROM new_rows"));

        var rerun = session.Run($$"""
            $r = {{copy}} -Database $path {{rerunBatches}} -Verify
            "copied=$($r.Copied) present=$($r.AlreadyPresent) verdict=$($r.Comparison.Verdict) batches=$($r.Batches)"
            """, new { path });

        Assert.Empty(session.Errors);
        Assert.Equal(expected, Assert.Single(rerun).BaseObject);
        Assert.Equal(((long)rows, (long)rows), ((long)session.SqliteScalar(path, "SELECT count(*) FROM new_rows"),
            (long)session.SqliteScalar(path, "SELECT count(*) FROM new_rows n JOIN old_rows o ON o.id = n.id AND o.v = n.value")));
    }

    /// <summary>
    /// 50 source rows and a target holding ids 5 and 30 with other values, and the script of a copy that overwrites them in
    /// batches of 20 (id 5 in batch 1, id 30 in batch 2), keeping their prior image in the returned folder.
    /// </summary>
    private (string Path, string Prior, string Script) UpdateCopy(PowerShellSession session, string name)
    {
        var path = _folder.File(name);
        session.ExecuteSqlite(path, """
            CREATE TABLE old_rows(id INTEGER PRIMARY KEY, v TEXT NOT NULL);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) INSERT INTO old_rows SELECT i, 'v' || i FROM n;
            CREATE TABLE new_rows(id INTEGER PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO new_rows VALUES (5, 'old 5'), (30, 'old 30');
            """);
        var script = _folder.File(name + ".ps1");
        File.WriteAllText(script, "param($db, $prior) Copy-TableData -Database $db -Source old_rows -Target new_rows -Key id -Map @{ v = 'value' } " +
            "-OnConflict Update -Destination $prior -BatchSize 20 -Confirm:$false\n");
        return (path, _folder.File("prior"), script);
    }

    /// <summary>Runs <see cref="UpdateCopy"/>'s copy again to the end with -Verify, then its undo line; what the rerun reported.</summary>
    private static string RerunAndUndo(PowerShellSession session, string path, string prior)
    {
        var rerun = session.Run("""
            $r = Copy-TableData -Database $path -Source old_rows -Target new_rows -Key id -Map @{ v = 'value' } -OnConflict Update -Destination $prior -BatchSize 20 -Verify -Confirm:$false
            "updated=$($r.Updated) archived=$($r.PriorImageRows) folders=$(@(Get-ChildItem $prior -Directory).Count) verdict=$($r.Comparison.Verdict)"
            $null = Invoke-Expression "$($r.Undo) -Confirm:`$false"
            """, new { path, prior });
        Assert.Empty(session.Errors);
        return (string)Assert.Single(rerun).BaseObject;
    }

    [Fact]
    public void A_copy_with_update_killed_between_batches_is_finished_by_the_rerun_with_its_first_prior_image_and_undone_whole()
    {
        using var session = new PowerShellSession();
        var (path, prior, script) = UpdateCopy(session, "copy-update-killed.db");

        // Killed once batch 1 (ids 1-20, overwriting id 5) has committed; batch 2 would overwrite id 30.
        RemovalKilledProcessTests.KillAtFaultPoint("CopyBatchCommitted", script, "-db", path, "-prior", prior);
        Assert.Equal("v5", session.SqliteScalar(path, "SELECT value FROM new_rows WHERE id = 5"));

        var rerun = RerunAndUndo(session, path, prior);

        Assert.Equal("updated=1 archived=2 folders=1 verdict=Equal", rerun);
        Assert.Equal(50L, (long)session.SqliteScalar(path, "SELECT count(*) FROM new_rows"));
        Assert.Equal("old 5|old 30", session.SqliteScalar(path, "SELECT group_concat(value, '|') FROM (SELECT value FROM new_rows WHERE id IN (5, 30) ORDER BY id)"));
    }

    [Fact]
    public void A_copy_killed_after_recording_a_batch_before_its_commit_is_finished_by_the_rerun_and_undone_whole()
    {
        using var session = new PowerShellSession();
        var (path, prior, script) = UpdateCopy(session, "copy-record-killed.db");

        // Killed once batch 1 has overwritten id 5 and written the record counting it, before its COMMIT: the batch never happened.
        RemovalKilledProcessTests.KillAtFaultPoint("CopyAfterImageWritten", script, "-db", path, "-prior", prior);
        Assert.Equal("old 5", session.SqliteScalar(path, "SELECT value FROM new_rows WHERE id = 5"));
        var manifest = Directory.GetFiles(Assert.Single(Directory.GetDirectories(prior)), "*.manifest.json").Single();
        Assert.True(File.Exists(manifest.Replace(".manifest.json", ".after.json", StringComparison.Ordinal)));

        var rerun = RerunAndUndo(session, path, prior);

        Assert.Equal("updated=2 archived=2 folders=1 verdict=Equal", rerun);
        Assert.Equal("old 5|old 30", session.SqliteScalar(path, "SELECT group_concat(value, '|') FROM (SELECT value FROM new_rows WHERE id IN (5, 30) ORDER BY id)"));
    }
}
