using System.Data.Common;
using System.Diagnostics;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Schema;

namespace DbOps.Core.RowFixes;

/// <summary>
/// Import-TableArchive -Mode Upsert for a rows archive: puts the prior image a row fix archived back into the live table,
/// by key, in one transaction under the table's write lock, and only over exactly what the fix left (its deleted rows
/// still absent, its updated rows still holding the new values; for a fix in batches stopped early, the batches it did
/// so and the rest as archived). It commits only when the rows at the archived keys then equal the archive.
/// </summary>
internal static class RowArchiveUndo
{
    public static async Task<ArchiveImportResult> UpsertAsync(ArchiveImportRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (manifest, manifestPath, folder) = ArchiveManifest.Load(request.ManifestPath);
        var target = request.Target;
        if (manifest.Scope != ArchiveScope.Rows || manifest.Key is not { Count: > 0 } key)
        {
            throw new DbOpsException(ErrorIds.ArchiveMismatch, ErrorKind.InvalidArgument,
                $"'{manifestPath}' holds {(manifest.Scope is null ? "a whole table" : $"a {manifest.Scope} archive")}, not the rows of a fix; " +
                "-Mode Upsert puts back what Remove-TableRow or Update-TableRow archived. Import it with -Mode Create (and -TargetTable).", manifestPath);
        }
        if (manifest.Provider != target.Provider)
        {
            throw new DbOpsException(ErrorIds.ProviderMismatch, ErrorKind.InvalidArgument,
                $"'{manifestPath}' archives a {manifest.Provider} table and cannot be put back into {target}.", manifestPath);
        }
        var dataPath = Path.Combine(folder, manifest.Data.Name);
        await ArchiveVerification.RequireIntactAsync(manifest, manifestPath, dataPath, Path.Combine(folder, manifest.SchemaFile.Name), cancellationToken);
        var engine = DatabaseEngines.For(target.Provider);
        var table = string.IsNullOrWhiteSpace(request.TargetTable) ? manifest.TableRef : engine.Archive.TargetTable(request.TargetTable, manifest.Schema);
        var prior = new TableContent(manifest.RowCount, manifest.Checksum);
        var left = RowFixAfterImage.Read(manifestPath);

        await using var session = await engine.OpenWritableAsync(target, cancellationToken);
        var connection = session.Connection;
        var schema = await SchemaReader.ReadAsync(engine, connection, cancellationToken);
        var live = schema.Find(table) ?? throw new DbOpsException(ErrorIds.TableNotFound, ErrorKind.NotFound,
            $"Table {table} does not exist in {target}; the prior image goes back into the table it was taken from.", table.ToString());
        var conditions = new RowConditions(engine, live, key);
        var dialect = engine.RowFixes;
        var lockTimeout = RowFixRequest.DefaultLockTimeout;
        try
        {
            await using var transaction = await dialect.BeginLockedAsync(connection, table, lockTimeout, cancellationToken);
            Task<int> Execute(string sql) =>
                connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, commandTimeout: 0, cancellationToken: cancellationToken));
            Task<TableContent> AtArchivedKeys() => TableChecksum.ComputeAsync(engine, connection, transaction, table, manifest.ColumnNames, cancellationToken,
                conditions.MatchesPrior(dialect.PriorImageTable));

            await RowFixService.LoadPriorImageAsync(engine, session, transaction, manifest, dataPath, table, cancellationToken);
            var now = await AtArchivedKeys();
            if (now == prior)
            {
                observer.Warning($"{table} already holds the prior image of '{manifestPath}' at its keys; nothing was written.");
                return new ArchiveImportResult(target.Provider, target.Database, table, manifest.TableRef, prior, false,
                    ["already restored: nothing was written"], manifestPath, clock.Elapsed);
            }
            if (left is null || !left.Left(now))
            {
                throw new DbOpsException(ErrorIds.RowsChangedSinceFix, ErrorKind.InvalidState,
                    $"The rows of {table} at the keys '{manifestPath}' archived changed after the fix: they are {now.Rows} rows with checksum {now.Checksum}, " +
                    (left is null ? "and no record of what the fix left was found beside the archive. "
                        : $"the fix ({left.Action}) left {left.Rows} with {left.Checksum}. ") +
                    "Nothing was written; compare the rows with the archive (Import-TableArchive -TargetTable into a scratch table) and fix them by hand.",
                    table.ToString());
            }
            // Rows a removal took go back in; rows an update changed get their prior values (a fix stopped between batches left both kinds).
            var columns = string.Join(", ", manifest.ColumnNames.Select(engine.QuoteIdentifier));
            var priorImage = $"{dialect.PriorImageTable.ToQuotedName()} AS {RowConditions.PriorAlias}";
            var match = string.Join(" AND ", key.Select(k => $"{RowConditions.PriorAlias}.{engine.QuoteIdentifier(k)} = {conditions.Column(k)}"));
            if (now.Rows < prior.Rows)
            {
                await Execute($"INSERT INTO {table.ToQuotedName()} ({columns}) SELECT {columns} FROM {priorImage} " +
                              $"WHERE NOT EXISTS (SELECT 1 FROM {table.ToQuotedName()} WHERE {match})");
            }
            if (now.Rows > 0 && manifest.ColumnNames.Except(key).ToList() is { Count: > 0 } values)
            {
                var set = string.Join(", ", values.Select(c => $"{engine.QuoteIdentifier(c)} = {RowConditions.PriorAlias}.{engine.QuoteIdentifier(c)}"));
                await Execute($"UPDATE {table.ToQuotedName()} SET {set} FROM {priorImage} WHERE {match}");
            }
            var restored = await AtArchivedKeys();
            if (restored != prior)
            {
                throw new DbOpsException(ErrorIds.ArchiveVerificationFailed, ErrorKind.InvalidData,
                    $"After putting back '{manifestPath}', {table} holds {restored.Rows} rows with checksum {restored.Checksum} at the archived keys, not " +
                    $"{prior.Rows} with {prior.Checksum}; it was rolled back. The table's triggers or column types may change the values.", table.ToString());
            }
            await Execute($"DROP TABLE {dialect.PriorImageTable.ToQuotedName()}");
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception e) when (e is not DbOpsException && e is not OperationCanceledException)
        {
            throw engine.RefusalOf(e) is { Kind: RefusalKind.LockNotGranted }
                ? new DbOpsException(ErrorIds.LockTimeout, ErrorKind.ResourceUnavailable,
                    $"{table} is locked by another session; nothing was put back. Run again when it is idle.", table.ToString(), e)
                : new DbOpsException(ErrorIds.RowFixFailed, ErrorKind.OperationFailed,
                    $"Putting back the rows of '{manifestPath}' into {table} failed and was rolled back: {e.Message.Split('\n')[0]}", table.ToString(), e);
        }
        OperationsJournal.Record(request.JournalPath, JournalEntry.For(target, JournalOperations.RowsRestored) with
        {
            Schema = table.Schema,
            Table = table.Name,
            Rows = prior.Rows,
            Path = manifestPath,
            Checksum = prior.Checksum,
            Sha256 = manifest.Data.Sha256,
            Verified = true,
        }, observer);
        return new ArchiveImportResult(target.Provider, target.Database, table, manifest.TableRef, prior, false, [], manifestPath, clock.Elapsed);
    }
}
