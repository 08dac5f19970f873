using System.Diagnostics;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Removal;
using DbOps.Core.Engines;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

public sealed class RemovalSqliteTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Archives => _folder.File("archives");

    private async Task<TableArchive> ArchiveAsync(DbOpsConnection db, string table, bool verify = true) =>
        await ArchiveService.ExportAsync(new ArchiveExportRequest(db, table, Archives, Verify: verify), NullObserver.Instance, CancellationToken.None);

    private static async Task<IReadOnlyList<TableRemoval>> RemoveAsync(DbOpsConnection db, IOperationObserver? observer = null, TimeSpan? lockTimeout = null,
        params RemovalTarget[] targets) =>
        await RemovalService.RemoveAsync(new RemovalRequest(db, targets, lockTimeout ?? RemovalRequest.DefaultLockTimeout),
            observer ?? NullObserver.Instance, CancellationToken.None);

    private static async Task<TableRemoval> RemoveOneAsync(DbOpsConnection db, string table, string? manifest, TimeSpan? lockTimeout = null) =>
        Assert.Single(await RemoveAsync(db, null, lockTimeout, new RemovalTarget(table, manifest)));

    private static bool Exists(DbOpsConnection db, string table) =>
        Scalar(db.Database, $"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '{table}'") == 1;

    private static long Scalar(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    private static async Task<TableContent> LiveAsync(DbOpsConnection db, string table, TableArchive archive) =>
        await TableChecksum.ComputeAsync(db, new TableRef("main", table), archive.Columns.Select(c => c.Name).ToList(), CancellationToken.None);

    /// <summary>Asserts the refusal and that the table still holds exactly what it held.</summary>
    private static async Task AssertRefusedUntouchedAsync(DbOpsConnection db, string table, TableRemoval removal, string errorId, TableContent before, TableArchive reference)
    {
        Assert.False(removal.Dropped);
        Assert.Equal("Refused", removal.Status);
        Assert.True(removal.ErrorId == errorId, $"Expected {errorId}, got {removal.ErrorId}: {removal.Reason}");
        Assert.True(Exists(db, table));
        Assert.Equal(before, await LiveAsync(db, table, reference));
    }

    [Fact]
    public async Task A_table_dropped_with_a_good_archive_is_restored_exactly_by_import_and_journaled()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var archive = await ArchiveAsync(db, "legacy_imports");
        Assert.True(archive.Verified, archive.VerifyReason);

        var removal = await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath);

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Equal((archive.RowCount, archive.Checksum, archive.ManifestPath), (removal.RowCount!.Value, removal.Checksum, removal.ArchivePath));
        Assert.Equal(["PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 5000", "BEGIN IMMEDIATE", "DROP TABLE \"main\".\"legacy_imports\"", "COMMIT"],
            removal.Statements);
        Assert.False(Exists(db, "legacy_imports"));
        var entry = OperationsJournal.Open().Read().Last(e => e.Operation == JournalOperations.TableRemoved && e.Database == db.Database);
        Assert.Equal(("legacy_imports", archive.RowCount, archive.ManifestPath, archive.Checksum), (entry.Table, entry.Rows!.Value, entry.Path, entry.Checksum));

        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, db), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((archive.RowCount, archive.Checksum), (imported.RowCount, imported.Checksum));
        Assert.Equal(new TableContent(archive.RowCount, archive.Checksum), await LiveAsync(db, "legacy_imports", archive));
    }

    [Fact]
    public async Task An_archive_that_was_not_verified_is_verified_before_the_drop()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var archive = await ArchiveAsync(db, "legacy_imports", verify: false);
        var observer = new RecordingObserver();

        var removal = Assert.Single(await RemoveAsync(db, observer, null, new RemovalTarget("legacy_imports", archive.ManifestPath)));

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Contains(observer.VerboseMessages, m => m.Contains("not verified", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_empty_table_goes_without_an_archive_but_a_table_with_rows_needs_one()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var reference = await ArchiveAsync(db, "legacy_imports");
        var before = await LiveAsync(db, "legacy_imports", reference);

        var empty = await RemoveOneAsync(db, "tmp_migration_2019", null);
        var refused = await RemoveOneAsync(db, "legacy_imports", null);

        Assert.True(empty.Dropped, empty.Reason);
        Assert.Equal(0, empty.RowCount);
        Assert.Null(empty.ArchivePath);
        Assert.False(Exists(db, "tmp_migration_2019"));
        await AssertRefusedUntouchedAsync(db, "legacy_imports", refused, ErrorIds.ArchiveRequired, before, reference);
    }

    [Fact]
    public async Task A_row_inserted_after_archiving_makes_the_archive_stale()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var archive = await ArchiveAsync(db, "legacy_imports");
        Sqlite.Execute(db.Database, "INSERT INTO legacy_imports (source, payload, imported_at) VALUES ('late', '{}', '2026-01-01')");
        var before = await LiveAsync(db, "legacy_imports", archive);

        var removal = await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath);

        await AssertRefusedUntouchedAsync(db, "legacy_imports", removal, ErrorIds.ArchiveStale, before, archive);
        Assert.Equal(archive.RowCount + 1, removal.RowCount);
    }

    [Fact]
    public async Task A_damaged_archive_is_corrupt_and_another_tables_archive_is_a_mismatch()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var archive = await ArchiveAsync(db, "legacy_imports");
        var other = await ArchiveAsync(db, "activity_groups");
        var before = await LiveAsync(db, "legacy_imports", archive);

        var mismatch = await RemoveOneAsync(db, "legacy_imports", other.ManifestPath);
        await AssertRefusedUntouchedAsync(db, "legacy_imports", mismatch, ErrorIds.ArchiveMismatch, before, archive);

        var bytes = await File.ReadAllBytesAsync(archive.DataPath);
        bytes[bytes.Length / 2] ^= 0x20;
        await File.WriteAllBytesAsync(archive.DataPath, bytes);
        var corrupt = await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath);
        await AssertRefusedUntouchedAsync(db, "legacy_imports", corrupt, ErrorIds.ArchiveCorrupt, before, archive);
    }

    [Theory]
    [InlineData(ArchiveFormat.Csv, false)]
    [InlineData(ArchiveFormat.Csv, true)]
    [InlineData(ArchiveFormat.JsonLines, false)]
    public async Task A_resealed_archive_whose_data_file_lost_or_changed_a_row_is_corrupt_and_the_table_stays(ArchiveFormat format, bool deleteRow)
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(db, "legacy_imports", Archives, format, Verify: true),
            NullObserver.Instance, CancellationToken.None);
        Assert.True(archive.Verified, archive.VerifyReason);
        var before = await LiveAsync(db, "legacy_imports", archive);
        // Sizes, SHA-256s and seal all agree with the edited file; the manifest still says verified and matches the live table.
        await ArchiveTampering.EditSecondRowAndResealAsync(archive.ManifestPath, archive.DataPath, deleteRow);

        var removal = await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath);

        await AssertRefusedUntouchedAsync(db, "legacy_imports", removal, ErrorIds.ArchiveCorrupt, before, archive);
    }

    [Fact]
    public async Task An_archive_of_the_same_table_in_another_database_is_a_mismatch()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var copyPath = _folder.File("copy.db");
        File.Copy(db.Database, copyPath);
        var copy = await DatabaseConnector.ConnectSqliteAsync(copyPath, create: false, CancellationToken.None);
        var archiveOfCopy = await ArchiveAsync(copy, "legacy_imports");
        var before = await LiveAsync(db, "legacy_imports", archiveOfCopy);

        var removal = await RemoveOneAsync(db, "legacy_imports", archiveOfCopy.ManifestPath);

        await AssertRefusedUntouchedAsync(db, "legacy_imports", removal, ErrorIds.ArchiveMismatch, before, archiveOfCopy);
    }

    [Theory]
    [InlineData("sessions", "CREATE TABLE unrelated(x)", "activity_instances")]
    [InlineData("legacy_imports", "CREATE VIEW recent_imports AS SELECT * FROM legacy_imports WHERE imported_at > '2021'", "view recent_imports")]
    [InlineData("legacy_imports", "CREATE TRIGGER goals_audit AFTER INSERT ON goals BEGIN INSERT INTO \"legacy_imports\"(source) VALUES ('goal'); END",
                "trigger goals_audit on goals")]
    public async Task Dependents_stop_the_drop_and_are_named(string table, string setupSql, string named)
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, setupSql);
        var archive = await ArchiveAsync(db, table);
        var before = await LiveAsync(db, table, archive);

        var removal = await RemoveOneAsync(db, table, archive.ManifestPath);

        await AssertRefusedUntouchedAsync(db, table, removal, ErrorIds.DependentObjectsExist, before, archive);
        Assert.Contains(named, removal.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_trigger_on_the_table_itself_goes_with_it()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, "CREATE TRIGGER legacy_touch AFTER UPDATE ON legacy_imports BEGIN UPDATE legacy_imports SET source = 'x' WHERE id = new.id; END");
        var archive = await ArchiveAsync(db, "legacy_imports");

        var removal = await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath);

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Equal(0, Scalar(db.Database, "SELECT count(*) FROM sqlite_schema WHERE name = 'legacy_touch'"));
    }

    [Fact]
    public async Task A_writer_holding_a_lock_makes_it_give_up_after_the_lock_timeout()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var archive = await ArchiveAsync(db, "legacy_imports");
        var before = await LiveAsync(db, "legacy_imports", archive);
        await using (var writer = new SqliteConnection($"Data Source={db.Database};Pooling=False"))
        {
            writer.Open();
            await using var begin = writer.CreateCommand();
            begin.CommandText = "BEGIN IMMEDIATE; UPDATE goals SET title = title WHERE id = 1;";
            begin.ExecuteNonQuery();

            var clock = Stopwatch.StartNew();
            var removal = await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath, TimeSpan.FromSeconds(1));
            clock.Stop();

            Assert.Equal(ErrorIds.LockTimeout, removal.ErrorId);
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(8));
            begin.CommandText = "ROLLBACK";
            begin.ExecuteNonQuery();
        }
        Assert.True(Exists(db, "legacy_imports"));
        Assert.Equal(before, await LiveAsync(db, "legacy_imports", archive));
    }

    [Fact]
    public async Task A_batch_of_three_with_one_outside_dependent_drops_two_and_refuses_the_third()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var legacy = await ArchiveAsync(db, "legacy_imports");
        var sessions = await ArchiveAsync(db, "sessions");
        var before = await LiveAsync(db, "sessions", sessions);

        var results = await RemoveAsync(db, null, null,
            new RemovalTarget("sessions", sessions.ManifestPath), new RemovalTarget("legacy_imports", legacy.ManifestPath), new RemovalTarget("tmp_migration_2019", null));

        Assert.Equal(3, results.Count);
        Assert.Equal(["legacy_imports", "tmp_migration_2019"], results.Where(r => r.Dropped).Select(r => r.Table).Order());
        var refused = Assert.Single(results, r => !r.Dropped);
        await AssertRefusedUntouchedAsync(db, "sessions", refused, ErrorIds.DependentObjectsExist, before, sessions);
        Assert.Contains("activity_instances", refused.Reason, StringComparison.Ordinal);
        Assert.False(Exists(db, "legacy_imports"));
        Assert.False(Exists(db, "tmp_migration_2019"));
    }

    [Fact]
    public async Task A_batch_drops_the_referencing_table_before_the_table_it_references()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var sessions = await ArchiveAsync(db, "sessions");
        var instances = await ArchiveAsync(db, "activity_instances");

        var results = await RemoveAsync(db, null, null,
            new RemovalTarget("sessions", sessions.ManifestPath), new RemovalTarget("activity_instances", instances.ManifestPath));

        Assert.Equal(["activity_instances", "sessions"], results.Select(r => r.Table));
        Assert.All(results, r => Assert.True(r.Dropped, r.Reason));
    }

    [Fact]
    public async Task The_plan_lists_the_statements_and_touches_nothing()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var plan = Assert.Single(await RemovalService.PlanAsync(
            new RemovalRequest(db, [new RemovalTarget("legacy_imports", null)], TimeSpan.FromSeconds(2)), CancellationToken.None));

        Assert.Equal("WhatIf", plan.Status);
        Assert.Contains("DROP TABLE \"main\".\"legacy_imports\"", plan.Statements);
        Assert.Contains("PRAGMA busy_timeout = 2000", plan.Statements);
        Assert.True(Exists(db, "legacy_imports"));
    }

    [Fact]
    public async Task A_missing_table_is_refused_with_TableNotFound()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var removal = await RemoveOneAsync(db, "no_such_table", null);

        Assert.Equal(ErrorIds.TableNotFound, removal.ErrorId);
    }

    [Fact]
    public async Task Hostile_names_are_dropped_exactly_and_a_view_naming_one_stops_its_drop()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, """"
            CREATE TABLE "old.imports; DROP TABLE goals; --" (id INTEGER PRIMARY KEY, "we""ird" TEXT);
            INSERT INTO "old.imports; DROP TABLE goals; --" ("we""ird") VALUES ('a'), ('b'), (NULL);
            CREATE TABLE "kept ""one""" (id INTEGER);
            CREATE VIEW kept_view AS SELECT * FROM "kept ""one""";
            """");
        var hostile = new TableRef("main", "old.imports; DROP TABLE goals; --");
        var archive = await ArchiveAsync(db, hostile.ToQuotedName());

        var results = await RemoveAsync(db, null, null, RemovalTarget.For(archive), new RemovalTarget(new TableRef("main", "kept \"one\"").ToQuotedName(), null));

        Assert.True(results.Single(r => r.Table == hostile.Name).Dropped, results[0].Reason);
        var refused = results.Single(r => r.Table == "kept \"one\"");
        Assert.Equal(ErrorIds.DependentObjectsExist, refused.ErrorId);
        Assert.Contains("view kept_view", refused.Reason, StringComparison.Ordinal);
        Assert.False(Exists(db, "old.imports; DROP TABLE goals; --"));
        Assert.True(Exists(db, "kept \"one\""));
        Assert.True(Exists(db, "goals"));

        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, db), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((3L, archive.Checksum), (imported.RowCount, imported.Checksum));
    }

    [Fact]
    public async Task Remove_refuses_when_text_changed_to_bytes_that_are_not_utf8()
    {
        // The archived text is U+FFFD "A", exactly what the bytes FF 41 decode to: only their raw bytes tell them apart.
        var path = _folder.File("utf8.db");
        var db = await Sqlite.CreateAsync(path, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, CAST(x'efbfbd41' AS TEXT));");
        var archive = await ArchiveAsync(db, "t");
        Assert.True(archive.Verified, archive.VerifyReason);
        Sqlite.Execute(path, "UPDATE t SET v = CAST(x'ff41' AS TEXT)");
        var before = await LiveAsync(db, "t", archive);
        Assert.NotEqual(archive.Checksum, before.Checksum);

        var removal = await RemoveOneAsync(db, "t", archive.ManifestPath);

        await AssertRefusedUntouchedAsync(db, "t", removal, ErrorIds.ArchiveStale, before, archive);
    }

    private const string DocsWithFts = """
        CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT);
        INSERT INTO docs VALUES (1, 'hello world'), (2, 'good bye');
        CREATE VIRTUAL TABLE docs_fts USING fts5(body, content='docs', content_rowid='id');
        INSERT INTO docs_fts(docs_fts) VALUES ('rebuild');
        CREATE VIRTUAL TABLE notes USING fts5(body);
        INSERT INTO notes VALUES ('hello notes'), ('good bye');
        """;

    [Fact]
    public async Task Remove_refuses_a_table_that_an_external_content_fts5_table_indexes()
    {
        var db = await Sqlite.CreateAsync(_folder.File("fts.db"), DocsWithFts);
        var archive = await ArchiveAsync(db, "docs");
        var before = await LiveAsync(db, "docs", archive);

        var removal = await RemoveOneAsync(db, "docs", archive.ManifestPath);

        await AssertRefusedUntouchedAsync(db, "docs", removal, ErrorIds.DependentObjectsExist, before, archive);
        Assert.Contains("virtual table docs_fts", removal.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("notes_data")]
    [InlineData("notes_content")]
    [InlineData("docs_fts_idx")]
    public async Task Shadow_tables_of_a_virtual_table_are_not_user_tables_and_are_never_dropped(string shadow)
    {
        var db = await Sqlite.CreateAsync(_folder.File("fts.db"), DocsWithFts);

        var removal = await RemoveOneAsync(db, shadow, null);

        Assert.Equal(ErrorIds.TableNotFound, removal.ErrorId);
        Assert.True(Exists(db, shadow));
        Assert.Equal(1, Scalar(db.Database, "SELECT count(*) FROM notes WHERE notes MATCH 'notes'"));
        var tables = (await SchemaLoader.ReadAsync(db)).Tables.Select(t => t.Table.Name).ToList();
        Assert.Equal(["docs", "docs_fts", "notes"], tables);
    }

    [Fact]
    public async Task A_virtual_table_with_a_verified_archive_is_dropped_with_its_shadow_tables_and_imported_back()
    {
        var db = await Sqlite.CreateAsync(_folder.File("fts.db"), DocsWithFts);
        var archive = await ArchiveAsync(db, "notes");
        Assert.True(archive.Verified, archive.VerifyReason);

        var removal = await RemoveOneAsync(db, "notes", archive.ManifestPath);

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Equal(0, Scalar(db.Database, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'notes%'"));
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, db), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((2L, archive.Checksum), (imported.RowCount, imported.Checksum));
        Assert.Equal(1, Scalar(db.Database, "SELECT count(*) FROM notes WHERE notes MATCH 'notes'"));
    }

    [Fact]
    public async Task Names_that_differ_only_in_non_ascii_case_are_two_tables_and_removal_takes_the_named_one()
    {
        var path = _folder.File("cafe.db");
        var db = await Sqlite.CreateAsync(path, """
            CREATE TABLE "CAFÉ" (id INTEGER PRIMARY KEY, name TEXT);
            INSERT INTO "CAFÉ" VALUES (1, 'live production row');
            CREATE TABLE "café" (id INTEGER PRIMARY KEY, label TEXT);
            """);
        var archive = await ArchiveAsync(db, "\"café\"");
        Assert.Equal(("café", 0L), (archive.Table, archive.RowCount));

        var removal = await RemoveOneAsync(db, "café", null);

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Equal("café", removal.Table);
        Assert.False(Exists(db, "café"));
        Assert.Equal(1, Sqlite.Count(path, "CAFÉ"));
        var refused = await RemoveOneAsync(db, "cafÉ", null);
        Assert.Equal(("CAFÉ", ErrorIds.ArchiveRequired), (refused.Table, refused.ErrorId));
        Assert.Equal(1, Sqlite.Count(path, "CAFÉ"));
    }

    [Fact]
    public async Task DropInboundForeignKeys_is_PostgreSQL_only_so_a_confirmed_SQLite_plan_names_no_foreign_keys()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var archive = await ArchiveAsync(db, "sessions");
        var request = new RemovalRequest(db, [RemovalTarget.For(archive)], RemovalRequest.DefaultLockTimeout, DropInboundForeignKeys: true);
        var plan = Assert.Single(await RemovalService.PlanAsync(request, CancellationToken.None));
        Assert.Empty(plan.DroppedForeignKeys);

        var removal = Assert.Single(await RemovalService.RemoveAsync(request with { Tables = [plan.Target!] }, NullObserver.Instance, CancellationToken.None));

        // Refused for the foreign key itself, which SQLite cannot drop alone, not for a plan that differs from the run.
        Assert.Equal(ErrorIds.DependentObjectsExist, removal.ErrorId);
        Assert.Contains("foreign key activity_instances", removal.Reason, StringComparison.Ordinal);
        Assert.True(Exists(db, "sessions"));
    }
}
