using DbOps.Core.Archive;
using DbOps.Core.Columns;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

public sealed class ColumnRemovalSqliteTests : IDisposable
{
    private const string Setup = """
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, is_mock INTEGER, raw_data TEXT);
        INSERT INTO users VALUES (1, 'ann', 1, '{"a":1}'), (2, 'bob', 0, NULL), (3, 'cy', NULL, x'00ff'), (4, 'di', 1, 'plain'), (5, 'ed', 1, 2.5);
        CREATE INDEX users_is_mock ON users (is_mock);
        CREATE VIEW mocked AS SELECT id FROM users WHERE is_mock = 1;
        CREATE TABLE loose (label TEXT, flag INTEGER);
        INSERT INTO loose VALUES ('a', 1);
        """;

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Archives => _folder.File("archives");

    private Task<DbOpsConnection> CreateAsync(string sql = Setup) => Sqlite.CreateAsync(_folder.File("app.db"), sql);

    private ColumnRemovalRequest Request(DbOpsConnection db, string table, string column, params string[] dependents) =>
        new(db, table, column, Archives, dependents);

    private static Task<ColumnRemoval> RemoveAsync(ColumnRemovalRequest request) =>
        ColumnRemovalService.RemoveAsync(request, NullObserver.Instance, CancellationToken.None);

    private static IReadOnlyList<string> Columns(DbOpsConnection db, string table)
    {
        using var connection = new SqliteConnection($"Data Source={db.Database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM pragma_table_info($t)";
        command.Parameters.AddWithValue("$t", table);
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }
        return names;
    }

    private static Task<TableContent> ContentAsync(DbOpsConnection db, string table, params string[] columns) =>
        TableChecksum.ComputeAsync(db, new TableRef("main", table), columns, CancellationToken.None);

    [Fact]
    public async Task A_column_is_archived_with_its_key_dropped_journaled_and_restored_exactly_by_import()
    {
        var db = await CreateAsync();
        var before = await ContentAsync(db, "users", "id", "raw_data");

        var removal = await RemoveAsync(Request(db, "users", "raw_data"));

        Assert.True(removal.Removed);
        Assert.Equal(before, new TableContent(removal.RowCount!.Value, removal.Checksum!));
        Assert.Equal(["PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 5000", "BEGIN IMMEDIATE", "ALTER TABLE \"users\" DROP COLUMN \"raw_data\"", "COMMIT"],
            removal.Statements);
        Assert.Equal(["id", "name", "is_mock"], Columns(db, "users"));
        var (manifest, _, _) = ArchiveManifest.Load(removal.ArchivePath!);
        Assert.Equal((ArchiveScope.Columns, 2, "id"), (manifest.Scope!.Value, manifest.FormatVersion, Assert.Single(manifest.Key!)));
        Assert.Equal(["id", "raw_data"], manifest.ColumnNames);
        Assert.NotNull(manifest.VerifiedAt);
        var entry = OperationsJournal.Open().Read().Last(e => e.Operation == JournalOperations.ColumnRemoved && e.Database == db.Database);
        Assert.Equal(("users", "raw_data", 5L, before.Checksum, removal.ArchivePath), (entry.Table, entry.Column, entry.Rows!.Value, entry.Checksum, entry.Path));
        Assert.Equal($"Import-TableArchive -Path '{removal.ArchivePath}' -Database '{db.Database}'", entry.Undo);

        var restored = await ArchiveService.ImportAsync(new ArchiveImportRequest(removal.ArchivePath!, db), NullObserver.Instance, CancellationToken.None);

        Assert.Equal((before.Rows, before.Checksum), (restored.RowCount, restored.Checksum));
        Assert.Equal(["id", "name", "is_mock", "raw_data"], Columns(db, "users"));
        Assert.Equal(before, await ContentAsync(db, "users", "id", "raw_data"));
    }

    [Fact]
    public async Task A_column_restore_journals_to_the_journal_it_was_given()
    {
        var db = await CreateAsync();
        var removal = await RemoveAsync(Request(db, "users", "raw_data"));
        var journal = _folder.File("journal.jsonl");

        await ArchiveService.ImportAsync(new ArchiveImportRequest(removal.ArchivePath!, db) { JournalPath = journal }, NullObserver.Instance,
            CancellationToken.None);

        var entry = Assert.Single(OperationsJournal.Open(journal).Read());
        Assert.Equal((JournalOperations.ColumnRestored, removal.ArchivePath), (entry.Operation, entry.Path));
    }

    [Fact]
    public async Task A_column_restore_refuses_a_TargetTable_it_would_ignore()
    {
        var db = await CreateAsync();
        var removal = await RemoveAsync(Request(db, "users", "raw_data"));

        await Assertions.ThrowsDbOps(ErrorIds.ArchiveMismatch, () => ArchiveService.ImportAsync(
            new ArchiveImportRequest(removal.ArchivePath!, db, "other", ArchiveImportMode.Upsert), NullObserver.Instance, CancellationToken.None));
        Assert.Equal(["id", "name", "is_mock"], Columns(db, "users"));
    }

    [Fact]
    public async Task Dependents_refuse_the_drop_unless_named_and_named_ones_go_with_the_column()
    {
        var db = await CreateAsync();
        var before = await ContentAsync(db, "users", "id", "is_mock");

        var refused = await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "users", "is_mock")));
        Assert.Contains("index users_is_mock", refused.Message);
        Assert.Contains("view mocked", refused.Message);
        Assert.Contains("is_mock", Columns(db, "users"));
        Assert.False(Directory.Exists(Archives) && Directory.EnumerateFiles(Archives).Any());

        await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "users", "is_mock", "users_is_mock")));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidSpecification, () => RemoveAsync(Request(db, "users", "is_mock", "users_is_mock", "mocked", "nothing")));

        var removal = await RemoveAsync(Request(db, "users", "is_mock", "users_is_mock", "mocked"));

        Assert.True(removal.Removed);
        Assert.Equal(["DROP INDEX \"users_is_mock\"", "DROP VIEW \"mocked\"", "ALTER TABLE \"users\" DROP COLUMN \"is_mock\""], removal.Statements.Skip(3).SkipLast(1));
        Assert.Equal(["id", "name", "raw_data"], Columns(db, "users"));
        Assert.Equal(before, new TableContent(removal.RowCount!.Value, removal.Checksum!));
    }

    [Fact]
    public async Task A_key_column_and_a_table_without_a_usable_key_are_refused_saying_what_would_work()
    {
        var db = await CreateAsync();

        await Assertions.ThrowsDbOps(ErrorIds.ColumnIsKey, () => RemoveAsync(Request(db, "users", "id")));
        var noKey = await Assertions.ThrowsDbOps(ErrorIds.NoUsableKey, () => RemoveAsync(Request(db, "loose", "flag")));
        Assert.Contains("Add a primary key", noKey.Message);
        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound, () => RemoveAsync(Request(db, "users", "nope")));
        Assert.Equal(["label", "flag"], Columns(db, "loose"));
        Assert.Equal(["id", "name", "is_mock", "raw_data"], Columns(db, "users"));
    }

    [Fact]
    public async Task Values_changed_after_archiving_are_stale_and_a_fresh_archive_lets_the_rerun_finish()
    {
        var db = await CreateAsync();
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(db, "users", Archives, Verify: true,
            Selection: new ArchiveSelection(ArchiveScope.Columns, [], Columns: ["raw_data"])), NullObserver.Instance, CancellationToken.None);
        Assert.True(archive.Verified, archive.VerifyReason);
        Sqlite.Execute(db.Database, "UPDATE users SET raw_data = 'changed' WHERE id = 2");

        var stale = await Assertions.ThrowsDbOps(ErrorIds.ArchiveStale, () => RemoveAsync(Request(db, "users", "raw_data")));

        Assert.Contains(archive.ManifestPath, stale.Message);
        Assert.Contains("raw_data", Columns(db, "users"));
        foreach (var file in Directory.EnumerateFiles(Archives))
        {
            File.Move(file, file + ".old");
        }
        var removal = await RemoveAsync(Request(db, "users", "raw_data"));
        Assert.True(removal.Removed);
    }

    [Fact]
    public async Task A_restore_refuses_a_table_whose_rows_changed_since_and_keeps_nothing()
    {
        var db = await CreateAsync();
        var removal = await RemoveAsync(Request(db, "users", "raw_data"));
        Sqlite.Execute(db.Database, "INSERT INTO users (id, name) VALUES (6, 'new')");

        await Assertions.ThrowsDbOps(ErrorIds.ArchiveVerificationFailed,
            () => ArchiveService.ImportAsync(new ArchiveImportRequest(removal.ArchivePath!, db), NullObserver.Instance, CancellationToken.None));

        Assert.Equal(["id", "name", "is_mock"], Columns(db, "users"));
    }

    [Fact]
    public async Task Hostile_identifiers_are_quoted_through_archive_drop_and_restore()
    {
        const string table = "we\"ird; DROP TABLE users; --";
        const string column = "co\"l]`x";
        var db = await CreateAsync($"""
            CREATE TABLE users (id INTEGER PRIMARY KEY);
            CREATE TABLE "we""ird; DROP TABLE users; --" ("k""ey" TEXT NOT NULL UNIQUE, "co""l]`x" BLOB, keep INTEGER);
            INSERT INTO "we""ird; DROP TABLE users; --" VALUES ('a', x'01', 1), ('b', NULL, 2);
            """);
        var before = await ContentAsync(db, table, "k\"ey", column);

        var removal = await RemoveAsync(Request(db, table, column));

        Assert.True(removal.Removed);
        Assert.Equal(["k\"ey", "keep"], Columns(db, table));
        Assert.Equal(["id"], Columns(db, "users"));
        await ArchiveService.ImportAsync(new ArchiveImportRequest(removal.ArchivePath!, db), NullObserver.Instance, CancellationToken.None);
        Assert.Equal(before, await ContentAsync(db, table, "k\"ey", column));
    }

    [Fact]
    public async Task WhatIf_plans_without_writing_an_archive_or_a_journal_line()
    {
        var db = await CreateAsync();

        var plan = await ColumnRemovalService.PlanAsync(Request(db, "users", "is_mock", "users_is_mock", "mocked"), CancellationToken.None);

        Assert.False(plan.Removed);
        Assert.Equal(["index users_is_mock", "view mocked"], plan.DroppedDependents);
        Assert.False(File.Exists(plan.ArchivePath));
        Assert.Contains("is_mock", Columns(db, "users"));
    }

    [Fact]
    public async Task A_snapshot_comparison_counts_a_dropped_column_with_values_as_data_loss_unless_its_verified_archive_explains_it()
    {
        var db = await CreateAsync();
        Sqlite.Execute(db.Database, "ALTER TABLE users ADD COLUMN blank TEXT");
        var snapshot = new DbOps.Core.Snapshots.SnapshotRequest(db, Checksum: true);
        var before = await DbOps.Core.Snapshots.SnapshotService.CaptureAsync(snapshot, NullObserver.Instance, CancellationToken.None);
        Assert.Equal(4L, before.Tables.Single(t => t.Name == "users").Columns.Single(c => c.Name == "is_mock").NonNull);

        await RemoveAsync(Request(db, "users", "raw_data"));
        Sqlite.Execute(db.Database, "DROP INDEX users_is_mock; DROP VIEW mocked; ALTER TABLE users DROP COLUMN is_mock; ALTER TABLE users DROP COLUMN blank");
        var after = await DbOps.Core.Snapshots.SnapshotService.CaptureAsync(snapshot, NullObserver.Instance, CancellationToken.None);

        var columns = DbOps.Core.Snapshots.SnapshotComparer.Compare(before, after).Differences.Where(d => d.ObjectType == "Column").ToDictionary(d => d.Name);
        Assert.False(columns["raw_data"].DataLoss, columns["raw_data"].Explanation);
        Assert.NotNull(columns["raw_data"].Archive);
        Assert.True(columns["is_mock"].DataLoss, columns["is_mock"].Explanation);
        Assert.Contains("held 4 values", columns["is_mock"].Explanation);
        Assert.False(columns["blank"].DataLoss);
    }

    [Fact]
    public async Task Without_counted_values_a_dropped_column_fails_closed_and_an_old_column_archive_explains_neither_a_later_drop_nor_the_table()
    {
        var db = await CreateAsync();
        await RemoveAsync(Request(db, "users", "raw_data"));
        // The column comes back under the same name and takes new values, then goes without an archive.
        Sqlite.Execute(db.Database, "ALTER TABLE users ADD COLUMN raw_data TEXT; UPDATE users SET raw_data = 'new ' || id");
        var counted = new DbOps.Core.Snapshots.SnapshotRequest(db, Checksum: true);
        var plain = new DbOps.Core.Snapshots.SnapshotRequest(db);
        var before = await DbOps.Core.Snapshots.SnapshotService.CaptureAsync(counted, NullObserver.Instance, CancellationToken.None);
        var beforePlain = await DbOps.Core.Snapshots.SnapshotService.CaptureAsync(plain, NullObserver.Instance, CancellationToken.None);
        Sqlite.Execute(db.Database, "ALTER TABLE users DROP COLUMN raw_data");
        var after = await DbOps.Core.Snapshots.SnapshotService.CaptureAsync(counted, NullObserver.Instance, CancellationToken.None);
        var afterPlain = await DbOps.Core.Snapshots.SnapshotService.CaptureAsync(plain, NullObserver.Instance, CancellationToken.None);

        var stale = DbOps.Core.Snapshots.SnapshotComparer.Compare(before, after).Differences.Single(d => d is { ObjectType: "Column", Name: "raw_data" });
        Assert.True(stale.DataLoss, stale.Explanation);
        var uncounted = DbOps.Core.Snapshots.SnapshotComparer.Compare(beforePlain, afterPlain).Differences.Single(d => d is { ObjectType: "Column", Name: "raw_data" });
        Assert.True(uncounted.DataLoss, uncounted.Explanation);
        Assert.Contains("-Checksum", uncounted.Explanation);

        // The column archive's journal line is about the table too, but it holds a key and one column, not the table.
        Sqlite.Execute(db.Database, "DROP INDEX users_is_mock; DROP VIEW mocked; DROP TABLE users");
        var gone = await DbOps.Core.Snapshots.SnapshotService.CaptureAsync(plain, NullObserver.Instance, CancellationToken.None);
        var table = DbOps.Core.Snapshots.SnapshotComparer.Compare(afterPlain, gone).Differences.Single(d => d is { ObjectType: "Table", Name: "users" });
        Assert.True(table.DataLoss, table.Explanation);
    }
}
