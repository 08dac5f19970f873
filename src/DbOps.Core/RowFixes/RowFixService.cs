using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Diagnostics;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Integrity;
using DbOps.Core.IO;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Schema;

namespace DbOps.Core.RowFixes;

/// <summary>
/// Remove-TableRow and Update-TableRow: every fix keeps a verified image of what it changed. A fix (1) writes a verified
/// rows archive of the chosen rows' prior image; (2) takes the table's write lock and checks that the rows the condition
/// chooses are still exactly the archived ones; (3) deletes or updates them in one transaction, which (4) commits only
/// if the statement changed as many rows as were archived. Nothing is written when the condition matches no row, when
/// other tables' rows reference the rows, or when anything differs. With a batch size, steps (2)-(4) run once per
/// key-ordered batch of the archived rows, each batch its own transaction, and the same fix run again resumes.
/// </summary>
public static class RowFixService
{
    /// <summary>What the fix would do: its statements and the rows it would change (reads only; -WhatIf).</summary>
    public static async Task<RowFix> PlanAsync(RowFixRequest request, CancellationToken cancellationToken)
    {
        RequireBatching(request);
        var clock = Stopwatch.StartNew();
        var engine = DatabaseEngines.For(request.Source.Provider);
        var plan = await ReadPlanAsync(request, engine, cancellationToken);
        var batches = BatchCount(plan.Rows, request.BatchSize);
        var message = plan.Referencing.Count > 0 ? Referenced(plan).Message
            : Describe(request.Action, plan.Table, plan.Rows, "would") +
              (request.BatchSize is { } size && plan.Rows > 0 ? $" They would change in {batches} batch(es) of up to {size:N0} rows by key, each its own transaction." : "");
        return new RowFix(request.Source, plan.Table, request.Action, RowFixStatus.Planned, plan.Rows, plan.Condition, plan.Statements,
            plan.Survivors, message, clock.Elapsed, batches: batches);
    }

    /// <summary>Archives the chosen rows' prior image, then changes exactly those rows (see <see cref="RowFixService"/>).</summary>
    /// <exception cref="DbOpsException">
    /// RowConditionInvalid, RowKeyRequired, RowsReferenced, ArchiveStale, RowCountMismatch, LockTimeout, or what stopped the archive.
    /// </exception>
    public static async Task<RowFix> FixAsync(RowFixRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        RequireBatching(request);
        var clock = Stopwatch.StartNew();
        var engine = DatabaseEngines.For(request.Source.Provider);
        var plan = await ReadPlanAsync(request, engine, cancellationToken);
        if (plan.Rows == 0)
        {
            return new RowFix(request.Source, plan.Table, request.Action, RowFixStatus.NoRows, 0, plan.Condition, plan.Statements, [],
                $"No row of {plan.Table} matches {plan.Condition}; nothing was archived or changed.", clock.Elapsed, batches: 0);
        }
        if (plan.Referencing.Count > 0)
        {
            throw Referenced(plan);
        }
        var fix = new Fix(request, engine, plan, observer);
        return request.BatchSize is { } size
            ? await InBatchesAsync(fix, size, clock, cancellationToken)
            : await AtOnceAsync(fix, clock, cancellationToken);
    }

    /// <summary>One fix as it runs: what was asked, the engine, the plan, and where progress goes.</summary>
    private sealed record Fix(RowFixRequest Request, IDatabaseEngine Engine, Plan Plan, IOperationObserver Observer)
    {
        public TableRef Table => Plan.Table;

        public IRowFixDialect Dialect => Engine.RowFixes;

        public TimeSpan LockTimeout => Request.LockTimeout ?? RowFixRequest.DefaultLockTimeout;

        public string Activity => $"Fixing rows of {Table}";

        public TableRef BoundsTable => RowFixService.BoundsTable(Dialect);

        /// <summary>How the folders of this table's fixes of this kind begin under -Destination (a timestamp follows).</summary>
        public string FolderPrefix => $"{ArchiveExport.BaseName(Table)}.{Request.Action.ToString().ToLowerInvariant()}-";
    }

    /// <summary>The fix in one transaction: the prior image is loaded and checked under the lock, then the rows change.</summary>
    private static async Task<RowFix> AtOnceAsync(Fix fix, Stopwatch clock, CancellationToken cancellationToken)
    {
        var (request, engine, plan, observer) = fix;
        var table = fix.Table;
        var (manifest, manifestPath) = await ArchiveAsync(fix, cancellationToken);
        var prior = new TableContent(manifest.RowCount, manifest.Checksum);

        // (2)-(4) Under the lock: the archived rows are still the chosen ones; the change touches exactly them.
        observer.Progress(new OperationProgress(fix.Activity, "Checking the rows again under the lock", 50));
        await using var session = await engine.OpenWritableAsync(request.Source, cancellationToken);
        var connection = session.Connection;
        var committing = false;
        try
        {
            await using var transaction = await fix.Dialect.BeginLockedAsync(connection, table, fix.LockTimeout, cancellationToken);
            await LoadPriorImageAsync(engine, session, transaction, manifest, DataPath(manifest, manifestPath), table, cancellationToken);
            var after = await ChangeAsync(fix, connection, transaction, manifest, manifestPath, plan, prior, plan.Conditions.MatchesPrior(fix.Dialect.PriorImageTable),
                $"The rows of {table} that {plan.Condition} chooses", "Nothing was changed", cancellationToken);
            // What the fix leaves is recorded before COMMIT: an undo puts the prior image back only over exactly that.
            RowFixAfterImage.Write(manifestPath, request.Action, after);
            await connection.ExecuteAsync(new CommandDefinition($"DROP TABLE {fix.Dialect.PriorImageTable.ToQuotedName()}", transaction: transaction,
                cancellationToken: cancellationToken));
            committing = true;
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception e) when (committing && e is DbException or InvalidOperationException)
        {
            throw new DbOpsException(ErrorIds.RowFixFailed, ErrorKind.OperationFailed,
                $"The COMMIT of the fix on {table} failed ({e.Message}); whether it took effect is unknown. The prior image is in '{manifestPath}' either way; " +
                $"{Undo(request.Source, manifestPath)} puts it back once you see the rows changed.", table.ToString(), e);
        }
        catch (Exception e)
        {
            throw Map(e, engine, table, fix.LockTimeout);
        }

        var entry = Entry(fix, manifest, manifestPath);
        OperationsJournal.Record(request.JournalPath, entry, observer);
        observer.Progress(new OperationProgress(fix.Activity, "Done", 100));
        return new RowFix(request.Source, table, request.Action, RowFixStatus.Fixed, prior.Rows, plan.Condition, plan.Statements, plan.Survivors,
            $"{Describe(request.Action, table, prior.Rows, "did")} Their prior image is in '{manifestPath}'; undo: {entry.Undo}", clock.Elapsed,
            manifestPath, prior.Checksum, entry.Undo);
    }

    /// <summary>
    /// The fix in key-ordered batches of the archived rows, each batch its own locked transaction that checks its rows
    /// against the archive again and commits only if it changed exactly them. The record beside the archive says before
    /// each COMMIT how far the fix got, so the same fix run again after a kill resumes with the same archive (see
    /// <see cref="ResumeAsync"/>); a fix stopped by an error journals how far it got as Partial.
    /// </summary>
    private static async Task<RowFix> InBatchesAsync(Fix fix, int size, Stopwatch clock, CancellationToken cancellationToken)
    {
        var (request, engine, plan, observer) = fix;
        var (table, dialect) = (fix.Table, fix.Dialect);
        var fingerprint = Fingerprint(request.Action, plan);
        await using var session = await engine.OpenWritableAsync(request.Source, cancellationToken);
        var connection = session.Connection;
        var (manifest, manifestPath, record, first) = await ResumeAsync(fix, session, fingerprint, cancellationToken) ?? await BeginAsync(fix, session, size, fingerprint, cancellationToken);
        var batches = record.Batches!;
        var total = manifest.RowCount;
        var undo = Undo(request.Source, manifestPath);
        var done = first;
        var committing = false;
        string HowFar() => done switch
        {
            0 => "no batch was changed",
            1 => $"batch 1 of {batches.Count} ({batches.RowsIn(1, total):N0} rows) stays changed, which {undo} puts back",
            _ => $"batches 1-{done} of {batches.Count} ({batches.RowsIn(done, total):N0} rows) stay changed, which {undo} puts back",
        };
        try
        {
            while (done < batches.Count)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var range = plan.Conditions.BatchRange(table, fix.BoundsTable, done, batches.Count);
                var part = range is null ? plan : plan with { Condition = $"({plan.Condition}) AND {range}" };
                await using var transaction = await dialect.BeginLockedAsync(connection, table, fix.LockTimeout, cancellationToken);
                var prior = await TableChecksum.ComputeAsync(engine, connection, transaction, dialect.PriorImageTable, manifest.ColumnNames, cancellationToken,
                    plan.Conditions.BatchRange(dialect.PriorImageTable, fix.BoundsTable, done, batches.Count));
                var after = await ChangeAsync(fix, connection, transaction, manifest, manifestPath, part, prior,
                    plan.Conditions.MatchesPrior(dialect.PriorImageTable) + (range is null ? "" : $" AND {range}"),
                    $"Batch {done + 1} of {batches.Count} of the rows of {table} that {plan.Condition} chooses", $"That batch was not changed; {HowFar()}", cancellationToken);
                record = record.AfterBatch(prior, after);
                RowFixAfterImage.Write(manifestPath, record);
                committing = true;
                await transaction.CommitAsync(cancellationToken);
                committing = false;
                done++;
                FaultPoint.Reach(FaultPoint.RowFixBatchCommitted);
                observer.Progress(new OperationProgress(fix.Activity,
                    $"Batch {done} of {batches.Count}: {batches.RowsIn(done, total):N0} of {total:N0} rows changed", (int)(100L * done / batches.Count)));
                if (request.Pause > TimeSpan.Zero && done < batches.Count)
                {
                    await Task.Delay(request.Pause, cancellationToken);
                }
            }
        }
        catch (Exception e)
        {
            var error = committing && e is DbException or InvalidOperationException
                ? new DbOpsException(ErrorIds.RowFixFailed, ErrorKind.OperationFailed,
                    $"The COMMIT of batch {done + 1} of the fix on {table} failed ({e.Message}); whether it took effect is unknown. Run the same fix again: " +
                    $"it sees which batches took effect and finishes the rest; {undo} puts every changed row back.", table.ToString(), e)
                : Map(e, engine, table, fix.LockTimeout);
            if (done > first)
            {
                // Batches of this run committed: the journal says how far the fix got, so it matches the database.
                OperationsJournal.Record(request.JournalPath, Entry(fix, manifest, manifestPath, batches, done) with
                {
                    Rows = batches.RowsIn(done, total),
                    Checksum = null,
                    Verified = false,
                    Outcome = "Partial",
                }, observer);
            }
            if (done > 0 && error is DbOpsException known && !known.Message.Contains(HowFar(), StringComparison.Ordinal))
            {
                throw new DbOpsException(known.ErrorId, known.Kind, $"{known.Message} Before that, {HowFar()}; running the same fix again finishes it.",
                    known.Target, known.InnerException ?? e);
            }
            throw error;
        }

        var entry = Entry(fix, manifest, manifestPath, batches, done, first);
        OperationsJournal.Record(request.JournalPath, entry, observer);
        observer.Progress(new OperationProgress(fix.Activity, "Done", 100));
        var resumed = first == 0 ? "" : $" It resumed the fix archived in '{manifestPath}', whose first {first} batch(es) were done before.";
        return new RowFix(request.Source, table, request.Action, RowFixStatus.Fixed, total, plan.Condition, plan.Statements, plan.Survivors,
            $"{Describe(request.Action, table, total, "did")} They changed in {batches.Count} batch(es) of up to {batches.Size:N0}.{resumed} Their prior image is in '{manifestPath}'; undo: {undo}",
            clock.Elapsed, manifestPath, manifest.Checksum, undo, batches.Count);
    }

    /// <summary>A fix in batches that starts: its archive, the prior image loaded, and the record that no batch is done yet.</summary>
    private static async Task<Started> BeginAsync(Fix fix, WritableSession session, int size, string fingerprint, CancellationToken cancellationToken)
    {
        var (manifest, manifestPath) = await ArchiveAsync(fix, cancellationToken);
        await using (var scratch = await fix.Dialect.BeginScratchAsync(session.Connection, cancellationToken))
        {
            await LoadBatchesAsync(fix, session, scratch, manifest, manifestPath, size, cancellationToken);
            await scratch.CommitAsync(cancellationToken);
        }
        var record = new RowFixAfterImage(fix.Request.Action, manifest.RowCount, manifest.Checksum)
        {
            Batches = new RowFixBatches(size, BatchCount(manifest.RowCount, size), 0, fingerprint, null),
        };
        RowFixAfterImage.Write(manifestPath, record);
        return new Started(manifest, manifestPath, record, 0);
    }

    /// <summary>
    /// The same fix in batches, begun earlier and not finished: the newest archive under -Destination whose record names
    /// this fix (table, condition, statement and values) and whose archived keys hold exactly what its batches left, so
    /// nothing else changed them since. Its prior image is loaded and its batches go on from the first not committed
    /// (a batch whose record was written but whose COMMIT never happened is done again). Null when there is none.
    /// </summary>
    private static async Task<Started?> ResumeAsync(Fix fix, WritableSession session, string fingerprint, CancellationToken cancellationToken)
    {
        var (request, engine, plan, observer) = fix;
        var folder = Path.GetFullPath(request.ArchiveFolder);
        var (candidate, record) = !Directory.Exists(folder) ? default : Directory.EnumerateDirectories(folder)
            .Where(d => Path.GetFileName(d).StartsWith(fix.FolderPrefix, StringComparison.Ordinal))
            .OrderDescending(StringComparer.Ordinal)
            .SelectMany(d => Directory.EnumerateFiles(d, "*" + ArchiveManifest.Suffix))
            .Select(path => (path, RowFixAfterImage.Read(path)))
            .FirstOrDefault(c => c.Item2?.Batches?.Request == fingerprint);
        if (candidate is null || record?.Batches is not { } batches)
        {
            return null;
        }
        ArchiveManifest manifest;
        string manifestPath;
        try
        {
            (manifest, manifestPath, _) = ArchiveManifest.Load(candidate);
        }
        catch (DbOpsException e)
        {
            observer.Warning($"The unfinished fix archived in '{candidate}' cannot be resumed ({e.Message}); the fix starts again with a new archive.");
            return null;
        }
        var source = request.Source;
        if (manifest.Provider != source.Provider || manifest.Database != source.Database || manifest.Server != source.Server
            || manifest.TableRef != fix.Table || manifest.Where != plan.Condition)
        {
            return null;
        }

        await using var scratch = await fix.Dialect.BeginScratchAsync(session.Connection, cancellationToken);
        await LoadBatchesAsync(fix, session, scratch, manifest, manifestPath, batches.Size, cancellationToken);
        var now = await TableChecksum.ComputeAsync(engine, session.Connection, scratch, fix.Table, manifest.ColumnNames, cancellationToken,
            plan.Conditions.MatchesPrior(fix.Dialect.PriorImageTable));
        if (!record.Left(now) || (now == record.Content && batches.Done == batches.Count))
        {
            // Finished, or the rows changed since: this run is a fix of its own.
            await scratch.RollbackAsync(cancellationToken);
            return null;
        }
        await scratch.CommitAsync(cancellationToken);
        if (now != record.Content)
        {
            // The last batch the record counts never committed: it is done again.
            record = record with { Rows = now.Rows, Checksum = now.Checksum, Batches = batches with { Done = batches.Done - 1, Before = null } };
        }
        var done = record.Batches!.Done;
        observer.Verbose($"Resuming the fix archived in '{manifestPath}': {done} of {batches.Count} batch(es) were done.");
        return new Started(manifest, manifestPath, record, done);
    }

    /// <summary>A fix in batches ready to run: its archive, its record, and the first batch still to do.</summary>
    private sealed record Started(ArchiveManifest Manifest, string ManifestPath, RowFixAfterImage Record, int First);

    /// <summary>
    /// Loads the prior image into the session, where it stays across the batches' transactions (the session ends with the
    /// fix), indexed by key, and numbers its batches in key order. Only temporary tables are written.
    /// </summary>
    private static async Task LoadBatchesAsync(Fix fix, WritableSession session, DbTransaction scratch, ArchiveManifest manifest, string manifestPath, int size,
        CancellationToken cancellationToken)
    {
        var dialect = fix.Dialect;
        await LoadPriorImageAsync(fix.Engine, session, scratch, manifest, DataPath(manifest, manifestPath), fix.Table, cancellationToken);
        foreach (var sql in dialect.IndexPriorImageSql(fix.Plan.Key).Append(fix.Plan.Conditions.BatchBoundsSql(fix.BoundsTable, dialect.PriorImageTable, size, manifest.RowCount)))
        {
            await session.Connection.ExecuteAsync(new CommandDefinition(sql, transaction: scratch, commandTimeout: 0, cancellationToken: cancellationToken));
        }
    }

    /// <summary>(1) The prior image, verified by loading it into a scratch table, in a folder of this fix's own.</summary>
    private static async Task<(ArchiveManifest Manifest, string ManifestPath)> ArchiveAsync(Fix fix, CancellationToken cancellationToken)
    {
        var (request, _, plan, observer) = fix;
        var table = fix.Table;
        observer.Progress(new OperationProgress(fix.Activity, "Archiving the rows' prior image", 0));
        var folder = Path.Combine(Path.GetFullPath(request.ArchiveFolder), $"{fix.FolderPrefix}{DateTimeOffset.UtcNow:yyyyMMdd'T'HHmmssfff'Z'}");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(request.Source, table.ToQuotedName(), folder, Verify: true,
            JournalPath: request.JournalPath, Selection: new ArchiveSelection(ArchiveScope.Rows, plan.Key, plan.Condition)), observer, cancellationToken);
        if (!archive.Verified)
        {
            throw new DbOpsException(archive.VerifyErrorId ?? ErrorIds.ArchiveVerificationFailed, ErrorKind.InvalidData,
                $"The archive of the rows of {table} could not be verified ({archive.VerifyReason}); nothing was changed. It is kept in '{folder}'.",
                archive.ManifestPath);
        }
        var (manifest, manifestPath, _) = ArchiveManifest.Load(archive.ManifestPath);
        return (manifest, manifestPath);
    }

    /// <summary>
    /// Steps (2)-(4) in the fix's locked transaction, for the rows <paramref name="part"/> chooses: they are still exactly
    /// <paramref name="prior"/>; with the tables that reference them locked too, no other table's rows reference them; the
    /// statement changes exactly them. Returns what it left at their keys (<paramref name="archivedKeys"/>), for the caller
    /// to record before its COMMIT. <paramref name="rows"/> names the rows and <paramref name="unchanged"/> says what
    /// stays as it was, in the messages of a refusal.
    /// </summary>
    private static async Task<TableContent> ChangeAsync(Fix fix, DbConnection connection, DbTransaction transaction, ArchiveManifest manifest, string manifestPath,
        Plan part, TableContent prior, string archivedKeys, string rows, string unchanged, CancellationToken cancellationToken)
    {
        var (request, engine, plan, _) = fix;
        var table = fix.Table;
        var live = await TableChecksum.ComputeAsync(engine, connection, transaction, table, manifest.ColumnNames, cancellationToken, part.Condition);
        if (live != prior)
        {
            throw new DbOpsException(ErrorIds.ArchiveStale, ErrorKind.InvalidState,
                $"{rows} changed after they were archived: they are now {live.Rows} rows with checksum {live.Checksum}, '{manifestPath}' holds {prior.Rows} " +
                $"with {prior.Checksum}. {unchanged}; run the fix again.", table.ToString());
        }
        var schema = await LockReferencingAsync(fix, connection, transaction, cancellationToken);
        if (await ReferencingRowsAsync(engine, connection, transaction, part with { Schema = schema }, cancellationToken) is { Count: > 0 } referencing)
        {
            throw Referenced(plan with { Referencing = referencing }, unchanged);
        }
        var affected = await connection.ExecuteAsync(new CommandDefinition(part.Statement, part.Parameters, transaction, commandTimeout: 0,
            cancellationToken: cancellationToken));
        FaultPoint.Reach(FaultPoint.RowFixApplied);
        var after = await TableChecksum.ComputeAsync(engine, connection, transaction, table, manifest.ColumnNames, cancellationToken, archivedKeys);
        var left = request.Action == RowFixAction.Remove ? 0 : prior.Rows;
        if (affected != prior.Rows || after.Rows != left)
        {
            throw new DbOpsException(ErrorIds.RowCountMismatch, ErrorKind.InvalidState,
                $"The {request.Action.ToString().ToUpperInvariant()} on {table} changed {affected} rows, leaving {after.Rows} of the archived keys, " +
                $"but {prior.Rows} rows were archived; it was rolled back. {unchanged}.", table.ToString());
        }
        return after;
    }

    /// <summary>
    /// Reads the foreign keys again under the fix's lock, on a connection of its own (adding a foreign key that points at
    /// the table needs a lock the fix holds, so none can appear after this read), and locks the tables that hold those the
    /// change affects, so no row there can start to reference the fixed rows before the COMMIT. A foreign key with ON
    /// DELETE CASCADE or SET NULL counts like any other: the check refuses rather than let the change reach another table.
    /// </summary>
    private static async Task<DatabaseSchema> LockReferencingAsync(Fix fix, DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        DatabaseSchema schema;
        await using (var read = await fix.Engine.OpenReadOnlyAsync(fix.Request.Source, cancellationToken))
        {
            schema = await SchemaReader.ReadAsync(fix.Engine, read.Connection, cancellationToken);
        }
        var tables = Affected(fix.Plan with { Schema = schema }).Select(fk => fk.Table).Where(t => t != fix.Table).Distinct().ToList();
        foreach (var sql in fix.Dialect.LockReferencingStatements(tables))
        {
            await connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, cancellationToken: cancellationToken));
        }
        return schema;
    }

    /// <summary>The foreign keys the change affects: all that point at the table for a removal; for an update, those on columns it sets.</summary>
    private static IEnumerable<ForeignKeyInfo> Affected(Plan plan) =>
        plan.Schema.ForeignKeysReferencing(plan.Table).Where(fk => plan.SetColumns is not { } set || fk.ReferencedColumns.Intersect(set).Any());

    /// <summary>The journal line of a fix: with <paramref name="batches"/>, how many it ran in (and from which one this run resumed).</summary>
    private static JournalEntry Entry(Fix fix, ArchiveManifest manifest, string manifestPath, RowFixBatches? batches = null, int done = 0, int first = 0)
    {
        Dictionary<string, double>? figures = batches is null ? null : new()
        {
            ["batches"] = done,
            ["batchCount"] = batches.Count,
            ["batchSize"] = batches.Size,
        };
        if (first > 0)
        {
            figures!["resumedAtBatch"] = first + 1;
        }
        return JournalEntry.For(fix.Request.Source, fix.Request.Action == RowFixAction.Remove ? JournalOperations.RowsRemoved : JournalOperations.RowsUpdated) with
        {
            Schema = fix.Table.Schema,
            Table = fix.Table.Name,
            Rows = manifest.RowCount,
            Figures = figures,
            Path = manifestPath,
            Checksum = manifest.Checksum,
            Sha256 = manifest.Data.Sha256,
            Verified = true,
            Undo = Undo(fix.Request.Source, manifestPath),
        };
    }

    private static void RequireBatching(RowFixRequest request)
    {
        if (request.BatchSize is < 1 || request.Pause < TimeSpan.Zero)
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"-BatchSize must be at least 1 and -Pause not negative (got {request.BatchSize} and {request.Pause}).");
        }
    }

    /// <summary>The batches' bounds, beside the prior image in the session's temporary schema.</summary>
    private static TableRef BoundsTable(IRowFixDialect dialect) => new(dialect.PriorImageTable.Schema, "dbops_batch_bounds");

    private static int BatchCount(long rows, int? size) => size is { } s ? checked((int)((rows + s - 1) / s)) : rows > 0 ? 1 : 0;

    /// <summary>What identifies a fix for a rerun to resume it: its statement (table, SET list, condition) and its values.</summary>
    private static string Fingerprint(RowFixAction action, Plan plan)
    {
        var values = (plan.Parameters ?? []).OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{p.Key}={p.Value.GetType().FullName}:{Convert.ToString(p.Value, CultureInfo.InvariantCulture)}");
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", [action.ToString(), plan.Statement, .. values]))));
    }

    private static string DataPath(ArchiveManifest manifest, string manifestPath) => Path.Combine(Path.GetDirectoryName(manifestPath)!, manifest.Data.Name);

    /// <summary>Import-TableArchive -Mode Upsert for the archive at <paramref name="manifestPath"/>, as a line to run.</summary>
    internal static string Undo(DbOpsConnection source, string manifestPath) =>
        $"Import-TableArchive -Path {UndoCommand.Quote(manifestPath)} -Database {UndoCommand.Database(source)} -Mode Upsert";

    /// <summary>
    /// Loads a rows archive's data file into the session's prior-image table: the file's SHA-256, count and checksum
    /// are proved on the way, so what is matched against the live table is what the archive restores.
    /// </summary>
    internal static async Task LoadPriorImageAsync(IDatabaseEngine engine, WritableSession session, DbTransaction transaction, ArchiveManifest manifest,
        string dataPath, TableRef table, CancellationToken cancellationToken)
    {
        await engine.Archive.UseCanonicalTextAsync(session.Connection, cancellationToken);
        await session.Connection.ExecuteAsync(new CommandDefinition(engine.RowFixes.CreatePriorImageTableSql(table, manifest.ColumnNames),
            transaction: transaction, cancellationToken: cancellationToken));
        var loaded = await ArchiveImport.LoadAsync(manifest, dataPath, session, transaction, engine.RowFixes.PriorImageTable, freeze: false, _ => { },
            cancellationToken);
        if (loaded != new TableContent(manifest.RowCount, manifest.Checksum))
        {
            throw ArchiveManifest.Corrupt(dataPath,
                $"the data file holds {loaded.Rows} rows with checksum {loaded.Checksum}, the manifest records {manifest.RowCount} rows with {manifest.Checksum}");
        }
    }

    private static string Describe(RowFixAction action, TableRef table, long rows, string tense) =>
        $"{(tense == "did" ? action == RowFixAction.Remove ? "Removed" : "Updated" : action == RowFixAction.Remove ? "Would remove" : "Would update")} " +
        $"{rows.ToString("N0", CultureInfo.InvariantCulture)} row(s) of {table}.";

    /// <summary>A fix as the reads before it see it.</summary>
    private sealed record Plan(RowConditions Conditions, TableRef Table, IReadOnlyList<string> Key, string Condition, string Head,
        Dictionary<string, object>? Parameters, IReadOnlyList<string>? SetColumns, IReadOnlyList<string> Statements, long Rows,
        IReadOnlyList<string> Referencing, IReadOnlyList<string> Survivors, DatabaseSchema Schema)
    {
        /// <summary>The DELETE or UPDATE of the rows <see cref="Condition"/> chooses.</summary>
        public string Statement => $"{Head} WHERE {Condition}";
    }

    /// <summary>Resolves the table and its key, builds and checks the statement, and counts what it would touch, on a read-only connection.</summary>
    private static async Task<Plan> ReadPlanAsync(RowFixRequest request, IDatabaseEngine engine, CancellationToken cancellationToken)
    {
        await using var session = await engine.OpenReadOnlyAsync(request.Source, cancellationToken);
        var connection = session.Connection;
        var schema = await SchemaReader.ReadAsync(engine, connection, cancellationToken);
        var tableSchema = request.Table is { } name ? schema.Resolve(name)
            : request.Findings?.FirstOrDefault()?.TableRef is { } found ? schema.Find(found) ?? schema.Resolve(found.ToQuotedName())
            : throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument, "Name the table (-Table), or pipe findings about it.", null);
        var table = tableSchema.Table;
        var key = tableSchema.PrimaryKey?.Columns
            ?? throw new DbOpsException(ErrorIds.RowKeyRequired, ErrorKind.InvalidState,
                $"{table} has no primary key, so the rows a fix changes could not be found again to undo it. Nothing was written; add a primary key first.",
                table.ToString());
        if ((await engine.RowFixes.InheritorsAsync(connection, table, cancellationToken)) is { Count: > 0 } inheritors)
        {
            throw new DbOpsException(ErrorIds.RowTableInherited, ErrorKind.InvalidState,
                $"{table} is inherited by {string.Join(", ", inheritors)}: a fix through it would change their rows too, and its undo would put " +
                "those rows back into it, not into them. Nothing was written; fix the rows of each of those tables by its own name.", table.ToString());
        }
        var conditions = new RowConditions(engine, tableSchema, key);
        var condition = conditions.Choose(request);
        string head;
        Dictionary<string, object>? parameters = null;
        IReadOnlyList<string>? setColumns = null;
        IReadOnlyList<string> setExpressions = [];
        if (request.Action == RowFixAction.Remove)
        {
            head = $"DELETE FROM {table.ToQuotedName()}";
        }
        else
        {
            var (clause, values, columns, expressions) = conditions.Set(request.Set ?? new Dictionary<string, object?>());
            (parameters, setColumns, setExpressions) = (values, columns, expressions);
            head = $"UPDATE {table.ToQuotedName()} SET {clause}";
        }
        var plan = new Plan(conditions, table, key, condition, head, parameters, setColumns, [], 0, [], [], schema);

        var from = $"FROM {table.ToQuotedName()} WHERE {condition}";
        long rows;
        try
        {
            rows = await connection.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT count(*) {from}", cancellationToken: cancellationToken, commandTimeout: 0));
            if (setExpressions.Count > 0)
            {
                // The SET expressions are evaluated once on this read-only connection: one that writes, or does not
                // fit the table, is refused here rather than under the lock.
                await connection.ExecuteAsync(new CommandDefinition($"SELECT {string.Join(", ", setExpressions)} {from} LIMIT 1", parameters,
                    cancellationToken: cancellationToken, commandTimeout: 0));
            }
        }
        catch (DbException e)
        {
            throw new DbOpsException(ErrorIds.RowConditionInvalid, ErrorKind.InvalidArgument,
                $"The fix on {table} cannot run ({FirstLine(e.Message)}): {plan.Statement}. Nothing was written.", condition, e);
        }
        plan = plan with { Rows = rows, Statements = Statements(engine, request, plan with { Rows = rows }) };
        if (rows > 0)
        {
            plan = plan with { Referencing = await ReferencingRowsAsync(engine, connection, null, plan, cancellationToken) };
        }
        if (conditions.Survivors(request, condition) is { } survivors)
        {
            plan = plan with { Survivors = await KeysAsync(connection, null, conditions, survivors, cancellationToken) };
        }
        return plan;
    }

    /// <summary>
    /// What -WhatIf shows, in the order it runs: the locks, then the change (in batches: the statement of one batch, its
    /// key bounds read from the batches' table), then COMMIT. The prior-image checks run between the locks and the change.
    /// </summary>
    private static IReadOnlyList<string> Statements(IDatabaseEngine engine, RowFixRequest request, Plan plan)
    {
        var dialect = engine.RowFixes;
        var count = BatchCount(plan.Rows, request.BatchSize);
        var range = request.BatchSize is null ? null
            : plan.Conditions.BatchRange(plan.Table, BoundsTable(dialect), Math.Min(1, count - 1), count);
        var change = range is null ? plan : plan with { Condition = $"({plan.Condition}) AND {range}" };
        var referencing = Affected(plan).Select(fk => fk.Table).Where(t => t != plan.Table).Distinct().ToList();
        return [.. dialect.LockStatements(plan.Table, request.LockTimeout ?? RowFixRequest.DefaultLockTimeout), .. dialect.LockReferencingStatements(referencing),
            change.Statement, "COMMIT"];
    }

    private static async Task<IReadOnlyList<string>> KeysAsync(DbConnection connection, DbTransaction? transaction, RowConditions conditions,
        string where, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT {conditions.KeyList} FROM {conditions.Table.ToQuotedName()} WHERE {where} ORDER BY {conditions.KeyList} LIMIT 10";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(IntegritySql.FormatKey(reader, 0));
        }
        return keys;
    }

    /// <summary>
    /// Rows of other tables whose foreign keys point at the chosen rows (for an update: at columns it sets), up to 10 per
    /// key, in words. Deleting or re-keying them would break the reference, or cascade to rows no archive holds.
    /// </summary>
    private static async Task<IReadOnlyList<string>> ReferencingRowsAsync(IDatabaseEngine engine, DbConnection connection, DbTransaction? transaction,
        Plan plan, CancellationToken cancellationToken)
    {
        var found = new List<string>();
        foreach (var fk in Affected(plan))
        {
            var child = plan.Schema.Find(fk.Table);
            var childKey = child?.PrimaryKey?.Columns ?? fk.Columns;
            string Of(string column) => $"dbops_child.{engine.QuoteIdentifier(column)}";
            var match = string.Join(" AND ", fk.Columns.Zip(fk.ReferencedColumns, (c, p) => $"{plan.Conditions.Column(p)} = {Of(c)}"));
            var keys = string.Join(", ", childKey.Select(Of));
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"SELECT {keys} FROM {fk.Table.ToQuotedName()} AS dbops_child " +
                                  $"WHERE EXISTS (SELECT 1 FROM {plan.Table.ToQuotedName()} WHERE ({plan.Condition}) AND {match}) ORDER BY {keys} LIMIT 10";
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var rows = new List<string>();
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add(IntegritySql.FormatKey(reader, 0));
            }
            if (rows.Count > 0)
            {
                found.Add($"{fk.Table} rows with ({string.Join(", ", childKey)}) {string.Join(", ", rows)}{(rows.Count == 10 ? ", ..." : "")} " +
                          $"(foreign key {fk.Name}: {string.Join(", ", fk.Columns)} -> {string.Join(", ", fk.ReferencedColumns)})");
            }
        }
        return found;
    }

    private static DbOpsException Referenced(Plan plan, string unchanged = "Nothing was written") =>
        new(ErrorIds.RowsReferenced, ErrorKind.InvalidState,
            $"Rows of other tables reference the rows of {plan.Table} that {plan.Condition} chooses: {string.Join("; ", plan.Referencing)}. " +
            $"{unchanged}; fix the referencing rows first, or narrow the condition.", plan.Table.ToString());

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    private static Exception Map(Exception e, IDatabaseEngine engine, TableRef table, TimeSpan lockTimeout) => (e, engine.RefusalOf(e)) switch
    {
        (DbOpsException, _) => e,
        (OperationCanceledException, _) => new DbOpsException(ErrorIds.OperationCanceled, ErrorKind.Canceled,
            $"The fix on {table} was canceled and rolled back; no row changed.", table.ToString(), e),
        (_, { Kind: RefusalKind.LockNotGranted }) => new DbOpsException(ErrorIds.LockTimeout, ErrorKind.ResourceUnavailable,
            $"The rows of {table} were not changed: another session holds a lock on it (or on a table that references it) and it was not granted within {lockTimeout.TotalMilliseconds:0} ms. " +
            "Run again when the table is idle, or with a longer -LockTimeout.", table.ToString(), e),
        (_, { Kind: RefusalKind.InsufficientPrivilege } refusal) => new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
            $"The rows of {table} were not changed: {refusal.Reason}.", table.ToString(), e),
        (DbException db, _) => new DbOpsException(ErrorIds.RowFixFailed, ErrorKind.OperationFailed,
            $"The fix on {table} failed and was rolled back; no row changed: {FirstLine(db.Message)}", table.ToString(), e),
        _ => e,
    };
}
