using System.Data;
using System.Data.Common;
using System.Diagnostics;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Schema;

namespace DbOps.Core.Columns;

/// <summary>
/// Import-TableArchive for a column archive: adds the archived columns back to the live table, fills them by key from
/// the archive in one transaction, and commits only when the table's key-plus-columns count and checksum equal the
/// manifest's (so every archived row was found, and no row the archive does not hold is left without its value).
/// </summary>
internal static class ColumnRestore
{
    private const string StagingName = "dbops_column_restore";

    public static async Task<ArchiveImportResult> RestoreAsync(ArchiveImportRequest request, ArchiveManifest manifest, string manifestPath, string dataPath,
        IOperationObserver observer, CancellationToken cancellationToken)
    {
        if (request.TargetTable is not null)
        {
            // Import-TableArchive without -Mode Upsert and with -TargetTable loads the columns into a table of their own instead.
            throw new DbOpsException(ErrorIds.ArchiveMismatch, ErrorKind.InvalidArgument,
                $"'{manifestPath}' is a column archive: -Mode Upsert puts its columns back into {manifest.TableRef}, the table they came from, " +
                "and takes no -TargetTable. Leave out -TargetTable, or leave out -Mode Upsert to load them into a new table.", manifestPath);
        }
        var clock = Stopwatch.StartNew();
        var target = request.Target;
        var provider = DatabaseEngines.For(target.Provider);
        var table = manifest.TableRef;
        var key = manifest.Key ?? [];
        var restored = manifest.Columns.Where(c => !key.Contains(c.Name)).ToList();
        await using var session = await provider.OpenWritableAsync(target, cancellationToken);
        var connection = session.Connection;
        var live = (await SchemaReader.ReadAsync(provider, connection, cancellationToken)).Find(table)
            ?? throw new DbOpsException(ErrorIds.TableNotFound, ErrorKind.NotFound,
                $"{table} does not exist in {target}, so its column archive '{manifestPath}' has nowhere to go. Restore the table first.", table.ToString());
        if (key.Count == 0 || key.Any(k => live.FindColumn(k)?.Name != k))
        {
            throw new DbOpsException(ErrorIds.ArchiveMismatch, ErrorKind.InvalidState,
                $"'{manifestPath}' addresses rows of {table} by ({string.Join(", ", key)}), which {table} no longer has; nothing was changed.", manifestPath);
        }
        if (restored.FirstOrDefault(c => live.FindColumn(c.Name) is not null) is { } present)
        {
            throw new DbOpsException(ErrorIds.ColumnExists, ErrorKind.AlreadyExists,
                $"{table} already has a column {present.Name}; a column archive is put back only into a table without it. Nothing was changed. " +
                $"Load it beside the table instead with -TargetTable.", table.ToString());
        }

        var activity = $"Restoring {string.Join(", ", restored.Select(c => c.Name))} of {table}";
        void Report(string status, int percent) => observer.Progress(new OperationProgress(activity, status, percent));
        await using var transaction = await provider.Archive.BeginLoadAsync(session, cancellationToken);
        Task<int> Execute(string sql) => connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, cancellationToken: cancellationToken, commandTimeout: 0));
        try
        {
            await provider.Archive.UseCanonicalTextAsync(connection, cancellationToken);
            Report("Adding the columns", 0);
            foreach (var column in restored)
            {
                await Execute(provider.Columns.AddColumnSql(table, column with { Nullable = true }));
            }
            var staging = provider.Columns.StagingTable(StagingName);
            await Execute(provider.Columns.CreateStagingTableSql(staging, manifest.Columns));
            Report("Loading the archived values", 10);
            var fromFile = await ArchiveImport.LoadAsync(manifest, dataPath, session, transaction, staging, freeze: false, _ => { }, cancellationToken);
            if (fromFile != new TableContent(manifest.RowCount, manifest.Checksum))
            {
                throw ArchiveManifest.Corrupt(dataPath,
                    $"the data file holds {fromFile.Rows} rows with checksum {fromFile.Checksum}, the manifest records {manifest.RowCount} rows with {manifest.Checksum}");
            }
            Report("Filling the columns by key", 60);
            foreach (var column in restored)
            {
                var filled = await Execute(provider.Columns.FillByKeySql(table, staging, key, column.Name));
                if (filled != manifest.RowCount)
                {
                    throw Differs(table, manifestPath, $"{filled} of its rows have a key the archive holds, but the archive holds {manifest.RowCount}");
                }
                if (!column.Nullable && provider.Columns.SetNotNullSql(table, column.Name) is { } setNotNull)
                {
                    await Execute(setNotNull);
                }
            }
            Report("Checking the table against the manifest", 90);
            var loaded = await TableChecksum.ComputeAsync(provider, connection, transaction, table, manifest.ColumnNames, cancellationToken);
            if (loaded != new TableContent(manifest.RowCount, manifest.Checksum))
            {
                throw Differs(table, manifestPath, $"it holds {loaded.Rows} rows with checksum {loaded.Checksum} over ({string.Join(", ", manifest.ColumnNames)}), " +
                                                   $"the archive {manifest.RowCount} rows with {manifest.Checksum}");
            }
            await transaction.CommitAsync(cancellationToken);
            Report("Done", 100);
            observer.Verbose($"Restored {string.Join(", ", restored.Select(c => c.Name))} of {table} from '{manifestPath}': {loaded.Rows} rows, checksum {loaded.Checksum}.");
            OperationsJournal.Record(request.JournalPath, JournalEntry.For(target, JournalOperations.ColumnRestored) with
            {
                Schema = table.Schema,
                Table = table.Name,
                Column = string.Join(", ", restored.Select(c => c.Name)),
                Rows = loaded.Rows,
                Checksum = loaded.Checksum,
                Path = manifestPath,
                Verified = true,
            }, observer);
            return new ArchiveImportResult(target.Provider, target.Database, table, table, loaded, false, [], manifestPath, clock.Elapsed);
        }
        catch (Exception e) when (e is DbException || DatabaseEngines.IsConnectionLost(e)
                                  || (e is InvalidOperationException or ObjectDisposedException && connection.State != ConnectionState.Open))
        {
            throw Unfinished.Error(e, ErrorIds.ImportFailed, $"restoring {string.Join(", ", restored.Select(c => c.Name))} into {table}",
                "Nothing was kept: the restore is one transaction, rolled back. Run it again.", table.ToString());
        }
    }

    private static DbOpsException Differs(TableRef table, string manifestPath, string why) =>
        new(ErrorIds.ArchiveVerificationFailed, ErrorKind.InvalidState,
            $"{table} does not take back the values of '{manifestPath}' exactly: {why}. Rows were added or removed since the column was " +
            "archived; nothing was changed. Load the archive beside the table with -TargetTable and put the values back by hand.", table.ToString());
}
