using DbOps.Core.Archive;
using System.Text.Json.Nodes;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Moves;
using DbOps.Core.Progress;
using DbOps.Core.Snapshots;

namespace DbOps.Core.Tests;

/// <summary>Compare-TableData and Copy-TableData on one engine; the SQLite and PostgreSQL classes below run them all.</summary>
public abstract class MovesTests : IDisposable
{
    protected readonly TempFolder Folder = new();

    public void Dispose() => Folder.Dispose();

    /// <summary>A new database holding <paramref name="sql"/> (standard SQL both engines run).</summary>
    protected abstract Task<DbOpsConnection> CreateAsync(string sql);

    protected abstract long Count(DbOpsConnection db, string sql);

    protected abstract void Execute(DbOpsConnection db, string sql);

    /// <summary>
    /// The legacy table and its consolidated successor: renamed columns, a status derived from two flags, id 3 already in
    /// the target with another file size, id 9 in the target only, and 1.50 = 1.5 in a numeric column.
    /// </summary>
    protected const string Legacy = """
        CREATE TABLE v3_data_imports(id INTEGER PRIMARY KEY, source_filename TEXT NOT NULL, file_size_bytes INTEGER, user_id INTEGER,
            is_approved BOOLEAN NOT NULL, is_rejected BOOLEAN NOT NULL, amount NUMERIC(10,2));
        INSERT INTO v3_data_imports VALUES (1, 'a.csv', 100, 7, TRUE, FALSE, 1.50), (2, 'b.csv', 200, 7, FALSE, TRUE, 2),
            (3, 'c.csv', 300, 8, FALSE, FALSE, 3), (4, 'd.csv', NULL, 8, TRUE, FALSE, NULL), (5, 'e.csv', 500, 9, FALSE, FALSE, 5.25);
        CREATE TABLE data_imports(id INTEGER PRIMARY KEY, filename VARCHAR(200) NOT NULL, file_size BIGINT, imported_by INTEGER,
            status TEXT NOT NULL, amount NUMERIC(12,3));
        INSERT INTO data_imports VALUES (3, 'c.csv', 333, 8, 'pending', 3.000), (9, 'orphan.csv', 1, 1, 'approved', NULL);
        """;

    protected const string Status = "CASE WHEN is_approved THEN 'approved' WHEN is_rejected THEN 'rejected' ELSE 'pending' END";

    protected static TableMap Map(DbOpsConnection db, string? where = null) => new()
    {
        Source = db,
        SourceTable = "v3_data_imports",
        TargetTable = "data_imports",
        Keys = [new KeyPair("id", "id")],
        Map = [new("source_filename", "filename"), new("file_size_bytes", "file_size"), new("user_id", "imported_by")],
        Expressions = [new("status", Status)],
        Where = where,
    };

    private static Task<TableComparison> CompareAsync(TableMap map) => TableComparer.CompareAsync(map, NullObserver.Instance, CancellationToken.None);

    protected static Task<CopyResult> CopyAsync(TableMap map, ConflictAction onConflict = ConflictAction.Skip, int batchSize = 2, bool verify = true) =>
        TableCopier.CopyAsync(new CopyRequest(map, onConflict, batchSize, Verify: verify), NullObserver.Instance, CancellationToken.None);

    [Fact]
    public async Task Compare_flags_exactly_the_missing_changed_and_extra_rows_and_names_the_changed_column()
    {
        var db = await CreateAsync(Legacy);

        var result = await CompareAsync(Map(db));

        Assert.Equal((5L, 2L, 0L, 4L, 1L, 1L), (result.SourceRows, result.TargetRows, result.Matched, result.Missing, result.Changed, result.Extra));
        Assert.Equal(["1", "2", "4", "5"], result.MissingSamples);
        Assert.Equal("3", Assert.Single(result.ChangedSamples).Key);
        Assert.Equal(["file_size"], result.ChangedSamples[0].Columns); // amount 3 = 3.000 and status pending agree
        Assert.Equal(["9"], result.ExtraSamples);
        Assert.Equal(ComparisonVerdict.Differs, result.Verdict);
        // The listing SQL returns exactly the counted rows.
        Assert.Equal(4, Count(db, $"SELECT count(*) FROM ({result.MissingSql}) AS x"));
        Assert.Equal(1, Count(db, $"SELECT count(*) FROM ({result.ChangedSql}) AS x"));
        Assert.Equal(1, Count(db, $"SELECT count(*) FROM ({result.ExtraSql}) AS x"));
    }

    [Fact]
    public async Task Where_limits_the_source()
    {
        var db = await CreateAsync(Legacy);

        var result = await CompareAsync(Map(db, "user_id = 8 AND id <> 3"));

        Assert.Equal((1L, 1L), (result.SourceRows, result.Missing));
        Assert.Equal(["4"], result.MissingSamples);
    }

    [Fact]
    public async Task Copy_with_update_then_verify_leaves_the_source_contained_and_journals_one_entry()
    {
        var db = await CreateAsync(Legacy);

        var result = await CopyAsync(Map(db), ConflictAction.Update);

        Assert.Equal((4L, 0L, 1L, 1L), (result.Copied, result.AlreadyPresent, result.Conflicting, result.Updated));
        Assert.Equal(3, result.Batches);
        Assert.Equal(["1", "2", "4", "5"], result.CopiedSamples);
        Assert.Equal(ComparisonVerdict.Contained, result.Comparison!.Verdict);
        Assert.Equal(6, Count(db, "SELECT count(*) FROM data_imports"));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 2 AND status = 'rejected' AND filename = 'b.csv' AND imported_by = 7"));
        var entry = JournalEntries(db).Single();
        Assert.Equal(4L, (long?)entry["rows"]);
        Assert.EndsWith(".data_imports", (string?)entry["target"], StringComparison.Ordinal);
        Assert.Equal("v3_data_imports", (string?)entry["table"]);
        Assert.True((bool?)entry["verified"]);
        Assert.StartsWith("xxh128sum-v1:", (string?)entry["checksum"], StringComparison.Ordinal);
        Assert.Equal(1.0, (double?)entry["figures"]!["updated"]);
    }

    [Fact]
    public async Task Skip_leaves_a_conflicting_row_and_reports_it_and_the_comparison_differs()
    {
        var db = await CreateAsync(Legacy);

        var result = await CopyAsync(Map(db));

        Assert.Equal((4L, 1L, 1L), (result.Copied, result.Conflicting, result.Skipped));
        Assert.Equal("3", Assert.Single(result.ConflictSamples).Key);
        Assert.Equal(ComparisonVerdict.Differs, result.Comparison!.Verdict);
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 333"));
        Assert.False((bool?)JournalEntries(db).Single()["verified"]);
    }

    [Fact]
    public async Task Fail_rolls_back_the_batch_that_meets_a_conflict_and_a_rerun_resumes_without_duplicates()
    {
        var db = await CreateAsync(Legacy);

        var error = await Assertions.ThrowsDbOps(ErrorIds.MoveConflict, () => CopyAsync(Map(db), ConflictAction.Fail));
        Assert.Contains("file_size", error.Message, StringComparison.Ordinal);
        // Batch 1 (ids 1, 2) committed; batch 2 (ids 3, 4) met id 3 and was rolled back.
        Assert.Equal(4, Count(db, "SELECT count(*) FROM data_imports"));
        // The journal records the rows that stay copied, so it matches the database.
        var partial = JournalEntries(db).Single();
        Assert.Equal(("Partial", 2L), ((string?)partial["outcome"], (long?)partial["rows"]));

        var rerun = await CopyAsync(Map(db), ConflictAction.Update);

        Assert.Equal((2L, 2L, 1L), (rerun.Copied, rerun.AlreadyPresent, rerun.Updated));
        Assert.Equal(6, Count(db, "SELECT count(*) FROM data_imports"));
        Assert.Equal(ComparisonVerdict.Contained, rerun.Comparison!.Verdict);
    }

    [Fact]
    public async Task Parallel_with_update_copies_over_one_connection_with_a_warning_and_the_same_result()
    {
        var db = await CreateAsync(Legacy);
        var observer = new RecordingObserver();

        var result = await TableCopier.CopyAsync(new CopyRequest(Map(db), ConflictAction.Update, 2, Verify: true) { Parallel = 4 }, observer, CancellationToken.None);

        Assert.Contains(observer.Warnings, w => w.StartsWith("The copy runs over one connection, not 4", StringComparison.Ordinal));
        Assert.Equal((4L, 1L, 3), (result.Copied, result.Updated, result.Batches));
        Assert.Equal(ComparisonVerdict.Contained, result.Comparison!.Verdict);
    }

    [Fact]
    public async Task Plan_prints_the_statements_of_a_batch_and_writes_nothing()
    {
        var db = await CreateAsync(Legacy);

        var statements = await TableCopier.PlanAsync(new CopyRequest(Map(db), ConflictAction.Update), CancellationToken.None);

        Assert.Contains(statements, s => s.StartsWith("INSERT INTO", StringComparison.Ordinal));
        Assert.Contains(statements, s => s.StartsWith("UPDATE", StringComparison.Ordinal));
        Assert.Equal("COMMIT", statements[^1]);
        Assert.Equal(2, Count(db, "SELECT count(*) FROM data_imports"));
    }

    [Fact]
    public async Task A_composite_key_with_other_names_on_each_side_pairs_rows()
    {
        var db = await CreateAsync("""
            CREATE TABLE old_scores(run_no INTEGER NOT NULL, phase_name TEXT NOT NULL, score INTEGER, PRIMARY KEY (run_no, phase_name));
            INSERT INTO old_scores VALUES (1, 'dns', 5), (1, 'http', 6), (2, 'dns', 7);
            CREATE TABLE scores(run_id INTEGER NOT NULL, phase TEXT NOT NULL, score INTEGER, PRIMARY KEY (run_id, phase));
            """);
        var map = new TableMap { Source = db, SourceTable = "old_scores", TargetTable = "scores", Keys = [new("run_no", "run_id"), new("phase_name", "phase")] };

        var copy = await CopyAsync(map);
        var again = await CopyAsync(map);

        Assert.Equal(3L, copy.Copied);
        Assert.Equal((0L, 3L), (again.Copied, again.AlreadyPresent));
        Assert.Equal(ComparisonVerdict.Equal, again.Comparison!.Verdict);
        Assert.Equal(3, Count(db, "SELECT count(*) FROM scores"));
    }

    [Fact]
    public async Task A_renamed_composite_key_copies_batch_by_batch_with_rows_already_in_the_target_on_each_side_of_the_batches()
    {
        // Batches of 2 end inside a run (at (1, 2) and (2, 1)); target rows lie inside batches and before and after them all.
        var db = await CreateAsync("""
            CREATE TABLE old_steps(run_no INTEGER NOT NULL, step_no INTEGER NOT NULL, phase TEXT, PRIMARY KEY (run_no, step_no));
            INSERT INTO old_steps VALUES (1, 1, 'a'), (1, 2, 'b'), (1, 3, 'c'), (2, 1, 'd'), (2, 2, 'e'), (3, 1, 'f');
            CREATE TABLE steps(run_id INTEGER NOT NULL, step INTEGER NOT NULL, label TEXT, PRIMARY KEY (run_id, step));
            INSERT INTO steps VALUES (0, 9, 'before'), (1, 3, 'c'), (2, 2, 'other'), (4, 1, 'after');
            """);
        var map = new TableMap
        {
            Source = db, SourceTable = "old_steps", TargetTable = "steps", Keys = [new("run_no", "run_id"), new("step_no", "step")], Map = [new("phase", "label")],
        };

        var skip = await CopyAsync(map);
        var update = await UpdateAsync(map);

        Assert.Equal((4L, 1L, 1L), (skip.Copied, skip.AlreadyPresent, skip.Conflicting));
        Assert.Equal(["(1, 1)", "(1, 2)", "(2, 1)", "(3, 1)"], skip.CopiedSamples);
        Assert.Equal(("(2, 2)", "label"), (Assert.Single(skip.ConflictSamples).Key, Assert.Single(skip.ConflictSamples[0].Columns)));
        Assert.Equal((0L, 5L, 1L, 1L), (update.Copied, update.AlreadyPresent, update.Conflicting, update.Updated));
        Assert.Equal((ComparisonVerdict.Contained, 6L, 2L), (update.Comparison!.Verdict, update.Comparison.Matched, update.Comparison.Extra));
        Assert.Equal(8, Count(db, "SELECT count(*) FROM steps"));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM steps WHERE run_id = 2 AND step = 2 AND label = 'e'"));
        // The record of what batch 2 left, kept under the composite key, lets the undo put the overwritten label back.
        await UndoAsync(db, update);
        Assert.Equal(1, Count(db, "SELECT count(*) FROM steps WHERE run_id = 2 AND step = 2 AND label = 'other'"));
    }

    [Fact]
    public async Task Comparing_in_one_database_counts_every_difference_and_samples_the_first_ten_of_each_kind_by_key()
    {
        // Run 1 is missing 15 phases in the target, run 2 has 12 changed, run 3 exists only in the target (11 phases).
        var db = await CreateAsync("""
            CREATE TABLE old_scores(run_no INTEGER NOT NULL, phase_name TEXT NOT NULL, score INTEGER, PRIMARY KEY (run_no, phase_name));
            CREATE TABLE scores(run_id INTEGER NOT NULL, phase TEXT NOT NULL, score INTEGER, PRIMARY KEY (run_id, phase));
            INSERT INTO old_scores WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 24) SELECT 1, 'p' || i, i FROM n;
            INSERT INTO old_scores WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 21) SELECT 2, 'p' || i, i FROM n;
            INSERT INTO scores SELECT run_no, phase_name, score + 1 FROM old_scores WHERE run_no = 2;
            INSERT INTO scores WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i + 1 FROM n WHERE i < 20) SELECT 3, 'p' || i, i FROM n;
            """);

        var result = await CompareAsync(new TableMap { Source = db, SourceTable = "old_scores", TargetTable = "scores", Keys = [new("run_no", "run_id"), new("phase_name", "phase")] });

        Assert.Equal((27L, 23L, 0L, 15L, 12L, 11L), (result.SourceRows, result.TargetRows, result.Matched, result.Missing, result.Changed, result.Extra));
        Assert.Equal(Enumerable.Range(10, 10).Select(i => $"(1, p{i})"), result.MissingSamples);
        Assert.Equal(Enumerable.Range(10, 10).Select(i => $"(2, p{i})"), result.ChangedSamples.Select(c => c.Key));
        Assert.All(result.ChangedSamples, c => Assert.Equal(["score"], c.Columns));
        Assert.Equal(Enumerable.Range(10, 10).Select(i => $"(3, p{i})"), result.ExtraSamples);
        Assert.Equal(12L, Assert.Single(result.ChangedColumns, c => c.Key == "score").Value);
    }

    [Fact]
    public async Task Hostile_identifiers_are_quoted_never_spliced()
    {
        const string table = "x\"; DROP TABLE keep; --";
        var db = await CreateAsync("""
            CREATE TABLE keep(id INTEGER PRIMARY KEY);
            CREATE TABLE "x""; DROP TABLE keep; --"("i""d" INTEGER PRIMARY KEY, "v'al" TEXT);
            INSERT INTO "x""; DROP TABLE keep; --" VALUES (1, 'a');
            CREATE TABLE "y""; DELETE FROM keep; --"("i""d" INTEGER PRIMARY KEY, "v'al" TEXT);
            """);
        var map = new TableMap { Source = db, SourceTable = table, TargetTable = "y\"; DELETE FROM keep; --", Keys = [new("i\"d", "i\"d")] };

        var result = await CopyAsync(map);

        Assert.Equal(1L, result.Copied);
        Assert.Equal(ComparisonVerdict.Equal, result.Comparison!.Verdict);
        Assert.Equal(0, Count(db, "SELECT count(*) FROM keep"));
    }

    [Fact]
    public async Task Update_keeps_and_puts_back_the_prior_image_of_names_holding_a_dollar_or_a_backslash()
    {
        var db = await CreateAsync("""
            CREATE TABLE "src$1"("i$d" INTEGER PRIMARY KEY, "v\al" TEXT);
            INSERT INTO "src$1" VALUES (1, 'new'), (2, 'b');
            CREATE TABLE "dst$1"("i$d" INTEGER PRIMARY KEY, "v\al" TEXT);
            INSERT INTO "dst$1" VALUES (1, 'old');
            """);
        var map = new TableMap { Source = db, SourceTable = "src$1", TargetTable = "dst$1", Keys = [new("i$d", "i$d")] };

        var result = await UpdateAsync(map);

        Assert.Equal((1L, 1L, 1L), (result.Copied, result.Updated, result.PriorImageRows));
        await UndoAsync(db, result);
        Assert.Equal(1, Count(db, "SELECT count(*) FROM \"dst$1\" WHERE \"i$d\" = 1 AND \"v\\al\" = 'old'"));
    }

    [Fact]
    public async Task A_snapshot_comparison_counts_the_drop_of_a_moved_and_archived_table_as_explained_while_the_copy_is_current()
    {
        var db = await CreateAsync(Legacy + "CREATE TABLE v3_other(id INTEGER PRIMARY KEY, source_filename TEXT NOT NULL); INSERT INTO v3_other VALUES (1, 'a.csv');");
        var before = await SnapshotAsync(db);
        await CopyAsync(Map(db), ConflictAction.Update);
        await CopyAsync(new TableMap { Source = db, SourceTable = "v3_other", TargetTable = "data_imports", Keys = [new("id", "id")], Map = [new("source_filename", "filename")],
            Expressions = [new("status", "'pending'")] }, ConflictAction.Skip);
        Execute(db, "INSERT INTO v3_other VALUES (2, 'later.csv')"); // after its copy: that copy no longer proves this table
        var archives = Folder.File("archives");
        foreach (var table in new[] { "v3_data_imports", "v3_other" })
        {
            await ArchiveService.ExportAsync(new ArchiveExportRequest(db, table, archives), NullObserver.Instance, CancellationToken.None);
        }
        var current = await SnapshotAsync(db);
        Execute(db, "DROP TABLE v3_data_imports");
        Execute(db, "DROP TABLE v3_other");

        var moved = SnapshotComparer.Compare(before, await SnapshotAsync(db)).Differences.Single(d => d is { ObjectType: "Table", Name: "v3_data_imports" });
        var changed = SnapshotComparer.Compare(current, await SnapshotAsync(db)).Differences.Single(d => d is { ObjectType: "Table", Name: "v3_other" });

        Assert.False(moved.DataLoss, moved.Explanation);
        Assert.Contains("moved into", moved.Explanation, StringComparison.Ordinal);
        Assert.True(changed.DataLoss, changed.Explanation);
    }

    // -OnConflict Update keeps what it overwrites: a verified prior image first, checked under each batch, undone exactly.

    private Task<CopyResult> UpdateAsync(TableMap map, IOperationObserver? observer = null, CancellationToken cancellationToken = default) =>
        TableCopier.CopyAsync(new CopyRequest(map, ConflictAction.Update, BatchSize: 2, Verify: true, PriorImageFolder: Folder.File("prior")),
            observer ?? NullObserver.Instance, cancellationToken);

    private static Task UndoAsync(DbOpsConnection db, CopyResult copy) => ArchiveService.ImportAsync(
        new ArchiveImportRequest(copy.PriorImagePath!, db, Mode: ArchiveImportMode.Upsert), NullObserver.Instance, CancellationToken.None);

    private static string? ChecksumOf(DatabaseSnapshot snapshot, string table) => snapshot.Tables.Single(t => t.Name == table).Checksum;

    [Fact]
    public async Task Update_archives_the_rows_it_overwrites_first_and_its_undo_line_puts_back_exactly_their_old_values()
    {
        var db = await CreateAsync(Legacy);
        var before = await SnapshotAsync(db);
        var preview = await TableCopier.PreviewAsync(new CopyRequest(Map(db), ConflictAction.Update), CancellationToken.None);

        var copy = await UpdateAsync(Map(db));

        Assert.Equal(1L, preview.Overwrites);
        Assert.Equal((1L, 1L), (copy.Updated, copy.PriorImageRows));
        var (manifest, _, _) = ArchiveManifest.Load(copy.PriorImagePath!);
        Assert.Equal((ArchiveScope.Rows, 1L), (manifest.Scope, manifest.RowCount));
        Assert.NotNull(manifest.VerifiedAt);
        var entry = JournalEntries(db).Single();
        Assert.Equal((copy.PriorImagePath, copy.PriorImageSha256, copy.Undo), ((string?)entry["path"], (string?)entry["sha256"], (string?)entry["undo"]));
        Assert.Equal(1.0, (double?)entry["figures"]!["priorImageRows"]);
        Assert.Contains("-Mode Upsert", copy.Undo, StringComparison.Ordinal);
        Assert.Contains("does not remove the 4 row(s) the copy inserted (keys 1, 2, 4, 5)", copy.UndoNote, StringComparison.Ordinal);
        // The snapshot comparison names the prior image on the target's change, which is no loss.
        var grown = SnapshotComparer.Compare(before, await SnapshotAsync(db)).Differences.Single(d => d is { ObjectType: "Rows", Name: "data_imports" });
        Assert.False(grown.DataLoss);
        Assert.Equal(copy.PriorImagePath, grown.Archive);

        await UndoAsync(db, copy);
        Execute(db, "DELETE FROM data_imports WHERE id IN (1, 2, 4, 5)"); // what the undo does not cover, as its note says

        Assert.Equal(ChecksumOf(before, "data_imports"), ChecksumOf(await SnapshotAsync(db), "data_imports"));
    }

    [Fact]
    public async Task A_row_changed_between_its_archive_and_its_batch_is_refused_and_nothing_of_that_batch_is_written()
    {
        var db = await CreateAsync(Legacy);
        // Once batch 1 (ids 1, 2) has committed, someone edits id 3, which batch 2 would overwrite.
        var edit = new AfterBatch(1, () => Execute(db, "UPDATE data_imports SET file_size = 334 WHERE id = 3"));

        var error = await Assertions.ThrowsDbOps(ErrorIds.ArchiveStale, () => UpdateAsync(Map(db), edit));

        Assert.Contains("(keys 3)", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 334"));
        Assert.Equal(0, Count(db, "SELECT count(*) FROM data_imports WHERE id = 4")); // batch 2 rolled back whole
        Assert.Equal(4, Count(db, "SELECT count(*) FROM data_imports"));
        // No row was overwritten with that archive, so it went: the rerun archives id 3 as it is now, and its undo brings 334 back.
        Assert.Empty(Directory.GetDirectories(Folder.File("prior")));
        Assert.Null((string?)JournalEntries(db).Single()["path"]); // the Partial line names no archive that is gone
        var rerun = await UpdateAsync(Map(db));
        await UndoAsync(db, rerun);
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 334"));
    }

    [Fact]
    public async Task A_copy_stopped_after_overwriting_is_finished_by_the_rerun_with_the_same_prior_image_and_undone_whole()
    {
        // Two rows to overwrite: id 1 in batch 1, id 3 in batch 2.
        var db = await CreateAsync(Legacy + "INSERT INTO data_imports VALUES (1, 'a-old.csv', 1, 1, 'pending', NULL);");
        var before = await SnapshotAsync(db);
        using var stop = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => UpdateAsync(Map(db), new AfterBatch(1, stop.Cancel), stop.Token));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 1 AND filename = 'a.csv'"));
        var first = Assert.Single(Directory.GetDirectories(Folder.File("prior")));

        var rerun = await UpdateAsync(Map(db));

        // The rerun overwrote id 3 with the prior image the first run wrote, which holds id 1 too: nothing archived twice.
        Assert.Equal((1L, 2L), (rerun.Updated, rerun.PriorImageRows));
        Assert.Equal(first, Path.GetDirectoryName(rerun.PriorImagePath));
        Assert.Single(Directory.GetDirectories(Folder.File("prior")));
        Assert.Contains("earlier, unfinished run", rerun.UndoNote, StringComparison.Ordinal);
        Assert.Equal(ComparisonVerdict.Contained, rerun.Comparison!.Verdict);
        Assert.Equal(6, Count(db, "SELECT count(*) FROM data_imports"));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 300"));

        await UndoAsync(db, rerun);
        Execute(db, "DELETE FROM data_imports WHERE id IN (2, 4, 5)");
        Assert.Equal(ChecksumOf(before, "data_imports"), ChecksumOf(await SnapshotAsync(db), "data_imports"));
    }

    [Fact]
    public async Task A_rerun_that_finds_an_overwritten_row_changed_since_refuses_before_writing_and_keeps_the_archive()
    {
        // Two rows to overwrite: id 1 in batch 1, id 3 in batch 2. The first run stops after batch 1; then id 1 is written again.
        var db = await CreateAsync(Legacy + "INSERT INTO data_imports VALUES (1, 'a-old.csv', 1, 1, 'pending', NULL);");
        using var stop = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => UpdateAsync(Map(db), new AfterBatch(1, stop.Cancel), stop.Token));
        Execute(db, "UPDATE data_imports SET file_size = 42 WHERE id = 1");

        var error = await Assertions.ThrowsDbOps(ErrorIds.ArchiveStale, () => UpdateAsync(Map(db)));

        Assert.Contains("That archive stays", error.Message, StringComparison.Ordinal);
        Assert.Single(Directory.GetDirectories(Folder.File("prior")));
        Assert.Equal((1L, 1L), (Count(db, "SELECT count(*) FROM data_imports WHERE id = 1 AND file_size = 42"),
            Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 333")));
    }

    [Fact]
    public async Task A_write_to_a_row_an_earlier_batch_overwrote_makes_the_undo_refuse_instead_of_overwriting_it()
    {
        // Two rows to overwrite: id 1 in batch 1, id 3 in batch 2.
        var db = await CreateAsync(Legacy + "INSERT INTO data_imports VALUES (1, 'a-old.csv', 1, 1, 'pending', NULL);");
        // Once batch 1 has committed, the application edits id 1, which batch 1 overwrote, while batches 2 and 3 are still to run.
        var edit = new AfterBatch(1, () => Execute(db, "UPDATE data_imports SET file_size = 101 WHERE id = 1"));

        var copy = await UpdateAsync(Map(db), edit);

        Assert.Equal((2L, 2L), (copy.Updated, copy.PriorImageRows));
        await Assertions.ThrowsDbOps(ErrorIds.RowsChangedSinceFix, () => UndoAsync(db, copy));
        // The application's write stays, and so does everything the copy did: the undo wrote nothing.
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 1 AND filename = 'a.csv' AND file_size = 101"));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 300"));
    }

    /// <summary>
    /// Two rows to overwrite (id 1 in batch 1, id 3 in batch 2) and a batch 2 that fails after its overwrite, before its COMMIT:
    /// its insert of id 4 ('d.csv') meets a unique filename held by id 10. The record of what the copy left is written
    /// by then, counting a batch that never committed.
    /// </summary>
    private async Task<DbOpsConnection> FailingSecondBatchAsync()
    {
        var db = await CreateAsync(Legacy + """
            INSERT INTO data_imports VALUES (1, 'a-old.csv', 1, 1, 'pending', NULL), (10, 'd.csv', 1, 1, 'pending', NULL);
            CREATE UNIQUE INDEX data_imports_filename ON data_imports(filename);
            """);
        await Assertions.ThrowsDbOps(ErrorIds.MoveFailed, () => UpdateAsync(Map(db)));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 1 AND filename = 'a.csv'"));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 333")); // batch 2 rolled back
        Execute(db, "DELETE FROM data_imports WHERE id = 10");
        return db;
    }

    [Fact]
    public async Task A_rerun_after_a_batch_that_recorded_its_overwrite_but_never_committed_does_it_again_and_its_undo_restores_every_row()
    {
        var db = await FailingSecondBatchAsync();
        var first = Assert.Single(Directory.GetDirectories(Folder.File("prior")));

        var rerun = await UpdateAsync(Map(db));

        Assert.Equal(first, Path.GetDirectoryName(rerun.PriorImagePath));
        Assert.Equal((1L, 2L), (rerun.Updated, rerun.PriorImageRows));
        await UndoAsync(db, rerun);
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 1 AND filename = 'a-old.csv' AND file_size = 1"));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 333"));
    }

    [Fact]
    public async Task An_unfinished_copy_can_be_undone_and_then_run_again_and_undone_again()
    {
        var db = await FailingSecondBatchAsync();
        var stopped = Directory.GetFiles(Assert.Single(Directory.GetDirectories(Folder.File("prior"))), "*.manifest.json").Single();

        // The undo of the stopped copy: its record counts batch 2, which never committed, and the rows hold what was before it.
        await ArchiveService.ImportAsync(new ArchiveImportRequest(stopped, db, Mode: ArchiveImportMode.Upsert), NullObserver.Instance, CancellationToken.None);
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 1 AND filename = 'a-old.csv' AND file_size = 1"));
        var rerun = await UpdateAsync(Map(db));
        Assert.Equal(stopped, rerun.PriorImagePath);
        Assert.Equal(2L, rerun.Updated);
        await UndoAsync(db, rerun);

        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 1 AND filename = 'a-old.csv' AND file_size = 1"));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 333"));
    }

    [Fact]
    public async Task A_finished_copy_records_that_it_finished_and_the_next_run_archives_afresh()
    {
        var db = await CreateAsync(Legacy);
        var copy = await UpdateAsync(Map(db));
        var record = JsonNode.Parse(File.ReadAllText(copy.PriorImagePath!.Replace(".manifest.json", ".after.json", StringComparison.Ordinal)))!;
        Assert.True((bool?)record["Finished"]);
        Execute(db, "UPDATE data_imports SET file_size = 1 WHERE id = 3"); // a new difference for the next run to overwrite

        var next = await UpdateAsync(Map(db));

        Assert.NotEqual(Path.GetDirectoryName(copy.PriorImagePath), Path.GetDirectoryName(next.PriorImagePath));
        Assert.Equal(2, Directory.GetDirectories(Folder.File("prior")).Length);
        Assert.DoesNotContain("earlier, unfinished run", next.UndoNote, StringComparison.Ordinal);
        await UndoAsync(db, next);
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 1"));
    }

    [Fact]
    public async Task A_second_run_of_the_copy_while_the_first_runs_is_refused_and_writes_nothing()
    {
        var db = await CreateAsync(Legacy + "INSERT INTO data_imports VALUES (1, 'a-old.csv', 1, 1, 'pending', NULL);");
        var journalLines = 0;
        DbOpsException? refused = null;
        // Once batch 1 of the first run has committed, the same copy starts again.
        var second = new AfterBatch(1, () =>
        {
            journalLines = JournalEntries(db).Count;
            refused = Assert.ThrowsAsync<DbOpsException>(() => UpdateAsync(Map(db))).GetAwaiter().GetResult();
        });

        var copy = await UpdateAsync(Map(db), second);

        Assert.Equal(ErrorIds.CopyRunning, refused?.ErrorId);
        Assert.Equal(0, journalLines);
        Assert.Single(JournalEntries(db)); // the first run's line only
        Assert.Single(Directory.GetDirectories(Folder.File("prior")));
        Assert.Equal((2L, 2L), (copy.Updated, copy.PriorImageRows));
        await UndoAsync(db, copy);
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 1 AND filename = 'a-old.csv' AND file_size = 1"));
        Assert.Equal(1, Count(db, "SELECT count(*) FROM data_imports WHERE id = 3 AND file_size = 333"));
    }

    /// <summary>Runs an action when the copy reports its <paramref name="batches"/>-th committed batch.</summary>
    private sealed class AfterBatch(int batches, Action action) : IOperationObserver
    {
        private int _reported;

        public void Progress(OperationProgress progress)
        {
            if (progress.Activity.StartsWith("Copy-TableData", StringComparison.Ordinal) && ++_reported == batches)
            {
                action();
            }
        }

        public void Verbose(string message)
        {
        }

        public void Warning(string message)
        {
        }
    }

    private static Task<DatabaseSnapshot> SnapshotAsync(DbOpsConnection db) =>
        SnapshotService.CaptureAsync(new SnapshotRequest(db, Checksum: true), NullObserver.Instance, CancellationToken.None);

    // Bad input: each refused with its error id before anything is written.

    [Fact]
    public async Task A_key_that_is_not_unique_is_refused_with_samples_of_the_duplicates()
    {
        var db = await CreateAsync(Legacy + "CREATE TABLE dup(id INTEGER, filename TEXT); INSERT INTO dup VALUES (1, 'a'), (1, 'b'), (2, 'c');");
        var map = Map(db) with { SourceTable = "dup", Map = [], Expressions = [] };

        var error = await Assertions.ThrowsDbOps(ErrorIds.MoveKeyNotUnique, () => CompareAsync(map));
        Assert.Contains("1 x2", error.Message, StringComparison.Ordinal);
        await Assertions.ThrowsDbOps(ErrorIds.MoveKeyNotUnique, () => CopyAsync(map));
        Assert.Equal(2, Count(db, "SELECT count(*) FROM data_imports"));
    }

    [Fact]
    public async Task A_null_key_is_refused()
    {
        var db = await CreateAsync(Legacy + "CREATE TABLE nk(id INTEGER, filename TEXT); INSERT INTO nk VALUES (NULL, 'a'), (5, 'b');");

        await Assertions.ThrowsDbOps(ErrorIds.MoveKeyNull, () => CompareAsync(Map(db) with { SourceTable = "nk", Map = [], Expressions = [] }));
    }

    [Fact]
    public async Task An_unknown_mapped_column_is_refused()
    {
        var db = await CreateAsync(Legacy);

        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound, () => CompareAsync(Map(db) with { Map = [new("no_such", "filename")] }));
        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound, () => CompareAsync(Map(db) with { Map = [new("source_filename", "no_such")] }));
        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound, () => CompareAsync(Map(db) with { Keys = [new("id", "no_such")] }));
        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound, () => CompareAsync(Map(db) with { Expressions = [new("status", "no_such_flag")] }));
    }

    [Fact]
    public async Task A_second_statement_or_a_write_in_an_expression_or_query_is_refused()
    {
        var db = await CreateAsync(Legacy);

        await Assertions.ThrowsDbOps(ErrorIds.MoveExpressionInvalid, () => CompareAsync(Map(db, "1 = 1; DELETE FROM data_imports")));
        await Assertions.ThrowsDbOps(ErrorIds.MoveExpressionInvalid, () => CopyAsync(Map(db) with { Expressions = [new("status", "(DELETE FROM data_imports RETURNING 'x')")] }));
        await Assertions.ThrowsDbOps(ErrorIds.MoveExpressionInvalid,
            () => CompareAsync(Map(db) with { SourceTable = null, SourceQuery = "DELETE FROM v3_data_imports RETURNING *" }));
        await Assertions.ThrowsDbOps(ErrorIds.MoveExpressionInvalid,
            () => CompareAsync(Map(db) with { SourceTable = null, SourceQuery = "SELECT * FROM v3_data_imports; DROP TABLE data_imports" }));
        Assert.Equal(2, Count(db, "SELECT count(*) FROM data_imports"));
        Assert.Equal(5, Count(db, "SELECT count(*) FROM v3_data_imports"));
    }

    [Fact]
    public async Task The_same_table_as_source_and_target_is_refused()
    {
        var db = await CreateAsync(Legacy);

        await Assertions.ThrowsDbOps(ErrorIds.MoveSameTable, () => CopyAsync(Map(db) with { TargetTable = "v3_data_imports", Map = [], Expressions = [] }));
    }

    [Fact]
    public async Task A_not_null_target_column_the_map_leaves_unfilled_is_refused_before_anything_is_written()
    {
        var db = await CreateAsync(Legacy);

        var error = await Assertions.ThrowsDbOps(ErrorIds.MoveTargetColumnUnfilled, () => CopyAsync(Map(db) with { Expressions = [] }));
        Assert.Contains("status", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, Count(db, "SELECT count(*) FROM data_imports"));
    }

    /// <summary><paramref name="rows"/> source rows numbered from 1 and an empty target (standard SQL both engines run).</summary>
    protected static string Numbered(int rows) => $"""
        CREATE TABLE numbered(id INTEGER PRIMARY KEY, label TEXT NOT NULL);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) INSERT INTO numbered SELECT i, 'row ' || i FROM n;
        CREATE TABLE numbered_copy(id INTEGER PRIMARY KEY, label TEXT NOT NULL);
        """;

    protected static TableMap NumberedMap(DbOpsConnection db) => new()
    {
        Source = db, SourceTable = "numbered", TargetTable = "numbered_copy", Keys = [new("id", "id")], Map = [new("label", "label")],
    };

    /// <summary>Every source row arrived once, as it is in the source.</summary>
    protected void AssertCopiedOnce(DbOpsConnection db, CopyResult result, int rows)
    {
        Assert.Equal((long)rows, result.Copied);
        Assert.Equal(ComparisonVerdict.Equal, result.Comparison!.Verdict);
        Assert.Equal(((long)rows, (long)rows), (Count(db, "SELECT count(*) FROM numbered_copy"), Count(db, "SELECT count(DISTINCT id) FROM numbered_copy")));
        Assert.Equal(rows, Count(db, "SELECT count(*) FROM numbered_copy c JOIN numbered n ON n.id = c.id AND n.label = c.label"));
    }

    /// <summary>Each size at least half and at most twice the one before, all within 1,000..100,000 rows.</summary>
    private static void AssertDamped(IReadOnlyList<int> sizes)
    {
        Assert.All(sizes, s => Assert.InRange(s, BatchSizer.Min, BatchSizer.Max));
        Assert.All(sizes.Zip(sizes.Skip(1)), p => Assert.InRange(p.Second, p.First / 2, p.First * 2));
    }

    [Fact]
    public async Task Without_BatchSize_batches_that_take_longer_than_BatchTime_shrink_within_the_clamps_and_copy_every_row_once()
    {
        var db = await CreateAsync(Numbered(30_000));
        var observer = new RecordingObserver();

        // No batch of a thousand rows or more commits within a millisecond: each next batch is smaller, down to the floor.
        var result = await TableCopier.CopyAsync(new CopyRequest(NumberedMap(db), Verify: true) { BatchTime = TimeSpan.FromMilliseconds(1) }, observer,
            CancellationToken.None);

        AssertCopiedOnce(db, result, 30_000);
        Assert.Equal(TimeSpan.FromMilliseconds(1), result.BatchTime);
        Assert.Equal(result.Batches, result.BatchSizes.Count);
        Assert.Equal(BatchSizer.Start, result.BatchSizes[0]);
        Assert.True(result.BatchSizes.Min() < BatchSizer.Start, string.Join(", ", result.BatchSizes));
        AssertDamped(result.BatchSizes);
        Assert.Contains(observer.VerboseMessages, m => m.Contains("sized to take about 0.001 s", StringComparison.Ordinal));
        var figures = JournalEntries(db).Single()["figures"]!;
        Assert.Equal((double)result.BatchSizes.Min(), (double?)figures["batchRowsMin"]);
        Assert.Equal((double)BatchSizer.Start, (double?)figures["batchRowsMax"]);
        Assert.Equal(0.001, (double?)figures["batchSeconds"]);
    }

    [Fact]
    public async Task Without_BatchSize_batches_quicker_than_BatchTime_double_from_ten_thousand_rows()
    {
        var db = await CreateAsync(Numbered(75_000));

        var result = await TableCopier.CopyAsync(new CopyRequest(NumberedMap(db), Verify: true) { BatchTime = TimeSpan.FromSeconds(60) }, NullObserver.Instance,
            CancellationToken.None);

        AssertCopiedOnce(db, result, 75_000);
        // 10,000 + 20,000 + 40,000 rows end at key 70,000; the last batch, sized 80,000, takes the 5,000 left.
        Assert.Equal([10_000, 20_000, 40_000, 80_000], result.BatchSizes);
    }

    [Fact]
    public async Task Without_BatchSize_a_source_smaller_than_a_first_batch_is_one_batch_of_its_rows()
    {
        var db = await CreateAsync(Legacy);

        var result = await TableCopier.CopyAsync(new CopyRequest(Map(db)), NullObserver.Instance, CancellationToken.None);

        Assert.Equal((4L, 1), (result.Copied, result.Batches));
        Assert.Equal([BatchSizer.Start], result.BatchSizes); // what it was sized to take; the bound query found no 10,000th key
        // A tenth of a second where every other writer waits for the batch (SQLite), half a second otherwise.
        Assert.Equal(TimeSpan.FromSeconds(db.Provider == DatabaseProvider.SQLite ? 0.1 : 0.5), result.BatchTime);
    }

    [Fact]
    public async Task With_BatchSize_the_journal_gives_that_size_and_no_time_is_reported()
    {
        var db = await CreateAsync(Legacy);

        var result = await CopyAsync(Map(db));

        Assert.Equal(3, result.Batches);
        Assert.Empty(result.BatchSizes); // not kept per batch: a fixed size over millions of batches would grow with them
        Assert.Null(result.BatchTime);
        var figures = JournalEntries(db).Single()["figures"]!;
        Assert.Null(figures["batchSeconds"]);
        Assert.Equal((2.0, 2.0), ((double?)figures["batchRowsMin"], (double?)figures["batchRowsMax"]));
    }

    [Theory]
    [InlineData(500, 1_000.0)]
    [InlineData(null, 0.0)]
    [InlineData(null, -1.0)]
    public async Task BatchSize_with_BatchTime_or_a_BatchTime_that_is_not_positive_is_refused_and_nothing_is_written(int? batchSize, double milliseconds)
    {
        var db = await CreateAsync(Legacy);
        var request = new CopyRequest(Map(db), BatchSize: batchSize) { BatchTime = TimeSpan.FromMilliseconds(milliseconds) };

        await Assertions.ThrowsDbOps(ErrorIds.InvalidSpecification, () => TableCopier.CopyAsync(request, NullObserver.Instance, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidSpecification, () => TableCopier.PreviewAsync(request, CancellationToken.None));

        Assert.Equal(2, Count(db, "SELECT count(*) FROM data_imports"));
        Assert.Empty(JournalEntries(db));
    }

    protected static List<JsonNode> JournalEntries(DbOpsConnection db) =>
        File.Exists(OperationsJournal.Open().Path)
            ? File.ReadAllLines(OperationsJournal.Open().Path).Select(l => JsonNode.Parse(l)!)
                .Where(e => (string?)e["operation"] == JournalOperations.RowsCopied && (string?)e["database"] == db.Database).ToList()
            : [];
}

public sealed class MovesSqliteTests : MovesTests
{
    private int _files;

    protected override Task<DbOpsConnection> CreateAsync(string sql) => Sqlite.CreateAsync(Folder.File($"moves{++_files}.db"), sql);

    protected override long Count(DbOpsConnection db, string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db.Database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    protected override void Execute(DbOpsConnection db, string sql) => Sqlite.Execute(db.Database, sql);
}

[Collection(PostgresCollection.Name)]
public sealed class MovesPostgresTests(PostgresCluster cluster) : MovesTests
{
    protected override async Task<DbOpsConnection> CreateAsync(string sql)
    {
        var name = cluster.CreateDatabase("moves");
        cluster.Execute(name, sql);
        return await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(name), null, null, CancellationToken.None);
    }

    protected override long Count(DbOpsConnection db, string sql) => cluster.Scalar<long>(db.Database, sql);

    protected override void Execute(DbOpsConnection db, string sql) => cluster.Execute(db.Database, sql);

    /// <summary>1,000 source rows; every seventh key (142 of them) is in the target already, key 700 with another value.</summary>
    private const string Thousand = """
        CREATE TABLE legacy(id bigint PRIMARY KEY, label text, amount numeric(10,2));
        INSERT INTO legacy SELECT i, 'row ' || i, i / 4.0 FROM generate_series(1, 1000) i;
        CREATE TABLE modern(id bigint PRIMARY KEY, name text NOT NULL, price numeric(12,3));
        INSERT INTO modern SELECT id, label, amount FROM legacy WHERE id % 7 = 0;
        UPDATE modern SET name = 'other' WHERE id = 700;
        """;

    private static TableMap ThousandMap(DbOpsConnection db) => new()
    {
        Source = db, SourceTable = "legacy", TargetTable = "modern", Keys = [new("id", "id")], Map = [new("label", "name"), new("amount", "price")],
    };

    [Fact]
    public async Task Parallel_copies_every_row_once_over_several_connections_and_journals_the_source_checksum()
    {
        var db = await CreateAsync(Thousand);
        var observer = new RecordingObserver();

        var result = await TableCopier.CopyAsync(new CopyRequest(ThousandMap(db), BatchSize: 37, Verify: true) { Parallel = 3 }, observer, CancellationToken.None);

        Assert.Empty(observer.Warnings);
        Assert.Equal((858L, 141L, 1L, 28), (result.Copied, result.AlreadyPresent, result.Conflicting, result.Batches));
        Assert.Equal("700", Assert.Single(result.ConflictSamples).Key);
        Assert.Equal(10, result.CopiedSamples.Count);
        Assert.Equal((1000L, 0L, 999L, 1L), (Count(db, "SELECT count(*) FROM modern"), Count(db, "SELECT count(*) FROM modern m JOIN legacy l USING (id) WHERE m.name IS DISTINCT FROM l.label AND m.id <> 700"),
            Count(db, "SELECT count(*) FROM modern WHERE name = 'row ' || id"), Count(db, "SELECT count(*) FROM modern WHERE name = 'other'")));
        Assert.Equal(ComparisonVerdict.Differs, result.Comparison!.Verdict);
        var source = await TableChecksum.ComputeAsync(db, new TableRef("public", "legacy"), ["id", "label", "amount"], CancellationToken.None);
        Assert.Equal(source.Checksum, result.SourceChecksum);
        Assert.Equal(source.Checksum, (string?)JournalEntries(db).Single()["checksum"]);
    }

    [Fact]
    public async Task Parallel_with_batches_sized_by_time_copies_every_row_once()
    {
        var db = await CreateAsync(Numbered(80_000));

        // The writers shrink the size while the bounds' reader reads ahead (up to five batches of 10,000 before the first
        // commits: two being copied, two queued, one waiting to be queued), so later bounds come at the smaller sizes.
        var result = await TableCopier.CopyAsync(new CopyRequest(NumberedMap(db), Verify: true) { Parallel = 2, BatchTime = TimeSpan.FromMilliseconds(1) },
            NullObserver.Instance, CancellationToken.None);

        AssertCopiedOnce(db, result, 80_000);
        Assert.Equal(BatchSizer.Start, result.BatchSizes.Max());
        Assert.True(result.BatchSizes.Distinct().Count() > 1, string.Join(", ", result.BatchSizes));
        Assert.All(result.BatchSizes, s => Assert.InRange(s, BatchSizer.Min, BatchSizer.Max));
    }

    [Fact]
    public async Task A_key_another_session_inserts_while_a_batch_copies_is_skipped_not_duplicated_and_the_copy_goes_on()
    {
        var db = await CreateAsync(Thousand);
        // Another session inserts key 501 and keeps its transaction open: the batch's check for keys present cannot see it,
        // so its insert meets the key, waits for that transaction, and is refused once it commits; the batch runs again.
        await using var other = new Npgsql.NpgsqlConnection(cluster.ConnectionString(db.Database));
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var insert = new Npgsql.NpgsqlCommand("INSERT INTO modern VALUES (501, 'other session', 0)", other, transaction))
        {
            await insert.ExecuteNonQueryAsync();
        }

        var copy = TableCopier.CopyAsync(new CopyRequest(ThousandMap(db), BatchSize: 1000), NullObserver.Instance, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(copy.IsCompleted);
        await transaction.CommitAsync();
        var result = await copy;

        Assert.Equal((857L, 141L, 2L), (result.Copied, result.AlreadyPresent, result.Conflicting));
        Assert.Contains(result.ConflictSamples, c => c.Key == "501");
        Assert.Equal((1000L, 1L), (Count(db, "SELECT count(*) FROM modern"), Count(db, "SELECT count(*) FROM modern WHERE name = 'other session'")));
    }

    [Fact]
    public async Task A_failing_batch_stops_the_other_connections_and_the_rerun_finishes_without_duplicates()
    {
        var db = await CreateAsync(Thousand);

        var error = await Assertions.ThrowsDbOps(ErrorIds.MoveConflict, () => TableCopier.CopyAsync(
            new CopyRequest(ThousandMap(db), ConflictAction.Fail, BatchSize: 10) { Parallel = 2 }, NullObserver.Instance, CancellationToken.None));
        Assert.Contains("700", error.Message, StringComparison.Ordinal);
        // The batch holding key 700 was rolled back; the batches after it that had not started never ran.
        Assert.Equal(0, Count(db, "SELECT count(*) FROM modern WHERE id BETWEEN 691 AND 700 AND id % 7 <> 0"));
        Assert.True(Count(db, "SELECT count(*) FROM modern") < 1000);
        var partial = JournalEntries(db).Single();
        Assert.Equal("Partial", (string?)partial["outcome"]);
        Assert.Equal(Count(db, "SELECT count(*) FROM modern") - 142, (long?)partial["rows"]);

        var rerun = await TableCopier.CopyAsync(new CopyRequest(ThousandMap(db), BatchSize: 10, Verify: true) { Parallel = 2 }, NullObserver.Instance, CancellationToken.None);

        Assert.Equal(1000, Count(db, "SELECT count(*) FROM modern"));
        Assert.Equal(1000 - 142 - (long)partial["rows"]!, rerun.Copied);
        Assert.Equal((1L, 0L), (rerun.Comparison!.Changed, rerun.Comparison.Missing));
    }

    [Fact]
    public async Task Equal_values_in_other_forms_compare_equal_and_a_real_difference_still_shows()
    {
        var db = await CreateAsync("""
            CREATE TABLE a(id int PRIMARY KEY, n numeric, at timestamptz, doc json, name text);
            CREATE TABLE b(id int PRIMARY KEY, n numeric(10,2), at timestamptz, doc jsonb, name varchar(20));
            INSERT INTO a VALUES (1, 1.5, '2024-05-01 12:00:00+02', '{"x": 1, "y": [1, 2]}', 'ann'),
                                 (2, 2, '2024-05-01 12:00:00+00', '{"x": 1}', 'bob');
            INSERT INTO b VALUES (1, 1.50, '2024-05-01 10:00:00+00', '{"y": [1, 2], "x": 1}', 'ann'),
                                 (2, 2.01, '2024-05-01 12:00:00+01', '{"x": 1}', 'bob');
            """);

        var result = await TableComparer.CompareAsync(new TableMap { Source = db, SourceTable = "a", TargetTable = "b", Keys = [new("id", "id")] },
            NullObserver.Instance, CancellationToken.None);

        Assert.Equal((1L, 1L), (result.Matched, result.Changed));
        Assert.Equal(["n", "at"], Assert.Single(result.ChangedSamples).Columns);
    }

    [Fact]
    public async Task An_expression_that_writes_is_refused_before_anything_is_written()
    {
        var db = await CreateAsync(Legacy + """
            CREATE TABLE side_effects(n INTEGER);
            CREATE SEQUENCE ticket;
            CREATE FUNCTION log_status(flag BOOLEAN) RETURNS TEXT LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO side_effects VALUES (1); RETURN CASE WHEN flag THEN 'approved' ELSE 'pending' END; END $$;
            """);

        // Only rows after the first batch call the function: the check reads every source row, not a sample.
        var late = $"CASE WHEN id > 4 THEN log_status(is_approved) ELSE {Status} END";
        var error = await Assertions.ThrowsDbOps(ErrorIds.MoveExpressionInvalid, () => CopyAsync(Map(db) with { Expressions = [new("status", late)] }));
        Assert.Contains("read-only", error.Message, StringComparison.Ordinal);
        await Assertions.ThrowsDbOps(ErrorIds.MoveExpressionInvalid,
            () => CopyAsync(Map(db) with { Expressions = [new("status", "'t' || nextval('ticket')")] }));
        await Assertions.ThrowsDbOps(ErrorIds.MoveExpressionInvalid,
            () => CopyAsync(Map(db, "log_status(is_approved) IS NOT NULL")));

        Assert.Equal(0, Count(db, "SELECT count(*) FROM side_effects"));
        Assert.Equal(2, Count(db, "SELECT count(*) FROM data_imports"));
        Assert.Equal(1, Count(db, "SELECT nextval('ticket')"));
        Assert.Empty(JournalEntries(db));
    }

    [Fact]
    public async Task Types_that_cannot_be_compared_are_refused()
    {
        var db = await CreateAsync("""
            CREATE TABLE a(id int PRIMARY KEY, v int); INSERT INTO a VALUES (1, 1);
            CREATE TABLE b(id int PRIMARY KEY, v jsonb);
            """);

        await Assertions.ThrowsDbOps(ErrorIds.MoveTypesIncomparable, () => TableComparer.CompareAsync(
            new TableMap { Source = db, SourceTable = "a", TargetTable = "b", Keys = [new("id", "id")] }, NullObserver.Instance, CancellationToken.None));
    }

    /// <summary>
    /// Per-phase legacy rows collapse into a JSONB array on the parent: the copy aggregates on the source side and updates
    /// the parent's column (it inserts no parent, whose NOT NULL name it cannot fill); the proof compares the legacy rows
    /// with the array's elements, one row per (job, phase).
    /// </summary>
    [Fact]
    public async Task Legacy_rows_collapsed_into_a_jsonb_array_on_the_parent_are_proved_by_compare()
    {
        var db = await CreateAsync("""
            CREATE TABLE jobs(id int PRIMARY KEY, name text NOT NULL, analysis_results jsonb);
            INSERT INTO jobs VALUES (1, 'one', NULL), (2, 'two', NULL), (3, 'three', NULL);
            CREATE TABLE job_analysis(job_id int NOT NULL, phase text NOT NULL, score numeric, PRIMARY KEY (job_id, phase));
            INSERT INTO job_analysis VALUES (1, 'dns', 0.50), (1, 'http', 7), (2, 'dns', 3);
            """);
        var collapse = new TableMap
        {
            Source = db,
            SourceQuery = "SELECT job_id, jsonb_agg(jsonb_build_object('phase', phase, 'score', score) ORDER BY phase) AS analysis_results FROM job_analysis GROUP BY job_id",
            TargetTable = "jobs",
            Keys = [new("job_id", "id")],
        };
        var proof = new TableMap
        {
            Source = db,
            SourceTable = "job_analysis",
            TargetQuery = "SELECT j.id AS job_id, e->>'phase' AS phase, (e->>'score')::numeric AS score FROM jobs j CROSS JOIN jsonb_array_elements(j.analysis_results) AS e",
            Keys = [new("job_id", "job_id"), new("phase", "phase")],
        };

        var before = await TableComparer.CompareAsync(proof, NullObserver.Instance, CancellationToken.None);
        var copy = await TableCopier.CopyAsync(new CopyRequest(collapse, ConflictAction.Update, BatchSize: 1), NullObserver.Instance, CancellationToken.None);
        var after = await TableComparer.CompareAsync(proof, NullObserver.Instance, CancellationToken.None);
        cluster.Execute(db.Database, "UPDATE jobs SET analysis_results = jsonb_set(analysis_results, '{0,score}', '0.6') WHERE id = 1");
        var tampered = await TableComparer.CompareAsync(proof, NullObserver.Instance, CancellationToken.None);

        Assert.Equal((3L, ComparisonVerdict.Differs), (before.Missing, before.Verdict));
        Assert.Equal((0L, 2L, 2L), (copy.Copied, copy.Conflicting, copy.Updated));
        Assert.Equal(ComparisonVerdict.Equal, after.Verdict);
        Assert.Equal(3L, after.Matched);
        Assert.Equal("(1, dns)", Assert.Single(tampered.ChangedSamples).Key);
        Assert.Equal(["score"], tampered.ChangedSamples[0].Columns);
    }
}

/// <summary>The next batch's size from how long the last took: pure arithmetic, no database.</summary>
public sealed class BatchSizerTests
{
    [Theory]
    [InlineData(10_000, 500, 500, 10_000)] // on target: unchanged
    [InlineData(10_000, 400, 500, 13_000)] // 12,500 rounds to a multiple of 1,000
    [InlineData(10_000, 100, 500, 20_000)] // five times too quick: at most twice
    [InlineData(10_000, 5_000, 500, 5_000)] // ten times too slow: at least half
    [InlineData(80_000, 1, 60_000, 100_000)] // never above 100,000
    [InlineData(100_000, 1, 60_000, 100_000)]
    [InlineData(1_000, 60_000, 1, 1_000)] // never below 1,000
    [InlineData(3_000, 60_000, 1, 2_000)] // half of 3,000 rounds up, not below half
    [InlineData(10_000, 0, 500, 20_000)] // a batch too quick to time grows as much as it may
    public void Next_is_damped_rounded_and_clamped(int size, int elapsedMs, int targetMs, int expected) =>
        Assert.Equal(expected, BatchSizer.Next(size, TimeSpan.FromMilliseconds(elapsedMs), TimeSpan.FromMilliseconds(targetMs)));

    [Fact]
    public void A_fixed_size_never_changes_and_a_timed_one_starts_at_10000_rows()
    {
        var fixedSize = new BatchSizer(20, TimeSpan.FromSeconds(0.5));
        Assert.False(fixedSize.Observe(20, TimeSpan.FromSeconds(30)));
        Assert.Equal((20, (TimeSpan?)null), (fixedSize.Current, fixedSize.BatchTime));

        var timed = new BatchSizer(null, TimeSpan.FromSeconds(0.5));
        Assert.Equal(10_000, timed.Current);
        Assert.True(timed.Observe(10_000, TimeSpan.FromSeconds(0.25)));
        Assert.Equal(20_000, timed.Current);
    }
}
