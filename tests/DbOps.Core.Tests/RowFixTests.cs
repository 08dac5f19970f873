using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Integrity;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.RowFixes;
using DbOps.Core.Snapshots;
using Npgsql;

namespace DbOps.Core.Tests;

/// <summary>Remove-TableRow, Update-TableRow and their undo, the same on both engines (the goals tracker's seeded defects).</summary>
public abstract class RowFixTests : IDisposable
{
    protected readonly TempFolder Folder = new();

    public void Dispose()
    {
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }

    protected abstract Task<DbOpsConnection> GoalsAsync();

    protected abstract void Execute(DbOpsConnection db, string sql);

    /// <summary>The engine's default schema, as table names come back.</summary>
    protected abstract string Schema { get; }

    private string Archives => Folder.File("archives");

    private string Journal => Folder.File("journal.jsonl");

    protected RowFixRequest Request(DbOpsConnection db, RowFixAction action, string? table, string? where = null) =>
        new(db, action, table, Archives, where, JournalPath: Journal);

    private static Task<RowFix> FixAsync(RowFixRequest request, IOperationObserver? observer = null) =>
        RowFixService.FixAsync(request, observer ?? NullObserver.Instance, CancellationToken.None);

    private static Task<ArchiveImportResult> UndoAsync(DbOpsConnection db, string manifest) =>
        ArchiveService.ImportAsync(new ArchiveImportRequest(manifest, db, Mode: ArchiveImportMode.Upsert), NullObserver.Instance, CancellationToken.None);

    protected async Task<TableContent> ContentAsync(DbOpsConnection db, string table, string? where = null)
    {
        var engine = DatabaseEngines.For(db.Provider);
        await using var session = await engine.OpenReadOnlyAsync(db, CancellationToken.None);
        var schema = await DbOps.Core.Schema.SchemaReader.ReadAsync(engine, session.Connection, CancellationToken.None);
        var resolved = schema.Resolve(table);
        return await TableChecksum.ComputeAsync(engine, session.Connection, null, resolved.Table,
            TableChecksum.StoredColumns(resolved).Select(c => c.Name).ToList(), CancellationToken.None, where);
    }

    protected static async Task<DbOpsException> RefusedAsync(Func<Task> fix, string errorId)
    {
        var error = await Assert.ThrowsAsync<DbOpsException>(fix);
        Assert.True(error.ErrorId == errorId, $"Expected {errorId}, got {error.ErrorId}: {error.Message}");
        return error;
    }

    protected bool ArchivesWritten => Directory.Exists(Archives) && Directory.EnumerateFiles(Archives, "*.manifest.json", SearchOption.AllDirectories).Any();

    private static IntegrityRequest Defects(DbOpsConnection db) => GoalsDefects.Request(db);

    [Fact]
    public async Task Removed_rows_are_archived_journaled_and_put_back_exactly_by_the_undo()
    {
        var db = await GoalsAsync();
        var before = await ContentAsync(db, "legacy_imports");

        var fix = await FixAsync(Request(db, RowFixAction.Remove, "legacy_imports", "source = 'csv' AND id <= 40"));

        Assert.Equal((RowFixStatus.Fixed, 20L), (fix.Status, fix.RowCount));
        Assert.Equal(before.Rows - 20, (await ContentAsync(db, "legacy_imports")).Rows);
        var (manifest, _, _) = ArchiveManifest.Load(fix.ArchivePath!);
        Assert.Equal((ArchiveScope.Rows, 2, 20L, "source = 'csv' AND id <= 40"), (manifest.Scope!.Value, manifest.FormatVersion, manifest.RowCount, manifest.Where!));
        Assert.Equal(["id"], manifest.Key!);
        Assert.NotNull(manifest.VerifiedAt);
        var entry = Assert.Single(OperationsJournal.Open(Journal).Read());
        Assert.Equal((JournalOperations.RowsRemoved, "legacy_imports", 20L, fix.ArchivePath, fix.Checksum, fix.Undo),
            (entry.Operation, entry.Table, entry.Rows!.Value, entry.Path, entry.Checksum, entry.Undo));
        Assert.Contains("-Mode Upsert", fix.Undo, StringComparison.Ordinal);
        Assert.Contains($"DELETE FROM \"{Schema}\".\"legacy_imports\" WHERE source = 'csv' AND id <= 40", fix.Statements);

        var undone = await UndoAsync(db, fix.ArchivePath!);

        Assert.Equal((20L, fix.Checksum), (undone.RowCount, undone.Checksum));
        Assert.Equal(before, await ContentAsync(db, "legacy_imports"));
        // The rows are back: a second undo has nothing to do and says so.
        Assert.Contains("already restored", Assert.Single((await UndoAsync(db, fix.ArchivePath!)).Skipped), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_update_from_a_check_finding_sets_values_by_expression_and_the_undo_restores_them()
    {
        var db = await GoalsAsync();
        var before = await ContentAsync(db, "goals");
        var report = await GoalsDefects.RunAsync(Defects(db));
        var finding = GoalsDefects.Single(report, IntegrityCheck.CheckViolation, "goals");

        var fix = await FixAsync(Request(db, RowFixAction.Update, null) with
        {
            Findings = [finding],
            Set = new Dictionary<string, object?> { ["deadline"] = "created_at", ["status"] = "'fixed'" },
        });

        Assert.Equal((RowFixStatus.Fixed, 5L), (fix.Status, fix.RowCount));
        Assert.Equal(0, (await ContentAsync(db, "goals", "deadline < created_at")).Rows);
        Assert.Equal(5, (await ContentAsync(db, "goals", "status = 'fixed'")).Rows);
        Assert.Equal(JournalOperations.RowsUpdated, Assert.Single(OperationsJournal.Open(Journal).Read()).Operation);

        await UndoAsync(db, fix.ArchivePath!);

        Assert.Equal(before, await ContentAsync(db, "goals"));
    }

    [Fact]
    public async Task Values_that_are_not_text_are_parameters_and_key_values_choose_rows()
    {
        var db = await GoalsAsync();

        var fix = await FixAsync(Request(db, RowFixAction.Update, "legacy_imports") with
        {
            KeyValues = [3L, 5, 7],
            Set = new Dictionary<string, object?> { ["payload"] = null, ["source"] = "source || '-checked'" },
        });

        Assert.Equal(3, fix.RowCount);
        Assert.Equal(3, (await ContentAsync(db, "legacy_imports", "payload IS NULL AND source LIKE '%-checked' AND id IN (3, 5, 7)")).Rows);
    }

    [Fact]
    public async Task Orphans_from_a_finding_are_removed()
    {
        var db = await GoalsAsync();
        var report = await GoalsDefects.RunAsync(Defects(db));
        var orphans = Assert.Single(report.Findings, f => f.Check == IntegrityCheck.OrphanedRows && f.Table!.EndsWith("activity_instances", StringComparison.Ordinal)
                                                          && f.Columns.SequenceEqual(["session_id"]));

        var fix = await FixAsync(Request(db, RowFixAction.Remove, null) with { Findings = [orphans] });

        Assert.Equal(orphans.Count, fix.RowCount);
        Assert.Equal(0, (await ContentAsync(db, "activity_instances", "session_id > 5000")).Rows);
    }

    [Fact]
    public async Task WhatIf_shows_the_statement_and_the_row_count_and_writes_nothing()
    {
        var db = await GoalsAsync();
        var before = await ContentAsync(db, "goals");

        var plan = await RowFixService.PlanAsync(Request(db, RowFixAction.Remove, "goals", "root_id IS NULL"), CancellationToken.None);

        Assert.Equal((RowFixStatus.Planned, 7L), (plan.Status, plan.RowCount));
        Assert.Contains($"DELETE FROM \"{Schema}\".\"goals\" WHERE root_id IS NULL", plan.Statements);
        Assert.Equal("COMMIT", plan.Statements[^1]);
        Assert.Equal(before, await ContentAsync(db, "goals"));
        Assert.False(ArchivesWritten);
    }

    [Fact]
    public async Task A_condition_matching_no_rows_is_a_no_op_that_says_so()
    {
        var db = await GoalsAsync();

        var fix = await FixAsync(Request(db, RowFixAction.Remove, "goals", "id < 0"));

        Assert.Equal((RowFixStatus.NoRows, 0L), (fix.Status, fix.RowCount));
        Assert.Contains("nothing was archived or changed", fix.Message, StringComparison.Ordinal);
        Assert.False(ArchivesWritten);
        Assert.False(File.Exists(Journal));
    }

    [Theory]
    [InlineData("id > 0; DELETE FROM goals")]
    [InlineData("id IN (SELECT id FROM goals) -- and more")]
    [InlineData("id > 0) OR (1 = 1")]
    [InlineData("EXISTS (DELETE FROM goals RETURNING 1)")]
    public async Task A_condition_that_could_write_or_escape_is_refused_and_nothing_is_written(string where)
    {
        var db = await GoalsAsync();
        var before = await ContentAsync(db, "goals");

        await RefusedAsync(() => FixAsync(Request(db, RowFixAction.Remove, "goals", where)), ErrorIds.RowConditionInvalid);
        await RefusedAsync(() => FixAsync(Request(db, RowFixAction.Update, "goals", "id = 1") with
        {
            Set = new Dictionary<string, object?> { ["title"] = where },
        }), ErrorIds.RowConditionInvalid);

        Assert.Equal(before, await ContentAsync(db, "goals"));
        Assert.False(ArchivesWritten);
    }

    [Fact]
    public async Task Setting_the_key_or_a_missing_column_is_refused()
    {
        var db = await GoalsAsync();

        await RefusedAsync(() => FixAsync(Request(db, RowFixAction.Update, "goals", "id = 1") with { Set = new Dictionary<string, object?> { ["id"] = 5 } }),
            ErrorIds.RowConditionInvalid);
        await RefusedAsync(() => FixAsync(Request(db, RowFixAction.Update, "goals", "id = 1") with { Set = new Dictionary<string, object?> { ["nope"] = 5 } }),
            ErrorIds.RowConditionInvalid);
    }

    [Fact]
    public async Task Rows_changed_between_the_archive_and_the_fix_are_stale_and_nothing_changes()
    {
        var db = await GoalsAsync();
        var observer = new ChangeBeforeLock(() => Execute(db, "UPDATE legacy_imports SET payload = 'changed' WHERE id = 2"));

        await RefusedAsync(() => FixAsync(Request(db, RowFixAction.Remove, "legacy_imports", "id <= 10"), observer), ErrorIds.ArchiveStale);

        Assert.Equal(10, (await ContentAsync(db, "legacy_imports", "id <= 10")).Rows);
        Assert.Empty(OperationsJournal.Open(Journal).Read());
    }

    [Fact]
    public async Task A_removal_that_would_break_a_foreign_key_is_refused_before_writing_naming_the_referencing_rows()
    {
        var db = await GoalsAsync();
        var before = await ContentAsync(db, "activity_groups");
        var report = await GoalsDefects.RunAsync(Defects(db));
        var duplicates = GoalsDefects.Single(report, IntegrityCheck.DuplicateKeys, "activity_groups");

        var error = await RefusedAsync(() => FixAsync(Request(db, RowFixAction.Remove, null) with { Findings = [duplicates] }), ErrorIds.RowsReferenced);

        Assert.Contains("activity_instances rows with (id) ", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await ContentAsync(db, "activity_groups"));
        Assert.False(ArchivesWritten);
    }

    [Fact]
    public async Task Duplicates_keep_the_first_or_the_last_row_by_key_and_the_plan_shows_the_survivors()
    {
        var db = await GoalsAsync();
        Execute(db, "CREATE TABLE tags (id integer PRIMARY KEY, name text NOT NULL); " +
                    "INSERT INTO tags VALUES (1, 'a'), (2, 'b'), (3, 'a'), (4, 'a'), (5, 'b'), (6, 'c')");
        var report = await GoalsDefects.RunAsync(new IntegrityRequest(db) { UniqueKeys = [new ColumnSpec("tags", ["name"])], Tables = ["tags"] });
        var duplicates = GoalsDefects.Single(report, IntegrityCheck.DuplicateKeys, "tags");

        var first = await RowFixService.PlanAsync(Request(db, RowFixAction.Remove, null) with { Findings = [duplicates] }, CancellationToken.None);
        var fix = await FixAsync(Request(db, RowFixAction.Remove, null) with { Findings = [duplicates], Keep = DuplicateKeep.Last });

        Assert.Equal(3, first.RowCount);
        Assert.Equal(["1", "2"], first.Survivors);
        Assert.Equal(["4", "5"], fix.Survivors);
        Assert.Equal(3, fix.RowCount);
        Assert.Equal(3, (await ContentAsync(db, "tags", "id IN (4, 5, 6)")).Rows);
        Assert.Equal(3, (await ContentAsync(db, "tags")).Rows);
    }

    [Fact]
    public async Task An_undo_over_rows_changed_since_the_fix_is_refused()
    {
        var db = await GoalsAsync();
        var removed = await FixAsync(Request(db, RowFixAction.Remove, "legacy_imports", "id <= 5"));
        var updated = await FixAsync(Request(db, RowFixAction.Update, "goals", "id <= 5") with { Set = new Dictionary<string, object?> { ["title"] = "'x'" } });
        Execute(db, "INSERT INTO legacy_imports (id, source) VALUES (3, 'again')");
        Execute(db, "UPDATE goals SET title = 'y' WHERE id = 4");
        var legacy = await ContentAsync(db, "legacy_imports");
        var goals = await ContentAsync(db, "goals");

        await RefusedAsync(() => UndoAsync(db, removed.ArchivePath!), ErrorIds.RowsChangedSinceFix);
        await RefusedAsync(() => UndoAsync(db, updated.ArchivePath!), ErrorIds.RowsChangedSinceFix);

        Assert.Equal(legacy, await ContentAsync(db, "legacy_imports"));
        Assert.Equal(goals, await ContentAsync(db, "goals"));
    }

    [Fact]
    public async Task Hostile_names_are_quoted_and_the_fix_and_undo_work()
    {
        var db = await GoalsAsync();
        Execute(db, "CREATE TABLE \"we\"\"ird; DROP TABLE goals; --\" (\"k\"\"ey\" integer PRIMARY KEY, \"va'l\" text); " +
                    "INSERT INTO \"we\"\"ird; DROP TABLE goals; --\" VALUES (1, 'a'), (2, 'b'), (3, 'c')");
        var table = "\"we\"\"ird; DROP TABLE goals; --\"";
        var before = await ContentAsync(db, table);

        var fix = await FixAsync(Request(db, RowFixAction.Update, table) with
        {
            KeyValues = [1, 3],
            Set = new Dictionary<string, object?> { ["va'l"] = "upper(\"va'l\")" },
        });
        Assert.Equal(2, fix.RowCount);
        Assert.Equal(2, (await ContentAsync(db, table, "\"va'l\" IN ('A', 'C')")).Rows);
        var removed = await FixAsync(Request(db, RowFixAction.Remove, table) with { KeyValues = [2] });
        await UndoAsync(db, removed.ArchivePath!);
        await UndoAsync(db, fix.ArchivePath!);

        Assert.Equal(before, await ContentAsync(db, table));
        Assert.Equal(200, (await ContentAsync(db, "goals")).Rows);
    }

    [Fact]
    public async Task A_snapshot_comparison_explains_rows_removed_with_a_verified_rows_archive_and_flags_any_other_loss()
    {
        var db = await GoalsAsync();
        Task<DatabaseSnapshot> SnapshotAsync() =>
            SnapshotService.CaptureAsync(new SnapshotRequest(db, Checksum: true), NullObserver.Instance, CancellationToken.None);
        var before = await SnapshotAsync();
        await FixAsync(Request(db, RowFixAction.Remove, "legacy_imports", "id <= 30"));
        await FixAsync(Request(db, RowFixAction.Remove, "legacy_imports") with { KeyValues = [40, 41] });
        await FixAsync(Request(db, RowFixAction.Remove, "goals", "root_id IS NULL"));
        Execute(db, "DELETE FROM goals WHERE id = 200");

        var comparison = SnapshotComparer.Compare(before, await SnapshotAsync(), Journal);

        var legacy = Assert.Single(comparison.Differences, d => d.Table is "legacy_imports" or "public.legacy_imports" || d.Name == "legacy_imports");
        Assert.False(legacy.DataLoss, legacy.Explanation);
        Assert.Contains("removed on purpose", legacy.Explanation, StringComparison.Ordinal);
        Assert.Equal(-32, legacy.RowDelta);
        // 7 rows archived, 8 gone: the archive does not explain the eighth.
        var goals = Assert.Single(comparison.Differences, d => d.Name == "goals" && d.ObjectType == "Rows");
        Assert.True(goals.DataLoss, goals.Explanation);
        Assert.True(comparison.DataLoss);
    }

    [Fact]
    public async Task A_batched_removal_goes_in_key_ordered_batches_leaves_the_rest_alone_and_the_undo_restores_every_row()
    {
        var db = await GoalsAsync();
        var before = await ContentAsync(db, "legacy_imports");
        var rest = await ContentAsync(db, "legacy_imports", "id > 100");
        var progress = new BatchWatch();

        var plan = await RowFixService.PlanAsync(Request(db, RowFixAction.Remove, "legacy_imports", "id <= 100") with { BatchSize = 30 }, CancellationToken.None);

        Assert.Equal((RowFixStatus.Planned, 100L, 4), (plan.Status, plan.RowCount, plan.Batches));
        Assert.Contains("4 batch(es)", plan.Message, StringComparison.Ordinal);
        Assert.Contains(plan.Statements, s => s.StartsWith($"DELETE FROM \"{Schema}\".\"legacy_imports\" WHERE (id <= 100) AND ", StringComparison.Ordinal));
        Assert.False(ArchivesWritten);

        var fix = await FixAsync(Request(db, RowFixAction.Remove, "legacy_imports", "id <= 100") with { BatchSize = 30 }, progress);

        Assert.Equal((RowFixStatus.Fixed, 100L, 4), (fix.Status, fix.RowCount, fix.Batches));
        Assert.Equal(["Batch 1 of 4: 30 of 100 rows changed", "Batch 2 of 4: 60 of 100 rows changed", "Batch 3 of 4: 90 of 100 rows changed",
            "Batch 4 of 4: 100 of 100 rows changed"], progress.Batches);
        Assert.Equal(rest, await ContentAsync(db, "legacy_imports"));
        var entry = Assert.Single(OperationsJournal.Open(Journal).Read());
        Assert.Equal((JournalOperations.RowsRemoved, 100L, fix.Checksum, true, null, 4.0), (entry.Operation, entry.Rows!.Value, entry.Checksum, entry.Verified, entry.Outcome, entry.Figures!["batches"]));

        await UndoAsync(db, fix.ArchivePath!);

        Assert.Equal(before, await ContentAsync(db, "legacy_imports"));
    }

    [Fact]
    public async Task A_batched_update_changes_each_row_once_and_the_undo_restores_every_row()
    {
        var db = await GoalsAsync();
        var before = await ContentAsync(db, "legacy_imports");
        var rest = await ContentAsync(db, "legacy_imports", "id > 100");

        var fix = await FixAsync(Request(db, RowFixAction.Update, "legacy_imports", "id <= 100") with
        {
            BatchSize = 25,
            Set = new Dictionary<string, object?> { ["source"] = "source || '+'", ["payload"] = null },
        });

        Assert.Equal((RowFixStatus.Fixed, 100L, 4), (fix.Status, fix.RowCount, fix.Batches));
        Assert.Equal(100, (await ContentAsync(db, "legacy_imports", "source LIKE '%+' AND source NOT LIKE '%++' AND payload IS NULL")).Rows);
        Assert.Equal(rest, await ContentAsync(db, "legacy_imports", "id > 100"));
        Assert.Equal(JournalOperations.RowsUpdated, Assert.Single(OperationsJournal.Open(Journal).Read()).Operation);

        await UndoAsync(db, fix.ArchivePath!);

        Assert.Equal(before, await ContentAsync(db, "legacy_imports"));
    }

    [Fact]
    public async Task A_batched_fix_stopped_after_a_batch_is_journaled_as_partial_and_the_same_fix_run_again_resumes_with_its_archive()
    {
        var db = await GoalsAsync();
        var before = await ContentAsync(db, "legacy_imports");
        var request = Request(db, RowFixAction.Update, "legacy_imports", "id <= 100") with
        {
            BatchSize = 30,
            Set = new Dictionary<string, object?> { ["source"] = "source || '+'" },
        };
        using var stop = new CancellationTokenSource();

        var stopped = await RefusedAsync(() => RowFixService.FixAsync(request, new BatchWatch(stop.Cancel), stop.Token), ErrorIds.OperationCanceled);

        Assert.Contains("batch 1 of 4 (30 rows) stays changed", stopped.Message, StringComparison.Ordinal);
        Assert.Equal(30, (await ContentAsync(db, "legacy_imports", "source LIKE '%+'")).Rows);
        var partial = Assert.Single(OperationsJournal.Open(Journal).Read());
        Assert.Equal(("Partial", 30L, false), (partial.Outcome, partial.Rows!.Value, partial.Verified));

        var progress = new BatchWatch();
        var resumed = await FixAsync(request, progress);

        Assert.Equal((RowFixStatus.Fixed, 100L, partial.Path), (resumed.Status, resumed.RowCount, resumed.ArchivePath));
        Assert.Equal(["Batch 2 of 4: 60 of 100 rows changed", "Batch 3 of 4: 90 of 100 rows changed", "Batch 4 of 4: 100 of 100 rows changed"], progress.Batches);
        Assert.Single(Directory.GetFiles(Archives, "*.manifest.json", SearchOption.AllDirectories));
        Assert.Equal(100, (await ContentAsync(db, "legacy_imports", "source LIKE '%+' AND source NOT LIKE '%++'")).Rows);
        Assert.Equal(0, (await ContentAsync(db, "legacy_imports", "id > 100 AND source LIKE '%+'")).Rows);
        var done = OperationsJournal.Open(Journal).Read()[^1];
        Assert.Equal((100L, true, null, 2.0), (done.Rows!.Value, done.Verified, done.Outcome, done.Figures!["resumedAtBatch"]));

        await UndoAsync(db, resumed.ArchivePath!);

        Assert.Equal(before, await ContentAsync(db, "legacy_imports"));
    }

    [Fact]
    public async Task A_snapshot_comparison_explains_a_batched_removal_that_was_stopped_and_resumed()
    {
        var db = await GoalsAsync();
        Task<DatabaseSnapshot> SnapshotAsync() =>
            SnapshotService.CaptureAsync(new SnapshotRequest(db, Checksum: true), NullObserver.Instance, CancellationToken.None);
        var request = Request(db, RowFixAction.Remove, "legacy_imports", "id <= 100") with { BatchSize = 40 };
        var before = await SnapshotAsync();
        using var stop = new CancellationTokenSource();
        await RefusedAsync(() => RowFixService.FixAsync(request, new BatchWatch(stop.Cancel), stop.Token), ErrorIds.OperationCanceled);

        var halfway = SnapshotComparer.Compare(before, await SnapshotAsync(), Journal);
        await FixAsync(request);
        var comparison = SnapshotComparer.Compare(before, await SnapshotAsync(), Journal);

        // Stopped, the archive holds rows still in the table: nothing explains the 40 gone yet.
        Assert.True(Assert.Single(halfway.Differences, d => d.Name == "legacy_imports").DataLoss);
        var legacy = Assert.Single(comparison.Differences, d => d.Name == "legacy_imports");
        Assert.False(legacy.DataLoss, legacy.Explanation);
        Assert.Equal(-100, legacy.RowDelta);
    }

    [Fact]
    public async Task A_row_of_a_later_batch_changed_after_the_archive_stops_the_fix_at_that_batch_with_nothing_of_it_written()
    {
        var db = await GoalsAsync();
        var observer = new BatchWatch(() => Execute(db, "UPDATE legacy_imports SET payload = 'changed' WHERE id = 70"));

        var error = await RefusedAsync(() => FixAsync(Request(db, RowFixAction.Remove, "legacy_imports", "id <= 100") with { BatchSize = 30 }, observer),
            ErrorIds.ArchiveStale);

        Assert.StartsWith("Batch 3 of 4 of the rows of", error.Message, StringComparison.Ordinal);
        Assert.Contains("batches 1-2 of 4 (60 rows) stay changed", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, (await ContentAsync(db, "legacy_imports", "id <= 60")).Rows);
        Assert.Equal(40, (await ContentAsync(db, "legacy_imports", "id > 60 AND id <= 100")).Rows);
        Assert.Equal(1, (await ContentAsync(db, "legacy_imports", "id = 70 AND payload = 'changed'")).Rows);
        var partial = Assert.Single(OperationsJournal.Open(Journal).Read());
        Assert.Equal(("Partial", 60L, false, 2.0), (partial.Outcome, partial.Rows!.Value, partial.Verified, partial.Figures!["batches"]));
    }

    [Fact]
    public async Task Rows_referenced_through_cascading_or_nulling_foreign_keys_are_refused_and_no_other_table_changes()
    {
        var db = await GoalsAsync();
        Execute(db, "CREATE TABLE owners (id integer PRIMARY KEY, name text); " +
                    "CREATE TABLE pets (id integer PRIMARY KEY, owner_id integer REFERENCES owners (id) ON DELETE CASCADE); " +
                    "CREATE TABLE visits (id integer PRIMARY KEY, owner_id integer REFERENCES owners (id) ON DELETE SET NULL); " +
                    "INSERT INTO owners VALUES (1, 'a'), (2, 'b'), (3, 'c'); INSERT INTO pets VALUES (10, 2); INSERT INTO visits VALUES (20, 3)");
        var pets = await ContentAsync(db, "pets");
        var visits = await ContentAsync(db, "visits");

        var error = await RefusedAsync(() => FixAsync(Request(db, RowFixAction.Remove, "owners", "id >= 2")), ErrorIds.RowsReferenced);
        var batched = await RefusedAsync(() => FixAsync(Request(db, RowFixAction.Remove, "owners", "id >= 2") with { BatchSize = 1 }), ErrorIds.RowsReferenced);

        Assert.Contains("pets rows with (id) 10", error.Message, StringComparison.Ordinal);
        Assert.Contains("visits rows with (id) 20", error.Message, StringComparison.Ordinal);
        Assert.Equal(error.Message, batched.Message);
        Assert.Equal(3, (await ContentAsync(db, "owners")).Rows);
        Assert.Equal((pets, visits), (await ContentAsync(db, "pets"), await ContentAsync(db, "visits")));
        Assert.False(ArchivesWritten);
    }

    /// <summary>Records the batches' progress, and runs an action once after the first batch commits.</summary>
    private sealed class BatchWatch(Action? afterFirstBatch = null) : IOperationObserver
    {
        public List<string> Batches { get; } = [];

        public void Progress(OperationProgress progress)
        {
            if (progress.Status.StartsWith("Batch ", StringComparison.Ordinal))
            {
                Batches.Add(progress.Status);
                if (Batches.Count == 1)
                {
                    afterFirstBatch?.Invoke();
                }
            }
        }

        public void Verbose(string message) { }

        public void Warning(string message) { }
    }

    /// <summary>Changes the table once, after the archive is written and before the fix takes its lock.</summary>
    private sealed class ChangeBeforeLock(Action change) : IOperationObserver
    {
        private bool _done;

        public void Progress(OperationProgress progress)
        {
            if (!_done && progress.Status.StartsWith("Checking the rows again", StringComparison.Ordinal))
            {
                _done = true;
                change();
            }
        }

        public void Verbose(string message) { }

        public void Warning(string message) { }
    }
}

public sealed class RowFixSqliteTests : RowFixTests
{
    protected override string Schema => "main";

    protected override Task<DbOpsConnection> GoalsAsync() => Sqlite.GoalsTrackerAsync(Folder);

    protected override void Execute(DbOpsConnection db, string sql) => Sqlite.Execute(db.Database, sql);
}

[Collection(PostgresCollection.Name)]
public sealed class RowFixPostgresTests(PostgresCluster cluster) : RowFixTests
{
    protected override string Schema => "public";

    protected override Task<DbOpsConnection> GoalsAsync() =>
        DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(cluster.CreateGoalsTracker()), null, null, CancellationToken.None);

    protected override void Execute(DbOpsConnection db, string sql) => cluster.Execute(db.Database, sql);

    private const string Owners = "CREATE TABLE owners (id integer PRIMARY KEY, name text); " +
                                  "CREATE TABLE pets (id integer PRIMARY KEY, owner_id integer REFERENCES owners (id) ON DELETE CASCADE); " +
                                  "INSERT INTO owners VALUES (1, 'a'), (2, 'b'), (3, 'c'); INSERT INTO pets VALUES (10, 1)";

    /// <summary>A second session that inserts a pet of owner 3 and keeps its transaction open.</summary>
    private async Task<(NpgsqlConnection Session, NpgsqlTransaction Transaction)> InsertPetUncommittedAsync(DbOpsConnection db)
    {
        var session = new NpgsqlConnection(cluster.ConnectionString(db.Database));
        await session.OpenAsync();
        var transaction = await session.BeginTransactionAsync();
        await new NpgsqlCommand("INSERT INTO pets VALUES (11, 3)", session, transaction).ExecuteNonQueryAsync();
        return (session, transaction);
    }

    [Fact]
    public async Task A_table_other_tables_inherit_is_refused_before_anything_is_written()
    {
        var db = await GoalsAsync();
        Execute(db, """
            CREATE TABLE events (id integer PRIMARY KEY, kind text);
            CREATE TABLE old_events (PRIMARY KEY (id)) INHERITS (events);
            INSERT INTO events VALUES (1, 'a'); INSERT INTO old_events VALUES (2, 'a'), (3, 'b');
            """);

        var error = await Assertions.ThrowsDbOps(ErrorIds.RowTableInherited,
            () => RowFixService.FixAsync(Request(db, RowFixAction.Remove, "events", "kind = 'a'"), NullObserver.Instance, CancellationToken.None));
        Assert.Contains("public.old_events", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM events"));
    }

    [Fact]
    public async Task A_row_that_starts_to_reference_the_rows_while_the_fix_waits_for_its_table_is_found_under_the_lock_and_nothing_cascades()
    {
        var db = await GoalsAsync();
        Execute(db, Owners);
        var (other, inserting) = await InsertPetUncommittedAsync(db);
        await using var _ = other;

        var fixing = Task.Run(() => RowFixService.FixAsync(Request(db, RowFixAction.Remove, "owners", "id >= 2") with { LockTimeout = TimeSpan.FromMinutes(2) },
            NullObserver.Instance, CancellationToken.None));
        // The fix holds owners and waits for pets, which the open INSERT holds; the row is committed while it waits.
        for (var i = 0; i < 4800 && !fixing.IsCompleted
             && cluster.Scalar<long>(db.Database, "SELECT count(*) FROM pg_locks WHERE relation = 'public.pets'::regclass AND NOT granted") == 0; i++)
        {
            await Task.Delay(25);
        }
        Assert.False(fixing.IsCompleted, "The fix ended without waiting for the referencing table's lock.");
        await inserting.CommitAsync();

        var error = await RefusedAsync(() => fixing, ErrorIds.RowsReferenced);

        Assert.Contains("pets rows with (id) 11", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, (await ContentAsync(db, "owners")).Rows);
        Assert.Equal(2, (await ContentAsync(db, "pets")).Rows);
    }

    [Fact]
    public async Task A_fix_whose_referencing_table_stays_locked_times_out_and_deletes_nothing()
    {
        var db = await GoalsAsync();
        Execute(db, Owners);
        var (other, inserting) = await InsertPetUncommittedAsync(db);
        await using var _ = other;

        await RefusedAsync(() => RowFixService.FixAsync(Request(db, RowFixAction.Remove, "owners", "id >= 2") with
        {
            LockTimeout = TimeSpan.FromMilliseconds(300),
            BatchSize = 1,
        }, NullObserver.Instance, CancellationToken.None), ErrorIds.LockTimeout);
        await inserting.CommitAsync();

        Assert.Equal(3, (await ContentAsync(db, "owners")).Rows);
        Assert.Equal(2, (await ContentAsync(db, "pets")).Rows);
    }
}
