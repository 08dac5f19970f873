using DbOps.Core.Archive;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Indexes;
using DbOps.Core.Integrity;
using DbOps.Core.Journal;
using DbOps.Core.Performance;
using DbOps.Core.Progress;
using DbOps.Core.Removal;
using DbOps.Core.Snapshots;

namespace DbOps.Core.Tests;

/// <summary>
/// A scripted maintenance phase on the goals tracker: every change and artifact leaves exactly one journal entry of the
/// common shape (refusals and skips none), and the report of the phase states each fact the results hold.
/// </summary>
internal static class MaintenancePhase
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly IOperationObserver Quiet = NullObserver.Instance;

    /// <summary>What the phase did, to check the journal and the report against.</summary>
    internal sealed record Facts(
        BackupResult Backup, BackupVerification Test, TableArchive Archive, ConstraintResult Constraint, IndexChange Added, IndexChange Dropped,
        ArchiveImportResult Import, IntegrityReport Integrity, QueryBenchmark Compared, RestoreResult Restore, MaintenanceReport Report,
        IReadOnlyList<JournalEntry> Journal);

    public static async Task<Facts> RunAsync(DbOpsConnection db, DbOpsConnection restoreTarget, TempFolder folder, string cleanUp)
    {
        var journal = folder.File("ops.jsonl");
        var start = DateTimeOffset.UtcNow;
        var before = await SnapshotService.CaptureAsync(new SnapshotRequest(db), Quiet, None);

        var backup = await BackupService.BackupAsync(new BackupRequest(db, folder.File("backup"), Verify: true, JournalPath: journal), Quiet, None);
        var test = await BackupService.VerifyAsync(backup.Path, db, null, Quiet, None, journal);
        var archive = await ArchiveService.ExportAsync(
            new ArchiveExportRequest(db, "legacy_imports", folder.File("archive"), Verify: true, JournalPath: journal), Quiet, None);
        await RemovalService.RemoveAsync(new RemovalRequest(db, [RemovalTarget.For(archive)], TimeSpan.FromSeconds(5), JournalPath: journal), Quiet, None);

        var options = ConstraintOptions.Default with { JournalPath = journal };
        var check = ConstraintSpec.Check("goals", "deadline >= created_at");
        Assert.Equal(ConstraintStatus.Blocked, (await ConstraintService.AddAsync(db, check, options, Quiet, None)).Status);
        await Queries.DatabaseQuery.RunAsync(db, cleanUp, null, None);
        var constraint = await ConstraintService.AddAsync(db, check, options, Quiet, None);

        var addPlan = await IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "sessions", ["goal_id"]), None);
        var added = await IndexMaintenance.ApplyAsync(addPlan, Quiet, None, journal);
        var again = await IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "sessions", ["goal_id"]), None);
        Assert.Equal("", (await IndexMaintenance.ApplyAsync(again, Quiet, None, journal)).Sql);   // already there: nothing run
        var dropPlan = await IndexMaintenance.PlanRemoveAsync(new RemoveIndexRequest(db, "ix_activity_instances_session"), None);
        var dropped = await IndexMaintenance.ApplyAsync(dropPlan, Quiet, None, journal);

        var import = await ArchiveService.ImportAsync(
            new ArchiveImportRequest(archive.ManifestPath, db, "legacy_imports_restored") { JournalPath = journal }, Quiet, None);
        var integrity = await IntegrityService.RunAsync(new IntegrityRequest(db), Quiet, None);
        IntegrityReportWriter.Write([integrity], folder.File("integrity.json"), IntegrityReportFormat.Json, journalPath: journal);
        const string query = "SELECT count(*) FROM sessions WHERE goal_id = 5";
        var baseline = await QueryMeasurement.MeasureAsync(new QueryMeasurementRequest(db, query, Iterations: 3, Warmup: 1), Quiet, None);
        var compared = await QueryMeasurement.MeasureAsync(
            new QueryMeasurementRequest(db, query, Iterations: 3, Warmup: 1, Baseline: baseline) { JournalPath = journal }, Quiet, None);
        var restore = await BackupService.RestoreAsync(backup.Path, restoreTarget, new RestoreOptions(false, true, journal), null, Quiet, None);

        var after = await SnapshotService.CaptureAsync(new SnapshotRequest(db), Quiet, None);
        var report = MaintenanceReportWriter.Write(new MaintenanceReportRequest(
            new MaintenanceLogQuery { Connection = db, After = start, JournalPath = journal }, folder.File("phase.md"))
        {
            BeforeSnapshot = before,
            AfterSnapshot = after,
        });
        return new Facts(backup, test, archive, constraint, added, dropped, import, integrity, compared, restore, report,
            OperationsJournal.Open(journal).Read());
    }

    /// <summary>Exactly one entry per change or artifact, in order; the blocked constraint and the existing index left none.</summary>
    public static void JournalHoldsOneEntryPerStep(Facts facts, DbOpsConnection db, DbOpsConnection restoreTarget)
    {
        Assert.Equal(
            [JournalOperations.Backup, JournalOperations.BackupTested, JournalOperations.ArchiveCreated, JournalOperations.TableRemovalStarted,
             JournalOperations.TableRemoved, JournalOperations.ConstraintAdded, JournalOperations.IndexAdded, JournalOperations.IndexRemoved,
             JournalOperations.ArchiveImported, JournalOperations.IntegrityChecked, JournalOperations.QueryCompared, JournalOperations.DatabaseRestored],
            facts.Journal.Select(e => e.Operation));
        var entries = facts.Journal.ToDictionary(e => e.Operation);
        foreach (var entry in facts.Journal.Where(e => e.Operation != JournalOperations.DatabaseRestored))
        {
            Assert.True(entry.IsAbout(db.Provider, db.Server, db.Database), entry.Operation);
            Assert.Equal(Environment.UserName, entry.User);
            Assert.Equal(entry.Operation == JournalOperations.IntegrityChecked ? null : db.User, entry.Role);
        }

        var tested = entries[JournalOperations.BackupTested];
        Assert.Equal((facts.Backup.Path, facts.Backup.Sha256, true, facts.Backup.TotalRows), (tested.Path, tested.Sha256, tested.Verified, tested.Rows));

        var removed = entries[JournalOperations.TableRemoved];
        Assert.Equal($"Import-TableArchive -Path '{facts.Archive.ManifestPath}' -Database {UndoCommand.Database(db)}", removed.Undo);

        var constraint = entries[JournalOperations.ConstraintAdded];
        Assert.Equal(("goals", facts.Constraint.Name, true), (constraint.Table, Assert.Single(constraint.Objects!), constraint.Verified));
        Assert.Equal(db.Provider == DatabaseProvider.PostgreSQL
            ? UndoCommand.Query(db, $"ALTER TABLE \"public\".\"goals\" DROP CONSTRAINT \"{facts.Constraint.Name}\"")
            : null, constraint.Undo);

        var added = entries[JournalOperations.IndexAdded];
        Assert.Equal(("sessions", facts.Added.Index), (added.Table, Assert.Single(added.Objects!)));
        Assert.Equal($"Remove-UnusedIndex -Database {UndoCommand.Database(db)} -Name '{facts.Added.Schema}.{facts.Added.Index}' -Confirm:$false", added.Undo);
        var dropped = entries[JournalOperations.IndexRemoved];
        Assert.Equal(["ix_activity_instances_session"], dropped.Objects);
        Assert.StartsWith($"Invoke-DatabaseQuery -Database {UndoCommand.Database(db)} -Query 'CREATE INDEX ", dropped.Undo);
        Assert.Contains("ix_activity_instances_session", dropped.Undo);

        var imported = entries[JournalOperations.ArchiveImported];
        Assert.Equal(("legacy_imports_restored", facts.Import.RowCount, facts.Import.Checksum, facts.Archive.ManifestPath),
            (imported.Table, imported.Rows, imported.Checksum, imported.Path));
        Assert.Contains("DROP TABLE", imported.Undo);

        var integrity = entries[JournalOperations.IntegrityChecked];
        Assert.Equal(facts.Integrity.Checks.Count, integrity.Figures!["checks"]);
        Assert.Equal(facts.Integrity.ErrorCount, integrity.Figures["errors"]);

        var compared = entries[JournalOperations.QueryCompared];
        Assert.Equal(facts.Compared.MedianMs, compared.Figures!["medianMs"]);
        Assert.Equal("SELECT count(*) FROM sessions WHERE goal_id = 5", compared.Target);

        var restored = entries[JournalOperations.DatabaseRestored];
        Assert.True(restored.IsAbout(restoreTarget.Provider, restoreTarget.Server, restoreTarget.Database));
        Assert.Equal((facts.Backup.Path, facts.Backup.Sha256, facts.Backup.TotalRows, true), (restored.Path, restored.Sha256, restored.Rows, restored.Verified));
        Assert.Null(restored.Undo);   // restored into an empty database: nothing was replaced
    }

    /// <summary>The report states each fact the results hold, and every recorded undo command.</summary>
    public static void ReportStatesEachFact(Facts facts)
    {
        var text = File.ReadAllText(facts.Report.Path);
        Assert.Contains($"| {facts.Backup.Path} | {facts.Backup.SizeBytes} bytes | {facts.Backup.Sha256} | restored and counted |", text);
        Assert.Contains(facts.Archive.Checksum, text);
        Assert.Contains(facts.Archive.ManifestPath, text);
        Assert.Contains($"goals {facts.Constraint.Name} |", text);
        Assert.Contains("Succeeded, validated", text);
        Assert.Contains(facts.Added.Index, text);
        Assert.Contains($"{facts.Integrity.Checks.Count} checks, {facts.Integrity.ErrorCount} errors", text);
        Assert.Contains("DataLoss: False", text);
        Assert.False(facts.Report.DataLoss);
        Assert.Contains("speedUp", text);
        foreach (var undo in facts.Report.Entries.Select(e => e.Undo).OfType<string>())
        {
            Assert.Contains($"```powershell\n{undo}\n```", text);
        }
        // The intent line of a drop is bookkeeping, and the restore is about the other database.
        Assert.DoesNotContain(facts.Report.Entries, e => e.Operation is JournalOperations.TableRemovalStarted or JournalOperations.DatabaseRestored);
        Assert.Equal(10, facts.Report.Entries.Count);
    }
}

public sealed class MaintenanceRecordSqliteTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_phase_journals_each_change_once_and_its_report_states_each_fact()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var target = DatabaseConnector.DescribeSqliteTarget(_folder.File("restored.db"));

        var facts = await MaintenancePhase.RunAsync(db, target, _folder, ConstraintSqliteTests.CleanUp("check"));

        MaintenancePhase.JournalHoldsOneEntryPerStep(facts, db, target);
        MaintenancePhase.ReportStatesEachFact(facts);
    }

    [Fact]
    public async Task The_log_filters_by_database_operation_time_and_outcome()
    {
        var journal = _folder.File("ops.jsonl");
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var other = await Sqlite.CreateAsync(_folder.File("other.db"), "CREATE TABLE t (id INTEGER PRIMARY KEY)");
        var first = await BackupService.BackupAsync(new BackupRequest(db, _folder.File("b"), JournalPath: journal), NullObserver.Instance, CancellationToken.None);
        var middle = DateTimeOffset.UtcNow;
        await BackupService.BackupAsync(new BackupRequest(other, _folder.File("b"), JournalPath: journal), NullObserver.Instance, CancellationToken.None);
        File.AppendAllText(first.Path, "tampered");
        await BackupService.VerifyAsync(first.Path, null, null, NullObserver.Instance, CancellationToken.None, journal);

        IReadOnlyList<JournalEntry> Read(MaintenanceLogQuery query) => MaintenanceLog.Read(query with { JournalPath = journal });

        Assert.Equal([JournalOperations.Backup, JournalOperations.BackupTested], Read(new() { Connection = db }).Select(e => e.Operation));
        Assert.Equal([other.Database], Read(new() { DatabaseName = other.Database }).Select(e => e.Database));
        Assert.Equal([first.Path], Read(new() { Operations = [JournalOperations.Backup], Before = middle }).Select(e => e.Path));
        var failed = Assert.Single(Read(new() { Outcomes = ["Failed"] }));
        Assert.Equal((JournalOperations.BackupTested, false), (failed.Operation, failed.Verified));
        Assert.Equal(2, Read(new() { Outcomes = [MaintenanceLog.Succeeded] }).Count);
    }

    [Fact]
    public async Task Undo_lines_quote_every_single_quote_PowerShell_knows()
    {
        var db = await Sqlite.CreateAsync(_folder.File("it's ‘odd’.db"), "CREATE TABLE t (id INTEGER PRIMARY KEY)");
        Assert.Equal($"'{_folder.Path}/it''s ‘‘odd’’.db'", UndoCommand.Database(db));
    }
}

[Collection(PostgresCollection.Name)]
public sealed class MaintenanceRecordPostgresTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_phase_journals_each_change_once_with_the_role_and_its_report_states_each_fact()
    {
        var db = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(cluster.CreateGoalsTracker()), null, null, CancellationToken.None);
        var target = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(cluster.CreateDatabase()), null, null, CancellationToken.None);

        var facts = await MaintenancePhase.RunAsync(db, target, _folder, ConstraintSqliteTests.CleanUp("check"));

        Assert.NotNull(db.User);
        MaintenancePhase.JournalHoldsOneEntryPerStep(facts, db, target);
        MaintenancePhase.ReportStatesEachFact(facts);
        Assert.Contains($"(role {db.User})", File.ReadAllText(facts.Report.Path));
    }
}
