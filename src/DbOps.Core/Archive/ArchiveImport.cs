using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Dapper;
using DbOps.Core.Columns;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Removal;

namespace DbOps.Core.Archive;

/// <summary>
/// Import-TableArchive: recreates the table, loads it in one transaction, and commits only when the loaded table's own
/// count and checksum equal the manifest's.
/// </summary>
internal static class ArchiveImport
{
    /// <summary>Loads an archive into a table, proving the loaded table's count and checksum equal the manifest's.</summary>
    public static async Task<ArchiveImportResult> ImportAsync(ArchiveImportRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (manifest, manifestPath, folder) = ArchiveManifest.Load(request.ManifestPath);
        var target = request.Target;
        if (manifest.Provider != target.Provider)
        {
            throw new DbOpsException(ErrorIds.ProviderMismatch, ErrorKind.InvalidArgument,
                $"'{manifestPath}' archives a {manifest.Provider} table and cannot be imported into {target}.", manifestPath);
        }
        var dataPath = Path.Combine(folder, manifest.Data.Name);
        var schemaPath = Path.Combine(folder, manifest.SchemaFile.Name);
        await ArchiveVerification.RequireIntactAsync(manifest, manifestPath, dataPath, schemaPath, cancellationToken);
        if (manifest.Scope is ArchiveScope.Columns && (request.Mode is ArchiveImportMode.Upsert || request.TargetTable is null))
        {
            // A column archive goes back into the live table it came from (issue 17).
            return await ColumnRestore.RestoreAsync(request, manifest, manifestPath, dataPath, observer, cancellationToken);
        }
        if (request.Mode == ArchiveImportMode.Upsert)
        {
            // A rows archive puts a fix's prior image back (issue 18); it refuses any other archive.
            return await RowFixes.RowArchiveUndo.UpsertAsync(request, observer, cancellationToken);
        }
        var retired = await RetiredDependents.LoadAsync(manifestPath, cancellationToken);
        var targetTable = TargetFor(manifest, request.TargetTable);
        var provider = DatabaseEngines.For(target.Provider);
        await using var session = await provider.OpenWritableAsync(target, cancellationToken);
        var (content, created, skipped, recreated) = await ImportCoreAsync(manifest, dataPath, schemaPath, session, targetTable, observer, quiet: false, cancellationToken, retired);
        var result = new ArchiveImportResult(target.Provider, target.Database, targetTable, manifest.TableRef, content, created, skipped, manifestPath, clock.Elapsed)
        {
            RecreatedDependents = ValueList.Of(recreated),
        };
        RecordImport(request, targetTable, manifest, result, observer);
        return result;
    }

    /// <summary>
    /// One entry per import, about the table loaded (Target names the archived table); a table the import created is
    /// undone by dropping it.
    /// </summary>
    private static void RecordImport(ArchiveImportRequest request, TableRef table, ArchiveManifest manifest, ArchiveImportResult result, IOperationObserver observer)
    {
        var target = request.Target;
        OperationsJournal.Record(request.JournalPath, JournalEntry.For(target, JournalOperations.ArchiveImported) with
        {
            Schema = table.Schema,
            Table = table.Name,
            Target = manifest.TableRef.ToString(),
            Rows = result.RowCount,
            Path = result.ManifestPath,
            Checksum = result.Checksum,
            Verified = true,
            Figures = new Dictionary<string, double> { ["seconds"] = Math.Round(result.Duration.TotalSeconds, 3) },
            Undo = result.Created ? UndoCommand.Query(target, $"DROP TABLE {DatabaseEngines.For(target.Provider).QualifiedName(table)}") : null,
        }, observer);
    }

    /// <summary>
    /// Creates the table if it is missing (from the schema file, or with the archived columns only under another
    /// name), loads the rows in one transaction, and commits only if the loaded table's count and checksum match.
    /// The views, triggers and functions retired with the table (<paramref name="retired"/>) are created again last, in
    /// the same transaction, when the table was created under its own name.
    /// </summary>
    internal static async Task<(TableContent Content, bool Created, IReadOnlyList<string> Skipped, IReadOnlyList<string> Recreated)> ImportCoreAsync(
        ArchiveManifest manifest, string dataPath, string schemaPath, WritableSession session, TableRef target,
        IOperationObserver observer, bool quiet, CancellationToken cancellationToken, (ArchiveSchemaFile File, string Path)? retired = null)
    {
        var provider = DatabaseEngines.For(manifest.Provider);
        var dialect = provider.Archive;
        var connection = session.Connection;
        var renamed = target != manifest.TableRef;
        // A column archive loads into a table of just its key and columns (a scratch check, or -TargetTable).
        var columnsOnly = manifest.Scope is ArchiveScope.Columns;
        var names = manifest.ColumnNames;
        var activity = $"Importing {manifest.TableRef}{(renamed ? $" as {target}" : "")}";
        void Report(string status, int percent) => observer.Progress(new OperationProgress(activity, status, percent));
        void Note(string message)
        {
            if (quiet)
            {
                observer.Verbose(message);
            }
            else
            {
                observer.Warning(message);
            }
        }

        var exists = await provider.TableExistsAsync(connection, target, cancellationToken);
        if (exists && await provider.CountRowsAsync(connection, target, cancellationToken) > 0)
        {
            throw new DbOpsException(ErrorIds.TargetNotEmpty, ErrorKind.InvalidState,
                $"Table {target} already exists and holds rows; Import-TableArchive loads only into a missing or empty table. " +
                "Pass -TargetTable to load under another name.", target.ToString());
        }
        var schemaFile = ArchiveSchemaFile.Parse(await File.ReadAllTextAsync(schemaPath, cancellationToken));
        var skipped = new List<string>();
        var recreated = new List<string>();
        await using var transaction = await dialect.BeginLoadAsync(session, cancellationToken);
        Task Execute(string sql) => connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, cancellationToken: cancellationToken, commandTimeout: 0));
        try
        {
            await dialect.UseCanonicalTextAsync(connection, cancellationToken);
            Report("Creating the table", 0);
            if (!exists)
            {
                if (renamed && !columnsOnly)
                {
                    await Execute(dialect.CreateRenamedTableSql(schemaFile, manifest.Columns, target));
                }
                else
                {
                    foreach (var section in schemaFile.In(ArchiveSchemaFile.Prerequisite))
                    {
                        if (await dialect.PrerequisiteMissingAsync(connection, section.What, cancellationToken))
                        {
                            observer.Verbose($"Creating {section.What}, which {manifest.TableRef} needs and the target lacks.");
                            await Execute(section.Sql);
                        }
                    }
                    if (columnsOnly)
                    {
                        await Execute(provider.Columns.CreateTableSql(target, manifest.Columns));
                    }
                    else
                    {
                        foreach (var section in schemaFile.In(ArchiveSchemaFile.Table))
                        {
                            await Execute(section.Sql);
                        }
                    }
                }
            }

            Report("Loading rows", 1);
            var fromFile = await LoadAsync(manifest, dataPath, session, transaction, target, freeze: !exists,
                rows => Report($"{rows.ToString("N0", CultureInfo.InvariantCulture)} of {manifest.RowCount.ToString("N0", CultureInfo.InvariantCulture)} rows",
                               manifest.RowCount > 0 ? (int)Math.Min(90, 1 + 89 * rows / manifest.RowCount) : -1),
                cancellationToken);
            if (fromFile != new TableContent(manifest.RowCount, manifest.Checksum))
            {
                throw ArchiveManifest.Corrupt(dataPath,
                    $"the data file holds {fromFile.Rows} rows with checksum {fromFile.Checksum}, the manifest records {manifest.RowCount} rows with {manifest.Checksum}");
            }

            if (!exists && !renamed && !columnsOnly)
            {
                Report("Creating keys and indexes", 92);
                foreach (var section in schemaFile.In(ArchiveSchemaFile.AfterLoad))
                {
                    await Execute(section.Sql);
                }
                // The table's own dependents, then those retired with it (in the order they were saved: what each needs first).
                foreach (var (section, file) in schemaFile.In(ArchiveSchemaFile.Dependent).Select(d => (d, schemaPath))
                             .Concat((retired?.File.In(ArchiveSchemaFile.Dependent) ?? []).Select(d => (d, retired!.Value.Path))))
                {
                    await transaction.SaveAsync("dbops_dependent", cancellationToken);
                    try
                    {
                        await Execute(section.Sql);
                        await transaction.ReleaseAsync("dbops_dependent", cancellationToken);
                        if (file != schemaPath)
                        {
                            recreated.Add(section.What);
                        }
                    }
                    catch (DbException e)
                    {
                        await transaction.RollbackAsync("dbops_dependent", cancellationToken);
                        skipped.Add($"{section.What}: {FirstLine(e.Message)}");
                        Note($"Not recreated on {target}: {section.What} ({FirstLine(e.Message)}). Create it by hand once what it needs exists; " +
                             $"its SQL is in '{file}'.");
                    }
                }
                await dialect.AdvanceOwnedSequencesAsync(session, transaction, target, cancellationToken);
            }
            else if (retired is not null)
            {
                Note($"The views, triggers and functions retired with {manifest.TableRef} were not created again: they go back only with the table " +
                     $"created under its own name. Their SQL is in '{retired.Value.Path}'.");
            }
            if (await dialect.ForeignKeyProblemAsync(connection, transaction, target, cancellationToken) is { } problem)
            {
                skipped.Add(problem);
                Note($"{target}: {problem}. The rows were loaded as archived.");
            }

            Report("Checking the loaded table against the manifest", 95);
            var loaded = await TableChecksum.ComputeAsync(provider, connection, transaction, target, names, cancellationToken);
            if (loaded != new TableContent(manifest.RowCount, manifest.Checksum))
            {
                throw new DbOpsException(ErrorIds.ArchiveVerificationFailed, ErrorKind.InvalidData,
                    $"{target} loaded from '{dataPath}' holds {loaded.Rows} rows with checksum {loaded.Checksum}, but the manifest records " +
                    $"{manifest.RowCount} rows with {manifest.Checksum}; nothing was kept. The target's column types may differ from the archive's.",
                    target.ToString());
            }
            await transaction.CommitAsync(cancellationToken);
            Report("Done", 100);
            return (loaded, !exists, skipped, recreated);
        }
        catch (Exception e) when (e is DbException || DatabaseEngines.IsConnectionLost(e)
                                  || (e is InvalidOperationException or ObjectDisposedException && connection.State != ConnectionState.Open))
        {
            // A lost session (a server restart) rolls the load back as surely as a refused statement does.
            throw Unfinished.Error(e, ErrorIds.ImportFailed, $"loading {manifest.TableRef} into {target}",
                "Nothing was kept: the load is one transaction, rolled back. Run it again.", target.ToString());
        }
    }

    /// <summary>Streams the data file into the table while computing the file's own count and checksum.</summary>
    internal static async Task<TableContent> LoadAsync(ArchiveManifest manifest, string dataPath, WritableSession session, DbTransaction transaction,
        TableRef target, bool freeze, Action<long> progress, CancellationToken cancellationToken)
    {
        var checksum = new TableChecksum();
        // The data file's SHA-256 is checked from the bytes as they are loaded; the load is rolled back if it differs.
        await using var file = ArchiveDataFile.Open(manifest, dataPath);
        var rows = new ArchiveRows(manifest, file, checksum, new RowProgress(manifest.RowCount, progress), cancellationToken);
        try
        {
            await DatabaseEngines.For(manifest.Provider).Archive.LoadAsync(session, transaction, target, manifest.ColumnNames, rows, freeze, cancellationToken);
        }
        catch (InvalidDataException e)
        {
            throw ArchiveManifest.Corrupt(dataPath, $"its data is damaged or truncated ({e.Message})", e);
        }
        catch (DbException e)
        {
            // The server refused a value: a damaged file, or a target that cannot hold the archived values.
            if (!await file.IsAsRecordedAsync(cancellationToken))
            {
                throw ArchiveManifest.Corrupt(dataPath, $"its data file differs from what the manifest records, and the server refused it ({e.Message})", e);
            }
            throw;
        }
        await file.RequireAsRecordedAsync(cancellationToken);
        return checksum.Content;
    }

    /// <summary>-TargetTable: "name" (in the archived table's schema) or "schema.name"; SQLite has only main.</summary>
    private static TableRef TargetFor(ArchiveManifest manifest, string? targetTable) =>
        string.IsNullOrWhiteSpace(targetTable) ? manifest.TableRef : DatabaseEngines.For(manifest.Provider).Archive.TargetTable(targetTable, manifest.Schema);

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
