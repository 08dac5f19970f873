using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Diagnostics;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Removal;
using DbOps.Core.Schema;

namespace DbOps.Core.Columns;

/// <summary>
/// Retires a column only when nothing is lost: its values are archived with the table's key (a verified column archive),
/// then, in one transaction under the table lock, the key, the dependents and the key-plus-column checksum are checked
/// again and the column is dropped only if the live values are still exactly the archived ones. Named dependents are
/// dropped with it; any other dependent refuses the drop (never CASCADE). A refusal leaves the column whole. Where the
/// engine rebuilds the table instead (SQLite), the rebuild must keep every other column's rows and checksum and every
/// foreign key, or it is rolled back.
/// </summary>
public static class ColumnRemovalService
{
    /// <summary>What the removal would run; reads the catalog only (-WhatIf, confirmation).</summary>
    /// <exception cref="DbOpsException">TableNotFound, ColumnNotFound, ColumnIsKey, NoUsableKey, DependentObjectsExist, InvalidSpecification, ColumnRebuildFailed.</exception>
    public static async Task<ColumnRemoval> PlanAsync(ColumnRemovalRequest request, CancellationToken cancellationToken)
    {
        var engine = DatabaseEngines.For(request.Source.Provider);
        await using var session = await engine.OpenReadOnlyAsync(request.Source, cancellationToken);
        var plan = await PlanOnAsync(engine, session.Connection, request, null, cancellationToken);
        return new ColumnRemoval(request.Source, plan.Table, plan.Column, false, null, ManifestPathFor(request, plan), plan.Statements,
            plan.Dependents.Select(d => d.Description).ToList(), null, TimeSpan.Zero);
    }

    /// <summary>Archives the column (or uses the archive an earlier run left) and drops it under the lock-and-recheck rule.</summary>
    /// <exception cref="DbOpsException">
    /// The plan's refusals, and ArchiveStale, ArchiveCorrupt, ArchiveMismatch, ArchiveVerificationFailed, LockTimeout, ColumnRebuildFailed, RemovalFailed.
    /// </exception>
    public static async Task<ColumnRemoval> RemoveAsync(ColumnRemovalRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var source = request.Source;
        var engine = DatabaseEngines.For(source.Provider);
        var lockTimeout = request.LockTimeout ?? RemovalRequest.DefaultLockTimeout;
        await using var session = await engine.OpenWritableAsync(source, cancellationToken);
        var connection = session.Connection;
        await SettleUnfinishedAsync(engine, connection, request, observer, cancellationToken);
        var plan = await PlanOnAsync(engine, connection, request, null, cancellationToken);
        var (table, column) = (plan.Table, plan.Column);

        // The archive comes first and is checked before the lock: exporting and verifying can take long.
        var manifestPath = ManifestPathFor(request, plan);
        if (File.Exists(manifestPath))
        {
            observer.Verbose($"Using the column archive '{manifestPath}' an earlier run wrote; it is checked against the live values under the lock.");
        }
        else
        {
            var written = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, table.ToQuotedName(), request.Destination, request.Format,
                Verify: true, ToolPath: request.ToolPath, JournalPath: request.JournalPath,
                Selection: new ArchiveSelection(ArchiveScope.Columns, plan.Part.Key, Columns: plan.Part.Archived)), observer, cancellationToken);
            if (!written.Verified)
            {
                throw new DbOpsException(written.VerifyErrorId ?? ErrorIds.ArchiveVerificationFailed, ErrorKind.InvalidData,
                    $"{table}.{column} was not dropped: its archive '{written.ManifestPath}' could not be verified ({written.VerifyReason}).", written.ManifestPath);
            }
            manifestPath = written.ManifestPath;
        }
        var names = plan.Part.Stored.Select(c => c.Name).ToList();
        var archive = await CheckedArchive.CheckAsync(manifestPath, source, table, names, observer, cancellationToken, ArchiveScope.Columns);
        if (archive.Manifest.Scope is not ArchiveScope.Columns || !(archive.Manifest.Key ?? []).SequenceEqual(plan.Part.Key))
        {
            throw new DbOpsException(ErrorIds.ArchiveMismatch, ErrorKind.InvalidState,
                $"'{manifestPath}' is not a column archive of {table}.{column} by ({string.Join(", ", plan.Part.Key)}); nothing was dropped. " +
                "Move it away, or choose another -Destination.", manifestPath);
        }

        var inTransaction = false;
        var committing = false;
        TableContent content;
        JournalEntry? intent = null;
        try
        {
            foreach (var sql in plan.Drop.Lock)
            {
                var begins = sql.StartsWith("BEGIN", StringComparison.Ordinal);
                await RemovalService.ExecuteAsync(connection, sql, begins ? lockTimeout : null, cancellationToken);
                inTransaction |= begins;
            }
            observer.Verbose($"Locked {table}; checking {column} again under the lock.");

            // Under the lock nothing can change the rows, the key or the dependents until the DROP commits or rolls back.
            var locked = await PlanOnAsync(engine, connection, request, table, cancellationToken);
            if (!locked.Statements.SequenceEqual(plan.Statements))
            {
                throw new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
                    $"{table}.{column} was not dropped: what depends on it changed while the archive was written (now: " +
                    $"{string.Join("; ", locked.Dependents.Select(d => d.Description).DefaultIfEmpty("nothing"))}). Nothing was changed; run again.", table.ToString());
            }
            FaultPoint.Reach(FaultPoint.ColumnLocked);
            // The archive's data file is read beside the live values: the drop depends on what the file holds.
            var fromFile = Task.Run(() => archive.ReadDataAsync(cancellationToken), cancellationToken);
            content = await TableChecksum.ComputeAsync(engine, connection, null, table, names, cancellationToken);
            await fromFile;
            if (content != new TableContent(archive.Manifest.RowCount, archive.Manifest.Checksum))
            {
                throw new DbOpsException(ErrorIds.ArchiveStale, ErrorKind.InvalidState,
                    $"{table}.{column} changed after it was archived: ({string.Join(", ", names)}) now holds {content.Rows} rows with checksum " +
                    $"{content.Checksum}, but '{archive.ManifestPath}' records {archive.Manifest.RowCount} rows with {archive.Manifest.Checksum}. " +
                    "Nothing was dropped; move that archive away and run again (or find out who still writes the column).", table.ToString());
            }
            archive.EnsureUnchanged(table);
            var copied = plan.Drop.Copied is { } others ? await TableChecksum.ComputeAsync(engine, connection, null, table, others, cancellationToken) : null;
            foreach (var sql in plan.Drop.Drop)
            {
                await RemovalService.ExecuteAsync(connection, sql, null, cancellationToken);
            }
            FaultPoint.Reach(FaultPoint.ColumnDropped);
            await VerifyAsync(engine, connection, plan, copied, cancellationToken);

            // The intent is journaled just before COMMIT and the outcome after it: a process killed between them leaves a
            // line a snapshot comparison accepts once the column is gone, and that the next run settles.
            OperationsJournal.Record(request.JournalPath, intent = JournalEntry.For(source, JournalOperations.ColumnRemovalStarted) with
            {
                Id = Guid.NewGuid().ToString("N"),
                Schema = table.Schema,
                Table = table.Name,
                Column = column,
                Objects = plan.Dependents.Count > 0 ? plan.Dependents.Select(d => d.Description).ToList() : null,
                Rows = content.Rows,
                Checksum = content.Checksum,
                Sha256 = archive.Manifest.Data.Sha256,
                Path = archive.ManifestPath,
                Verified = true,
                Undo = UndoLine(source, archive.ManifestPath),
            }, observer);
            FaultPoint.Reach(FaultPoint.ColumnIntended);
            committing = true;
            await RemovalService.ExecuteAsync(connection, "COMMIT", null, cancellationToken);
            inTransaction = false;
            FaultPoint.Reach(FaultPoint.ColumnCommitted);
        }
        catch (Exception e) when (committing && e is DbException or InvalidOperationException)
        {
            // A column still there means this COMMIT did not take effect: its intent must not explain a later drop.
            await SettleAsync(engine, request, [intent!], observer, CancellationToken.None);
            throw new DbOpsException(ErrorIds.RemovalFailed, ErrorKind.OperationFailed,
                $"The COMMIT that drops {table}.{column} failed ({e.Message}); whether it took effect is unknown. Check whether the column still exists; " +
                $"its archive '{archive.ManifestPath}' is intact either way.", table.ToString(), e);
        }
        catch (Exception e) when (inTransaction)
        {
            await RemovalService.RollbackQuietlyAsync(connection);
            if (intent is not null)
            {
                // Stopped during COMMIT (canceled), it may have taken effect: the schema says; before it, it did not.
                await SettleAsync(engine, request, [intent], observer, CancellationToken.None);
            }
            throw Map(e, engine, table, column, lockTimeout);
        }
        catch (Exception e)
        {
            throw Map(e, engine, table, column, lockTimeout);
        }

        observer.Verbose($"Dropped {table}.{column} ({content.Rows} rows archived in '{archive.ManifestPath}'{(plan.Drop.Copied is null ? "" : "; the table was rebuilt without it")}).");
        OperationsJournal.Record(request.JournalPath, intent! with { Time = DateTimeOffset.UtcNow, Operation = JournalOperations.ColumnRemoved }, observer);
        return new ColumnRemoval(source, table, column, true, content, archive.ManifestPath, plan.Statements,
            plan.Dependents.Select(d => d.Description).ToList(), intent.Undo, clock.Elapsed);
    }

    /// <summary>
    /// Before COMMIT: the drop's checks return no row (a rebuild's foreign_key_check), and a rebuilt table holds the
    /// other columns' rows exactly as before (count and checksum, both read in this transaction).
    /// </summary>
    private static async Task VerifyAsync(IDatabaseEngine engine, DbConnection connection, Plan plan, TableContent? copied, CancellationToken cancellationToken)
    {
        foreach (var check in plan.Drop.Checks)
        {
            var rows = (await connection.QueryAsync(new CommandDefinition(check, cancellationToken: cancellationToken, commandTimeout: 0))).Count();
            if (rows > 0)
            {
                throw RebuildFailed(plan, $"'{check}' reports {rows} row(s) whose reference does not hold (fix those rows first if they were there before)");
            }
        }
        if (copied is not null)
        {
            var after = await TableChecksum.ComputeAsync(engine, connection, null, plan.Table, plan.Drop.Copied!, cancellationToken);
            if (after != copied)
            {
                throw RebuildFailed(plan, $"({string.Join(", ", plan.Drop.Copied!)}) held {copied.Rows} rows with checksum {copied.Checksum} before it " +
                                          $"and {after.Rows} rows with {after.Checksum} after it");
            }
        }
    }

    private static DbOpsException RebuildFailed(Plan plan, string why) =>
        new(ErrorIds.ColumnRebuildFailed, ErrorKind.InvalidData,
            $"{plan.Table}.{plan.Column} was not dropped: the table rebuilt without it did not verify: {why}. It was rolled back; nothing was changed, " +
            "and the column archive is kept for the next run.", plan.Table.ToString());

    /// <summary>
    /// Drops whose process died between the intent and the outcome (or whose COMMIT failed) are settled now, before this
    /// run plans anything (see <see cref="SettleAsync(IDatabaseEngine, DbConnection, ColumnRemovalRequest, IReadOnlyList{JournalEntry}, IOperationObserver, CancellationToken)"/>).
    /// </summary>
    private static async Task SettleUnfinishedAsync(IDatabaseEngine engine, DbConnection connection, ColumnRemovalRequest request, IOperationObserver observer,
        CancellationToken cancellationToken)
    {
        var source = request.Source;
        var entries = OperationsJournal.Open(request.JournalPath).Read().Where(e => e.IsAbout(source.Provider, source.Server, source.Database)).ToList();
        var settled = entries.Where(e => e.Id is not null && (e.Operation == JournalOperations.ColumnRemoved || e.Outcome == NotCommittedOutcome))
            .Select(e => e.Id).ToHashSet();
        var unsettled = entries.Where(e => e.Operation == JournalOperations.ColumnRemovalStarted && !settled.Contains(e.Id)).ToList();
        if (unsettled.Count > 0)
        {
            await SettleAsync(engine, connection, request, unsettled, observer, cancellationToken);
        }
    }

    /// <summary>
    /// The outcome of each intent, read from the live schema: a column gone from its table means the COMMIT took effect
    /// (ColumnRemoved); a column still there means it did not (the intent is voided, so it never explains a later drop).
    /// </summary>
    private static async Task SettleAsync(IDatabaseEngine engine, DbConnection connection, ColumnRemovalRequest request, IReadOnlyList<JournalEntry> intents,
        IOperationObserver observer, CancellationToken cancellationToken)
    {
        var schema = await SchemaReader.ReadAsync(engine, connection, cancellationToken);
        foreach (var intent in intents)
        {
            if (schema.Find(new TableRef(intent.Schema ?? "", intent.Table ?? "")) is { } table && table.FindColumn(intent.Column ?? "") is null)
            {
                observer.Verbose($"The removal of {intent.Schema}.{intent.Table}.{intent.Column} at {intent.Time:u} ended without a recorded outcome; the column is gone, " +
                                 "so its drop committed: recording it now.");
                OperationsJournal.Record(request.JournalPath, intent with { Time = DateTimeOffset.UtcNow, Operation = JournalOperations.ColumnRemoved }, observer);
            }
            else
            {
                OperationsJournal.Record(request.JournalPath, NotCommitted(intent), observer);
            }
        }
    }

    /// <summary>After a COMMIT whose connection failed: the outcome read on a new connection, if one can be had.</summary>
    private static async Task SettleAsync(IDatabaseEngine engine, ColumnRemovalRequest request, IReadOnlyList<JournalEntry> intents, IOperationObserver observer,
        CancellationToken cancellationToken)
    {
        try
        {
            await using var session = await engine.OpenReadOnlyAsync(request.Source, cancellationToken);
            await SettleAsync(engine, session.Connection, request, intents, observer, cancellationToken);
        }
        catch (Exception e) when (e is DbException or DbOpsException or InvalidOperationException)
        {
            observer.Warning($"Whether the drop of {intents[0].Table}.{intents[0].Column} committed could not be read ({e.Message}); the next Remove-DeprecatedColumn settles it.");
        }
    }

    /// <summary>Outcome of an intent whose drop did not commit (rolled back, or the column is still there).</summary>
    internal const string NotCommittedOutcome = "NotCommitted";

    private static JournalEntry NotCommitted(JournalEntry intent) =>
        intent with { Time = DateTimeOffset.UtcNow, Outcome = NotCommittedOutcome, Verified = false, Undo = null };

    /// <summary>The resolved column, its archive's key, its dependents (all named, or refused), how it goes, and all its statements in order.</summary>
    private sealed record Plan(TableRef Table, string Column, ColumnArchive Part, IReadOnlyList<ColumnDependent> Dependents, ColumnDrop Drop, IReadOnlyList<string> Statements);

    private static async Task<Plan> PlanOnAsync(IDatabaseEngine engine, DbConnection connection, ColumnRemovalRequest request, TableRef? locked,
        CancellationToken cancellationToken)
    {
        var schema = await SchemaReader.ReadAsync(engine, connection, cancellationToken);
        var table = locked is null ? schema.Resolve(request.Table)
            : schema.Find(locked) ?? throw new DbOpsException(ErrorIds.TableNotFound, ErrorKind.NotFound, $"Table {locked} no longer exists.", locked.ToString());
        var part = ColumnArchive.For(table, new ArchiveSelection(ArchiveScope.Columns, [], Columns: [request.Column]));
        var column = part.Archived[0];
        var dependents = await engine.Columns.DependentsAsync(connection, table, column, cancellationToken);
        var named = request.Dependents ?? [];
        bool IsNamed(ColumnDependent d) => named.Contains(d.Name, StringComparer.OrdinalIgnoreCase);
        var unnamed = dependents.Where(d => !IsNamed(d)).Select(d => d.Description).ToList();
        if (unnamed.Count > 0)
        {
            throw new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
                $"{table.Table}.{column} was not dropped: {unnamed.Count} object(s) depend on it: {string.Join("; ", unnamed)}. Nothing is dropped for you: " +
                "change them first, or name them with -Dependent to drop them with the column (their definitions are not archived).", table.Table.ToString());
        }
        if (dependents.FirstOrDefault(d => d.DropSql is null && !d.InDefinition) is { } stuck)
        {
            throw new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
                $"{table.Table}.{column} was not dropped: {stuck.Description} needs it and cannot be dropped on its own. Nothing was changed; " +
                "change or drop it by hand first.", table.Table.ToString());
        }
        if (named.FirstOrDefault(n => !dependents.Any(d => string.Equals(d.Name, n, StringComparison.OrdinalIgnoreCase))) is { } unknown)
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"-Dependent '{unknown}' names nothing that depends on {table.Table}.{column} (its dependents: " +
                $"{string.Join(", ", dependents.Select(d => d.Name).DefaultIfEmpty("none"))}). Nothing was changed.", unknown);
        }
        var drop = await engine.Columns.PlanDropAsync(connection, table, column, dependents, request.LockTimeout ?? RemovalRequest.DefaultLockTimeout, cancellationToken);
        return new Plan(table.Table, column, part, dependents, drop, [.. drop.Lock, .. drop.Drop, .. drop.Checks, "COMMIT"]);
    }

    private static string ManifestPathFor(ColumnRemovalRequest request, Plan plan) =>
        ArchiveManifest.PathFor(Path.GetFullPath(request.Destination), ArchiveExport.BaseName(plan.Part.BaseName(plan.Table)));

    /// <summary>The Import-TableArchive line that puts the column back (the password is never part of it).</summary>
    internal static string UndoLine(DbOpsConnection source, string manifestPath) =>
        $"Import-TableArchive -Path {UndoCommand.Quote(manifestPath)} -Database {UndoCommand.Database(source)}";

    private static Exception Map(Exception e, IDatabaseEngine engine, TableRef table, string column, TimeSpan lockTimeout) => (e, engine.RefusalOf(e)) switch
    {
        (DbOpsException, _) => e,
        (OperationCanceledException, _) => new DbOpsException(ErrorIds.OperationCanceled, ErrorKind.Canceled,
            $"Removing {table}.{column} was canceled and rolled back; the column is whole.", table.ToString(), e),
        (_, { Kind: RefusalKind.LockNotGranted }) => new DbOpsException(ErrorIds.LockTimeout, ErrorKind.ResourceUnavailable,
            $"{table}.{column} was not dropped: another session holds a lock on {table} and it was not granted within " +
            $"{lockTimeout.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms. Nothing was changed; run again when the table is idle, or with a longer -LockTimeout.",
            table.ToString(), e),
        (_, { Kind: RefusalKind.InsufficientPrivilege } refusal) => new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
            $"{table}.{column} was not dropped: {refusal.Reason}. Nothing was changed; run as the table's owner.", table.ToString(), e),
        // A dependent the catalog reads could not see (SQLite: one text matching missed; PostgreSQL: one made meanwhile).
        (DbException db, _) => new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
            $"{table}.{column} was not dropped: the database refused ({db.Message}). Nothing was changed; change what still needs the column first.",
            table.ToString(), e),
        _ => e,
    };
}
