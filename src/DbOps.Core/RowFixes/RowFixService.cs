using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
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
/// other tables' rows reference the rows, or when anything differs.
/// </summary>
public static class RowFixService
{
    /// <summary>What the fix would do: its statements and the rows it would change (reads only; -WhatIf).</summary>
    public static async Task<RowFix> PlanAsync(RowFixRequest request, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var engine = DatabaseEngines.For(request.Source.Provider);
        var plan = await ReadPlanAsync(request, engine, cancellationToken);
        return new RowFix(request.Source, plan.Table, request.Action, RowFixStatus.Planned, plan.Rows, plan.Condition, plan.Statements,
            plan.Survivors, plan.Referencing.Count > 0 ? Referenced(plan).Message : Describe(request.Action, plan.Table, plan.Rows, "would"),
            clock.Elapsed);
    }

    /// <summary>Archives the chosen rows' prior image, then changes exactly those rows (see <see cref="RowFixService"/>).</summary>
    /// <exception cref="DbOpsException">
    /// RowConditionInvalid, RowKeyRequired, RowsReferenced, ArchiveStale, RowCountMismatch, LockTimeout, or what stopped the archive.
    /// </exception>
    public static async Task<RowFix> FixAsync(RowFixRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var source = request.Source;
        var engine = DatabaseEngines.For(source.Provider);
        var plan = await ReadPlanAsync(request, engine, cancellationToken);
        var table = plan.Table;
        if (plan.Rows == 0)
        {
            return new RowFix(source, table, request.Action, RowFixStatus.NoRows, 0, plan.Condition, plan.Statements, [],
                $"No row of {table} matches {plan.Condition}; nothing was archived or changed.", clock.Elapsed);
        }
        if (plan.Referencing.Count > 0)
        {
            throw Referenced(plan);
        }

        // (1) The prior image, verified by loading it into a scratch table, in a folder of this fix's own.
        observer.Progress(new OperationProgress($"Fixing rows of {table}", "Archiving the rows' prior image", 0));
        var folder = Path.Combine(Path.GetFullPath(request.ArchiveFolder),
            $"{ArchiveExport.BaseName(table)}.{request.Action.ToString().ToLowerInvariant()}-{DateTimeOffset.UtcNow:yyyyMMdd'T'HHmmssfff'Z'}");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, table.ToQuotedName(), folder, Verify: true,
            JournalPath: request.JournalPath, Selection: new ArchiveSelection(ArchiveScope.Rows, plan.Key, plan.Condition)), observer, cancellationToken);
        if (!archive.Verified)
        {
            throw new DbOpsException(archive.VerifyErrorId ?? ErrorIds.ArchiveVerificationFailed, ErrorKind.InvalidData,
                $"The archive of the rows of {table} could not be verified ({archive.VerifyReason}); nothing was changed. It is kept in '{folder}'.",
                archive.ManifestPath);
        }
        var (manifest, manifestPath, _) = ArchiveManifest.Load(archive.ManifestPath);
        var prior = new TableContent(manifest.RowCount, manifest.Checksum);

        // (2)-(4) Under the lock: the archived rows are still the chosen ones; the change touches exactly them.
        observer.Progress(new OperationProgress($"Fixing rows of {table}", "Checking the rows again under the lock", 50));
        var dialect = engine.RowFixes;
        var lockTimeout = request.LockTimeout ?? RowFixRequest.DefaultLockTimeout;
        await using var session = await engine.OpenWritableAsync(source, cancellationToken);
        var connection = session.Connection;
        var committing = false;
        TableContent after;
        try
        {
            await using var transaction = await dialect.BeginLockedAsync(connection, table, lockTimeout, cancellationToken);
            Task<int> Execute(string sql, object? parameters = null) =>
                connection.ExecuteAsync(new CommandDefinition(sql, parameters, transaction, commandTimeout: 0, cancellationToken: cancellationToken));

            await LoadPriorImageAsync(engine, session, transaction, manifest, Path.Combine(Path.GetDirectoryName(manifestPath)!, manifest.Data.Name), table, cancellationToken);
            var live = await TableChecksum.ComputeAsync(engine, connection, transaction, table, manifest.ColumnNames, cancellationToken, plan.Condition);
            if (live != prior)
            {
                throw new DbOpsException(ErrorIds.ArchiveStale, ErrorKind.InvalidState,
                    $"The rows of {table} that {plan.Condition} chooses changed after they were archived: they are now {live.Rows} rows with checksum " +
                    $"{live.Checksum}, '{manifestPath}' holds {prior.Rows} with {prior.Checksum}. Nothing was changed; run the fix again.", table.ToString());
            }
            if (await ReferencingRowsAsync(engine, connection, transaction, plan, cancellationToken) is { Count: > 0 } referencing)
            {
                throw Referenced(plan with { Referencing = referencing });
            }
            var affected = await Execute(plan.Statement, plan.Parameters);
            FaultPoint.Reach(FaultPoint.RowFixApplied);
            after = await TableChecksum.ComputeAsync(engine, connection, transaction, table, manifest.ColumnNames, cancellationToken,
                plan.Conditions.MatchesPrior(dialect.PriorImageTable));
            var left = request.Action == RowFixAction.Remove ? 0 : prior.Rows;
            if (affected != prior.Rows || after.Rows != left)
            {
                throw new DbOpsException(ErrorIds.RowCountMismatch, ErrorKind.InvalidState,
                    $"The {request.Action.ToString().ToUpperInvariant()} on {table} changed {affected} rows, leaving {after.Rows} of the archived keys, " +
                    $"but {prior.Rows} rows were archived; it was rolled back. Nothing was changed.", table.ToString());
            }
            // What the fix leaves is recorded before COMMIT: an undo puts the prior image back only over exactly that.
            RowFixAfterImage.Write(manifestPath, request.Action, after);
            await Execute($"DROP TABLE {dialect.PriorImageTable.ToQuotedName()}");
            committing = true;
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception e) when (committing && e is DbException or InvalidOperationException)
        {
            throw new DbOpsException(ErrorIds.RowFixFailed, ErrorKind.OperationFailed,
                $"The COMMIT of the fix on {table} failed ({e.Message}); whether it took effect is unknown. The prior image is in '{manifestPath}' either way; " +
                $"{Undo(source, manifestPath)} puts it back once you see the rows changed.", table.ToString(), e);
        }
        catch (Exception e)
        {
            throw Map(e, engine, table, lockTimeout);
        }

        var undo = Undo(source, manifestPath);
        OperationsJournal.Record(request.JournalPath, JournalEntry.For(source,
            request.Action == RowFixAction.Remove ? JournalOperations.RowsRemoved : JournalOperations.RowsUpdated) with
        {
            Schema = table.Schema,
            Table = table.Name,
            Rows = prior.Rows,
            Path = manifestPath,
            Checksum = prior.Checksum,
            Sha256 = manifest.Data.Sha256,
            Verified = true,
            Undo = undo,
        }, observer);
        observer.Progress(new OperationProgress($"Fixing rows of {table}", "Done", 100));
        return new RowFix(source, table, request.Action, RowFixStatus.Fixed, prior.Rows, plan.Condition, plan.Statements, plan.Survivors,
            $"{Describe(request.Action, table, prior.Rows, "did")} Their prior image is in '{manifestPath}'; undo: {undo}", clock.Elapsed,
            manifestPath, prior.Checksum, undo);
    }

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
    private sealed record Plan(RowConditions Conditions, TableRef Table, IReadOnlyList<string> Key, string Condition, string Statement,
        Dictionary<string, object>? Parameters, IReadOnlyList<string>? SetColumns, IReadOnlyList<string> Statements, long Rows,
        IReadOnlyList<string> Referencing, IReadOnlyList<string> Survivors, DatabaseSchema Schema);

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
        var conditions = new RowConditions(engine, tableSchema, key);
        var condition = conditions.Choose(request);
        string statement;
        Dictionary<string, object>? parameters = null;
        IReadOnlyList<string>? setColumns = null;
        IReadOnlyList<string> setExpressions = [];
        if (request.Action == RowFixAction.Remove)
        {
            statement = $"DELETE FROM {table.ToQuotedName()} WHERE {condition}";
        }
        else
        {
            var (clause, values, columns, expressions) = conditions.Set(request.Set ?? new Dictionary<string, object?>());
            (parameters, setColumns, setExpressions) = (values, columns, expressions);
            statement = $"UPDATE {table.ToQuotedName()} SET {clause} WHERE {condition}";
        }
        var lockTimeout = request.LockTimeout ?? RowFixRequest.DefaultLockTimeout;
        IReadOnlyList<string> statements = [.. engine.RowFixes.LockStatements(table, lockTimeout), statement, "COMMIT"];

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
                $"The fix on {table} cannot run ({FirstLine(e.Message)}): {statement}. Nothing was written.", condition, e);
        }
        var plan = new Plan(conditions, table, key, condition, statement, parameters, setColumns, statements, rows, [], [], schema);
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
        foreach (var fk in plan.Schema.ForeignKeysReferencing(plan.Table))
        {
            if (plan.SetColumns is { } set && !fk.ReferencedColumns.Intersect(set).Any())
            {
                continue;
            }
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

    private static DbOpsException Referenced(Plan plan) =>
        new(ErrorIds.RowsReferenced, ErrorKind.InvalidState,
            $"Rows of other tables reference the rows of {plan.Table} that {plan.Condition} chooses: {string.Join("; ", plan.Referencing)}. " +
            "Nothing was written; fix the referencing rows first, or narrow the condition.", plan.Table.ToString());

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    private static Exception Map(Exception e, IDatabaseEngine engine, TableRef table, TimeSpan lockTimeout) => (e, engine.RefusalOf(e)) switch
    {
        (DbOpsException, _) => e,
        (OperationCanceledException, _) => new DbOpsException(ErrorIds.OperationCanceled, ErrorKind.Canceled,
            $"The fix on {table} was canceled and rolled back; no row changed.", table.ToString(), e),
        (_, { Kind: RefusalKind.LockNotGranted }) => new DbOpsException(ErrorIds.LockTimeout, ErrorKind.ResourceUnavailable,
            $"The rows of {table} were not changed: another session holds a lock on it and it was not granted within {lockTimeout.TotalMilliseconds:0} ms. " +
            "Run again when the table is idle, or with a longer -LockTimeout.", table.ToString(), e),
        (_, { Kind: RefusalKind.InsufficientPrivilege } refusal) => new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
            $"The rows of {table} were not changed: {refusal.Reason}.", table.ToString(), e),
        (DbException db, _) => new DbOpsException(ErrorIds.RowFixFailed, ErrorKind.OperationFailed,
            $"The fix on {table} failed and was rolled back; no row changed: {FirstLine(db.Message)}", table.ToString(), e),
        _ => e,
    };
}
