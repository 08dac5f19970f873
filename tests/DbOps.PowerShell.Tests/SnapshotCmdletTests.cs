namespace DbOps.PowerShell.Tests;

public sealed class SnapshotCmdletTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    private string GoalsTracker()
    {
        var path = _folder.File("goals.db");
        _session.ExecuteSqlite(path, File.ReadAllText(Datasets.Example("goals-tracker.sql")));
        return path;
    }

    [Fact]
    public void Saved_snapshots_compare_by_path_and_a_lost_row_fails_the_runbook_with_DataLossDetected()
    {
        var db = GoalsTracker();
        var before = _folder.File("before.json");
        var saved = Assert.Single(_session.Run("Get-DatabaseSnapshot -Database $db -Path $before", new { db, before }));
        Assert.Equal(6, saved.Properties["TableCount"].Value);
        _session.ExecuteSqlite(db, "DELETE FROM goals WHERE id = 7; DROP TABLE tmp_migration_2019;");

        var output = _session.Run("""
            $after = Get-DatabaseSnapshot $db
            $all = Compare-DatabaseSnapshot -Before $before -After $after
            $all
            """, new { db, before });

        Assert.Empty(_session.Errors);
        var lines = output.Take(output.Count - 1).Select(d => $"{d.Properties["ObjectType"].Value} {d.Properties["Name"].Value} {d.Properties["DataLoss"].Value}").Order();
        Assert.Equal(["Rows goals True", "Table tmp_migration_2019 False"], lines);
        var summary = output[^1];
        Assert.Equal((true, 1, 1), ((bool)summary.Properties["DataLoss"].Value, (int)summary.Properties["TablesRemoved"].Value, (int)summary.Properties["TablesWithFewerRows"].Value));

        _session.Run("Get-DatabaseSnapshot -Path $before | Compare-DatabaseSnapshot $before -SummaryOnly -FailOnDataLoss", new { before });
        Assert.Empty(_session.Errors);
        _session.Run(
            "Compare-DatabaseSnapshot -Before $before -After (Get-DatabaseSnapshot $db) -FailOnDataLoss", new { before, db });
        Assert.Equal("DataLossDetected,DbOps.PowerShell.Commands.CompareDatabaseSnapshotCommand", Assert.Single(_session.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void Snapshot_tables_and_differences_print_as_tables()
    {
        var db = GoalsTracker();
        _session.Run("""
            $s = Get-DatabaseSnapshot $db
            $s | Out-Default
            $s.Tables | Out-Default
            Compare-DatabaseSnapshot $s $s | Out-Default
            """, new { db });

        var text = PowerShellSession.StripAnsi(_session.Host.Output);
        Assert.Matches(@"Provider\s+TakenAt\s+Tables\s+Rows\s+Estimated\s+Database", text);
        Assert.Matches(@"main\s+activity_instances\s+6000", text);
        Assert.Matches(@"TablesBefore\s+TablesAfter", text);
    }

    [Fact]
    public void A_missing_or_damaged_snapshot_file_is_a_clear_error()
    {
        var bad = _folder.File("bad.json");
        File.WriteAllText(bad, "not json");

        _session.Run("Get-DatabaseSnapshot -Path $bad; Get-DatabaseSnapshot -Path $missing", new { bad, missing = _folder.File("missing.json") });

        Assert.Equal(
            ["SnapshotInvalid,DbOps.PowerShell.Commands.GetDatabaseSnapshotCommand", "FileNotFound,DbOps.PowerShell.Commands.GetDatabaseSnapshotCommand"],
            _session.Errors.Select(e => e.FullyQualifiedErrorId));
    }
}
