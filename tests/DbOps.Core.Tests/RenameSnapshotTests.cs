using DbOps.Core.Connections;
using DbOps.Core.Progress;
using DbOps.Core.Renames;
using DbOps.Core.Snapshots;

namespace DbOps.Core.Tests;

/// <summary>Compare-DatabaseSnapshot on a renamed table: a rename, not a removal.</summary>
public sealed class RenameSnapshotTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Journal => _folder.File("journal.jsonl");

    private static Task<DatabaseSnapshot> TakeAsync(DbOpsConnection db, bool checksum = false) =>
        SnapshotService.CaptureAsync(new SnapshotRequest(db, Checksum: checksum), NullObserver.Instance, CancellationToken.None);

    private Task<TableRename> RenameAsync(DbOpsConnection db, string table, string newName, bool view = false) =>
        RenameService.RenameAsync(new RenameRequest(db, table, newName) { CompatibilityView = view, JournalPath = Journal }, NullObserver.Instance, CancellationToken.None);

    [Fact]
    public async Task A_journaled_rename_is_a_rename_without_data_loss()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var before = await TakeAsync(db);

        await RenameAsync(db, "legacy_imports", "imports_2019", view: true);
        var comparison = SnapshotComparer.Compare(before, await TakeAsync(db), Journal);

        Assert.False(comparison.DataLoss);
        // SQLite keeps a table's CREATE statement, which now names the new table.
        Assert.Equal(["Table Renamed legacy_imports", "TableDefinition Altered legacy_imports.legacy_imports", "View Added main.legacy_imports"],
            Snapshots.Lines(comparison));
        var renamed = comparison.Differences[0];
        Assert.Equal(("legacy_imports", "imports_2019"), (renamed.Before, renamed.After));
        Assert.Contains("Rename-Table", renamed.Explanation);
        Assert.Equal((0, 0), (comparison.TablesRemoved, comparison.TablesAdded));
    }

    [Fact]
    public async Task A_rename_by_hand_is_recognised_by_identical_shape_and_checksum_and_only_then()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var before = await TakeAsync(db, checksum: true);
        var withoutChecksums = await TakeAsync(db);

        Sqlite.Execute(db.Database, "ALTER TABLE legacy_imports RENAME TO imports_2019");
        var after = await TakeAsync(db, checksum: true);

        var byShape = SnapshotComparer.Compare(before, after, Journal);
        Assert.False(byShape.DataLoss);
        Assert.Equal(["Table Renamed legacy_imports", "TableDefinition Altered legacy_imports.legacy_imports"], Snapshots.Lines(byShape));
        // Without checksums nothing proves it is the same rows: still a removal that lost data.
        var unproved = SnapshotComparer.Compare(withoutChecksums, await TakeAsync(db), Journal);
        Assert.True(unproved.DataLoss);
        Assert.Equal(["Table Added imports_2019", "Table Removed legacy_imports"], Snapshots.Lines(unproved));
    }

    [Fact]
    public async Task Rows_a_renamed_table_lost_are_still_data_loss()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var before = await TakeAsync(db);

        await RenameAsync(db, "legacy_imports", "imports_2019");
        Sqlite.Execute(db.Database, "DELETE FROM imports_2019 WHERE rowid IN (SELECT rowid FROM imports_2019 LIMIT 5)");
        var comparison = SnapshotComparer.Compare(before, await TakeAsync(db), Journal);

        Assert.True(comparison.DataLoss);
        Assert.Equal(["Rows Changed legacy_imports", "Table Renamed legacy_imports", "TableDefinition Altered legacy_imports.legacy_imports"],
            Snapshots.Lines(comparison));
        Assert.Equal(-5, comparison.Differences.Single(d => d.ObjectType == "Rows").RowDelta);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class RenameSnapshotPostgresTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_rename_behind_a_compatibility_view_is_a_rename_without_data_loss()
    {
        var name = cluster.CreateGoalsTracker();
        var db = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(name), null, null, CancellationToken.None);
        var journal = _folder.File("journal.jsonl");
        var before = await SnapshotService.CaptureAsync(new SnapshotRequest(db), NullObserver.Instance, CancellationToken.None);

        await RenameService.RenameAsync(new RenameRequest(db, "legacy_imports", "imports_2019") { CompatibilityView = true, JournalPath = journal },
            NullObserver.Instance, CancellationToken.None);
        var after = await SnapshotService.CaptureAsync(new SnapshotRequest(db), NullObserver.Instance, CancellationToken.None);
        var comparison = SnapshotComparer.Compare(before, after, journal);

        Assert.False(comparison.DataLoss);
        Assert.Contains("Table Renamed legacy_imports", Snapshots.Lines(comparison));
        Assert.Contains("View Added public.legacy_imports", Snapshots.Lines(comparison));
        Assert.DoesNotContain(comparison.Differences, d => d.Change == "Removed" && d.ObjectType == "Table");
    }
}
