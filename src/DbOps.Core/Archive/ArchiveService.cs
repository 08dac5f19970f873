using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Diagnostics;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbOps.Core.Archive;

/// <summary>What Export-TableArchive was asked to do for one table.</summary>
/// <param name="Source">The database holding the table.</param>
/// <param name="Table">The table: "name" or "schema.name", resolved along the search path.</param>
/// <param name="Destination">The folder for the archive's files (created if missing).</param>
/// <param name="Format">Csv or JsonLines.</param>
/// <param name="Compress">Gzip the data file.</param>
/// <param name="Verify">Load the archive into a scratch table and compare count and checksum.</param>
/// <param name="Force">Replace an existing archive of the same table.</param>
/// <param name="ToolPath">PostgreSQL: pg_dump (file or folder) to use instead of searching.</param>
/// <param name="JournalPath">The operations journal to record the archive in; null for the default one.</param>
public sealed record ArchiveExportRequest(
    DbOpsConnection Source, string Table, string Destination, ArchiveFormat Format = ArchiveFormat.Csv,
    bool Compress = false, bool Verify = false, bool Force = false, string? ToolPath = null, string? JournalPath = null);

/// <summary>What Import-TableArchive was asked to do.</summary>
/// <param name="ManifestPath">The archive's .manifest.json.</param>
/// <param name="Target">The database to load into.</param>
/// <param name="TargetTable">Another name for the table ("name" or "schema.name"); by default the archived one.</param>
public sealed record ArchiveImportRequest(string ManifestPath, DbOpsConnection Target, string? TargetTable = null);

/// <summary>
/// Table archives that prove they restore. Export reads the table once, in one snapshot, writing the data file
/// while computing the row count and content checksum from the same bytes; files go to temporary names and are
/// renamed when complete, the manifest last. Import recreates the table, loads it in one transaction, and commits
/// only when the loaded table's own count and checksum equal the manifest's.
/// </summary>
public static partial class ArchiveService
{
    /// <summary>A gzip member holding no bytes (RFC 1952: header, an empty final deflate block, CRC-32 0, size 0).</summary>
    private static readonly byte[] EmptyGzipMember = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];


    /// <summary>Archives one table; a failure leaves no file under a final name.</summary>
    public static async Task<TableArchive> ExportAsync(ArchiveExportRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var source = request.Source;
        var provider = DatabaseEngines.For(source.Provider);
        var createdAt = DateTimeOffset.UtcNow;
        var folder = Path.GetFullPath(request.Destination);
        ArtifactFiles.EnsureWritableFolder(folder);
        var abandoned = ArtifactFiles.RemoveAbandoned(folder);
        foreach (var name in abandoned)
        {
            observer.Verbose($"Removed {name}, left in '{folder}' by an export whose process was killed.");
        }

        await using var session = await provider.OpenReadOnlyAsync(source, cancellationToken);

        var connection = session.Connection;
        // SQLite's catalog reader runs outside transactions, so it reads just before the snapshot starts.
        var catalog = connection is SqliteConnection ? await SchemaReader.ReadAsync(provider, connection, cancellationToken) : null;
        await using var transaction = connection is SqliteConnection sqlite
            ? sqlite.BeginTransaction(IsolationLevel.Serializable, deferred: true)
            : await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        var tableSchema = (catalog ?? await SchemaReader.ReadAsync(provider, connection, cancellationToken)).Resolve(request.Table);
        var table = tableSchema.Table;
        var columns = TableChecksum.StoredColumns(tableSchema).Select(c => new ArchiveColumn(c.Name, c.DataType, c.IsNullable)).ToList();
        var names = columns.Select(c => c.Name).ToList();
        if (names.Count == 0)
        {
            throw new DbOpsException(ErrorIds.ArchiveFailed, ErrorKind.InvalidArgument,
                $"{table} has no stored columns to archive (it has none, or only generated ones).", table.ToString());
        }
        var activity = $"Archiving {table}";
        void Report(string status, int percent) => observer.Progress(new OperationProgress(activity, status, percent));

        var baseName = BaseName(table);
        var dataName = baseName + (request.Format == ArchiveFormat.Csv ? ".csv" : ".jsonl") + (request.Compress ? ".gz" : "");
        var (dataPath, schemaPath, manifestPath) = (Path.Combine(folder, dataName), Path.Combine(folder, baseName + ".schema.sql"),
                                                    ArchiveManifest.PathFor(folder, baseName));
        var previous = new[] { manifestPath, dataPath, schemaPath }.Where(File.Exists).ToList();
        // Only the proof of a killed export's publish, its manifest's abandoned temporary file swept just now, lets its
        // files go: files whose manifest a person moved away may hold the only copy of a dropped table's rows. The live
        // writer check comes first, because a live export's manifest appears (renamed from that file) at any moment.
        var manifestTempPrefix = $".{Path.GetFileName(manifestPath)}.";
        if (previous.Count > 0 && !ArtifactFiles.IsBeingWritten(manifestPath) && !File.Exists(manifestPath)
            && abandoned.Any(name => name.StartsWith(manifestTempPrefix, StringComparison.Ordinal)))
        {
            // An export killed after renaming its files but before its manifest: no manifest means no archive, so they
            // are removed rather than blocking every rerun.
            previous.ForEach(ArtifactFiles.DeleteQuietly);
            observer.Verbose($"Removed {string.Join(", ", previous.Select(Path.GetFileName))}: files of an archive whose manifest was never written.");
            previous.Clear();
        }
        if (previous.Count > 0 && !request.Force)
        {
            throw new DbOpsException(ErrorIds.DestinationExists, ErrorKind.AlreadyExists,
                $"An archive of {table} already exists in '{folder}' ({Path.GetFileName(previous[0])}). Pass -Force to replace it, " +
                "or choose another -Destination.", previous[0]);
        }

        var dataTemp = ArtifactFiles.TemporaryPathFor(dataPath);
        var schemaTemp = ArtifactFiles.TemporaryPathFor(schemaPath);
        var manifestTemp = ArtifactFiles.TemporaryPathFor(manifestPath);
        var committed = new List<string>();
        try
        {
            Report("Reading the table's schema", 0);
            ArchiveSchemaFile schemaFile;
            long expected;
            if (connection is NpgsqlConnection npgsql)
            {
                var snapshot = await npgsql.ExecuteScalarAsync<string>(new CommandDefinition("SELECT pg_catalog.pg_export_snapshot()", cancellationToken: cancellationToken));
                schemaFile = await PostgresArchive.ReadSchemaAsync(npgsql, source, table, snapshot, request.ToolPath, cancellationToken);
                await PostgresArchive.ApplyCanonicalSettingsAsync(npgsql, cancellationToken);
                expected = await PostgresArchive.EstimateRowsAsync(npgsql, table, cancellationToken);
            }
            else
            {
                schemaFile = await SqliteArchive.ReadSchemaAsync((SqliteConnection)connection, transaction, tableSchema,
                    $"{table} from {source} (SQLite {source.ServerVersion})", cancellationToken);
                expected = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                    $"SELECT count(*) FROM {SqliteArchive.Qualified(table)}", transaction: transaction, cancellationToken: cancellationToken));
            }
            await WriteTextAsync(schemaTemp, schemaFile.Serialize(), cancellationToken);

            var checksum = new TableChecksum();
            var progress = new RowProgress(expected, rows => Report(
                $"{rows.ToString("N0", CultureInfo.InvariantCulture)} of ~{expected.ToString("N0", CultureInfo.InvariantCulture)} rows",
                expected > 0 ? (int)Math.Min(98, 98 * rows / expected) : -1));
            string dataSha;
            await using (var file = ArtifactFiles.CreateOwnerOnly(dataTemp, bufferSize: 0))
            {
                // The SHA-256 is taken from the bytes on their way to the file, not by reading the file again.
                await using (var hashed = new HashingStream(file, leaveOpen: true))
                {
                    var data = request.Compress ? new GZipStream(hashed, CompressionLevel.Fastest, leaveOpen: true) : (Stream)hashed;
                    try
                    {
                        if (connection is NpgsqlConnection pg && request.Format == ArchiveFormat.Csv)
                        {
                            // The file is the server's CSV byte for byte; the checksum is computed from the same bytes.
                            await PostgresArchive.CopyOutAsync(pg, table, names, data, checksum.Add, cancellationToken, progress.Update);
                        }
                        else
                        {
                            var output = new ChunkedOutput(data);
                            var write = RowWriter(request.Format, names);
                            void OnRow(CanonicalRow row)
                            {
                                checksum.Add(row);
                                write(row, output.Buffer);
                                output.FlushIfFull();
                            }
                            if (connection is NpgsqlConnection pgJson)
                            {
                                await PostgresArchive.CopyOutAsync(pgJson, table, names, null, OnRow, cancellationToken, progress.Update);
                            }
                            else
                            {
                                await SqliteArchive.ReadRowsAsync((SqliteConnection)connection, transaction, table, names, OnRow, cancellationToken, progress.Update,
                                    refuseInvalidText: true);
                            }
                            output.Flush();
                        }
                    }
                    finally
                    {
                        if (request.Compress)
                        {
                            await data.DisposeAsync();
                            if (hashed.BytesSeen == 0)
                            {
                                // GZipStream writes nothing at all when given no bytes, and a 0-byte .gz is no gzip file.
                                await hashed.WriteAsync(EmptyGzipMember, cancellationToken);
                            }
                        }
                    }
                    dataSha = hashed.Sha256();
                }
                file.Flush(flushToDisk: true);
            }
            await transaction.CommitAsync(cancellationToken);

            Report("Hashing and flushing the files", 99);
            var schemaHash = ArtifactFiles.Sha256Async(schemaTemp, cancellationToken);
            ArtifactFiles.FlushToDisk(schemaTemp);
            var manifest = new ArchiveManifest
            {
                Provider = source.Provider,
                Database = source.Database,
                Server = source.Server,
                User = source.User,
                ServerVersion = source.ServerVersion,
                Schema = table.Schema,
                Table = table.Name,
                Columns = columns,
                Format = request.Format,
                Compressed = request.Compress,
                RowCount = checksum.Rows,
                Checksum = checksum.Value,
                Data = new ArchiveFile(dataName, new FileInfo(dataTemp).Length, dataSha),
                SchemaFile = new ArchiveFile(Path.GetFileName(schemaPath), new FileInfo(schemaTemp).Length, await schemaHash),
                CreatedAt = createdAt,
            };

            // Verified under the temporary names: a process killed meanwhile leaves only .partial files.
            ArchiveCheck? check = null;
            if (request.Verify)
            {
                Report("Verifying: loading the archive into a scratch table", 99);
                check = await VerifyCoreAsync(manifest, dataTemp, schemaTemp, source, observer, cancellationToken);
                if (check.Verified)
                {
                    manifest = manifest with { VerifiedAt = DateTimeOffset.UtcNow };
                }
            }

            // The manifest's temporary file exists before the others are renamed: while it does, its writer's process id
            // tells a rerun that these files are being published, not left by a killed export.
            await WriteTextAsync(manifestTemp, manifest.Serialize(), cancellationToken);
            ArtifactFiles.FlushToDisk(manifestTemp);
            if (request.Force)
            {
                // The old manifest goes next: from here on no manifest vouches for files that are being replaced.
                RemovePrevious(manifestPath, folder);
            }
            ArtifactFiles.Publish(dataTemp, dataPath, overwrite: request.Force);
            committed.Add(dataPath);
            ArtifactFiles.Publish(schemaTemp, schemaPath, overwrite: request.Force);
            committed.Add(schemaPath);
            FaultPoint.Reach(FaultPoint.ArchiveFilesRenamed);
            ArtifactFiles.Publish(manifestTemp, manifestPath, overwrite: false);
            observer.Verbose($"Archived {table}: {manifest.RowCount} rows, {manifest.Data.SizeBytes} bytes in {dataPath}; checksum {manifest.Checksum}.");
            OperationsJournal.Record(request.JournalPath, JournalEntry.For(source, JournalOperations.ArchiveCreated) with
            {
                Schema = table.Schema,
                Table = table.Name,
                Rows = manifest.RowCount,
                Path = manifestPath,
                Checksum = manifest.Checksum,
                Sha256 = manifest.Data.Sha256,
                Verified = manifest.VerifiedAt is not null,
            }, observer);
            return new TableArchive(manifest, manifestPath, dataPath, schemaPath, check, clock.Elapsed, source);
        }
        catch (Exception e)
        {
            ArtifactFiles.DeleteQuietly(dataTemp);
            ArtifactFiles.DeleteQuietly(schemaTemp);
            ArtifactFiles.DeleteQuietly(manifestTemp);
            // No manifest means no archive: do not leave files that look like one.
            committed.ForEach(ArtifactFiles.DeleteQuietly);
            throw MapExportError(e, table, folder);
        }
    }

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
        await RequireIntactAsync(manifest, manifestPath, dataPath, schemaPath, cancellationToken);
        var targetTable = TargetFor(manifest, request.TargetTable);
        var provider = DatabaseEngines.For(target.Provider);
        await using var session = await provider.OpenWritableAsync(target, cancellationToken);
        var connection = session.Connection;
        var (content, created, skipped) = await ImportCoreAsync(manifest, dataPath, schemaPath, connection, targetTable, observer, quiet: false, cancellationToken);
        return new ArchiveImportResult(target.Provider, target.Database, targetTable, manifest.TableRef, content, created, skipped, manifestPath, clock.Elapsed);
    }

    /// <summary>Loads the archive into a scratch database that is dropped afterwards; never throws for a failed check.</summary>
    private static async Task<ArchiveCheck> VerifyCoreAsync(
        ArchiveManifest manifest, string dataPath, string schemaPath, DbOpsConnection source, IOperationObserver observer, CancellationToken cancellationToken)
    {
        try
        {
            var provider = DatabaseEngines.For(source.Provider);
            TableContent content;
            if (source.Provider == DatabaseProvider.PostgreSQL)
            {
                await using var scratch = await PostgresScratchDatabase.CreateAsync(source, "verify the archive",
                    "import the archive with Import-TableArchive -TargetTable into a database of your choice", observer, cancellationToken);
                await using var session = await provider.OpenWritableAsync(scratch.Connection, cancellationToken);
                var connection = session.Connection;
                content = (await ImportCoreAsync(manifest, dataPath, schemaPath, connection, manifest.TableRef, observer, quiet: true, cancellationToken)).Content;
            }
            else
            {
                // Beside the archive, owner-only, under a temporary name: it holds a full copy of the rows, and the next
                // export into this folder removes it if this process is killed.
                var path = ArtifactFiles.TemporaryPathFor(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(dataPath))!, "verify.db"));
                try
                {
                    using (ArtifactFiles.CreateOwnerOnly(path))
                    {
                        // An empty file is an empty SQLite database; SQLite gives its journal the same permissions.
                    }
                    await using var connection = await SqliteEngine.OpenFileAsync(path, SqliteOpenMode.ReadWrite, cancellationToken);
                    content = (await ImportCoreAsync(manifest, dataPath, schemaPath, connection, manifest.TableRef, observer, quiet: true, cancellationToken)).Content;
                }
                finally
                {
                    ArtifactFiles.DeleteQuietly(path); // opened without pooling: closing released the file
                }
            }
            return new ArchiveCheck(true, null,
                $"Loaded into a scratch table: {content.Rows} rows, checksum {content.Checksum}, as the manifest records.");
        }
        catch (Exception e) when (Unfinished.IsFailure(e))
        {
            // A check that cannot run (a lost connection too) is a failed verification, never a lost archive.
            var error = Unfinished.Error(e, ErrorIds.ArchiveVerificationFailed, $"loading {manifest.TableRef} into a scratch table",
                "The archive is kept, not verified; verify it later (Import-TableArchive -TargetTable into a scratch database).", manifest.TableRef.ToString());
            return new ArchiveCheck(false, error.ErrorId, error.Message);
        }
    }

    /// <summary>
    /// Creates the table if it is missing (from the schema file, or with the archived columns only under another
    /// name), loads the rows in one transaction, and commits only if the loaded table's count and checksum match.
    /// </summary>
    private static async Task<(TableContent Content, bool Created, IReadOnlyList<string> Skipped)> ImportCoreAsync(
        ArchiveManifest manifest, string dataPath, string schemaPath, DbConnection connection, TableRef target,
        IOperationObserver observer, bool quiet, CancellationToken cancellationToken)
    {
        var provider = DatabaseEngines.For(manifest.Provider);
        var renamed = target != manifest.TableRef;
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
        if (connection is SqliteConnection)
        {
            // SQLite declares foreign keys inside CREATE TABLE: they are kept, but not enforced while loading a table
            // whose parents may not be there (yet); foreign_key_check reports afterwards what does not match.
            await connection.ExecuteAsync(new CommandDefinition("PRAGMA foreign_keys = OFF", cancellationToken: cancellationToken));
        }
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        Task Execute(string sql) => connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, cancellationToken: cancellationToken, commandTimeout: 0));
        try
        {
            if (connection is NpgsqlConnection settings)
            {
                await PostgresArchive.ApplyCanonicalSettingsAsync(settings, cancellationToken);
            }
            Report("Creating the table", 0);
            if (!exists)
            {
                if (renamed)
                {
                    await Execute(connection is NpgsqlConnection
                        ? PostgresArchive.CreatePlainTableSql(target, manifest.Columns)
                        : SqliteArchive.RenameCreateTable(schemaFile.In(ArchiveSchemaFile.Table).First().Sql, target.Name));
                }
                else
                {
                    foreach (var section in schemaFile.In(ArchiveSchemaFile.Prerequisite))
                    {
                        if (connection is NpgsqlConnection pg && await PostgresArchive.PrerequisiteMissingAsync(pg, section.What, cancellationToken))
                        {
                            observer.Verbose($"Creating {section.What}, which {manifest.TableRef} needs and the target lacks.");
                            await Execute(section.Sql);
                        }
                    }
                    foreach (var section in schemaFile.In(ArchiveSchemaFile.Table))
                    {
                        await Execute(section.Sql);
                    }
                }
            }

            Report("Loading rows", 1);
            var fromFile = await LoadAsync(manifest, dataPath, connection, transaction, target, names, freeze: !exists,
                rows => Report($"{rows.ToString("N0", CultureInfo.InvariantCulture)} of {manifest.RowCount.ToString("N0", CultureInfo.InvariantCulture)} rows",
                               manifest.RowCount > 0 ? (int)Math.Min(90, 1 + 89 * rows / manifest.RowCount) : -1),
                cancellationToken);
            if (fromFile != new TableContent(manifest.RowCount, manifest.Checksum))
            {
                throw ArchiveManifest.Corrupt(dataPath,
                    $"the data file holds {fromFile.Rows} rows with checksum {fromFile.Checksum}, the manifest records {manifest.RowCount} rows with {manifest.Checksum}");
            }

            if (!exists && !renamed)
            {
                Report("Creating keys and indexes", 92);
                foreach (var section in schemaFile.In(ArchiveSchemaFile.AfterLoad))
                {
                    await Execute(section.Sql);
                }
                foreach (var section in schemaFile.In(ArchiveSchemaFile.Dependent))
                {
                    await transaction.SaveAsync("dbops_dependent", cancellationToken);
                    try
                    {
                        await Execute(section.Sql);
                        await transaction.ReleaseAsync("dbops_dependent", cancellationToken);
                    }
                    catch (DbException e)
                    {
                        await transaction.RollbackAsync("dbops_dependent", cancellationToken);
                        skipped.Add($"{section.What}: {FirstLine(e.Message)}");
                        Note($"Not recreated on {target}: {section.What} ({FirstLine(e.Message)}). Create it by hand once what it needs exists; " +
                             $"its SQL is in '{schemaPath}'.");
                    }
                }
                if (connection is NpgsqlConnection owner)
                {
                    await PostgresArchive.AdvanceOwnedSequencesAsync(owner, target, cancellationToken);
                }
            }
            if (connection is SqliteConnection && await SqliteArchive.ForeignKeyProblemAsync(connection, transaction, target, cancellationToken) is { } problem)
            {
                skipped.Add(problem);
                Note($"{target}: {problem}. The rows were loaded as archived.");
            }

            Report("Checking the loaded table against the manifest", 95);
            var loaded = await TableChecksum.ComputeAsync(connection, transaction, target, names, cancellationToken);
            if (loaded != new TableContent(manifest.RowCount, manifest.Checksum))
            {
                throw new DbOpsException(ErrorIds.ArchiveVerificationFailed, ErrorKind.InvalidData,
                    $"{target} loaded from '{dataPath}' holds {loaded.Rows} rows with checksum {loaded.Checksum}, but the manifest records " +
                    $"{manifest.RowCount} rows with {manifest.Checksum}; nothing was kept. The target's column types may differ from the archive's.",
                    target.ToString());
            }
            await transaction.CommitAsync(cancellationToken);
            Report("Done", 100);
            return (loaded, !exists, skipped);
        }
        catch (Exception e) when (e is DbException || PostgresEngine.IsConnectionLost(e)
                                  || (e is InvalidOperationException or ObjectDisposedException && connection.State != ConnectionState.Open))
        {
            // A lost session (a server restart) rolls the load back as surely as a refused statement does.
            throw Unfinished.Error(e, ErrorIds.ImportFailed, $"loading {manifest.TableRef} into {target}",
                "Nothing was kept: the load is one transaction, rolled back. Run it again.", target.ToString());
        }
    }

    /// <summary>Streams the data file into the table while computing the file's own count and checksum.</summary>
    private static async Task<TableContent> LoadAsync(ArchiveManifest manifest, string dataPath, DbConnection connection, DbTransaction transaction,
        TableRef target, IReadOnlyList<string> names, bool freeze, Action<long> progress, CancellationToken cancellationToken)
    {
        var checksum = new TableChecksum();
        // The data file's SHA-256 is checked from the bytes as they are loaded; the load is rolled back if it differs.
        await using var file = DataFile.Open(manifest, dataPath);
        var throttle = new RowProgress(manifest.RowCount, progress);
        try
        {
            if (connection is NpgsqlConnection npgsql)
            {
                await PostgresArchive.CopyInAsync(npgsql, target, names, async copy =>
                {
                    if (manifest.Format == ArchiveFormat.Csv)
                    {
                        // The file's bytes go to COPY unchanged; the parser checks them on the way.
                        var parser = new CsvRowParser(DialectOf(manifest), names.Count, checksum.Add);
                        await PumpAsync(file.Data, chunk => parser.Feed(chunk.Span), copy, cancellationToken, () => throttle.Update(parser.Rows));
                        parser.Finish();
                    }
                    else
                    {
                        var output = new ChunkedOutput(copy);
                        await ReadJsonLinesAsync(file.Data, names, row =>
                        {
                            checksum.Add(row);
                            CsvText.WriteRow(row, output.Buffer);
                            output.FlushIfFull();
                        }, cancellationToken, () => throttle.Update(checksum.Rows));
                        output.Flush();
                    }
                }, freeze, cancellationToken);
            }
            else
            {
                await using var inserter = new SqliteArchive.Inserter((SqliteConnection)connection, (SqliteTransaction)transaction, target, names);
                await ReadRowsAsync(manifest, file.Data, row =>
                {
                    checksum.Add(row);
                    inserter.Insert(row);
                }, cancellationToken, () => throttle.Update(checksum.Rows));
            }
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

    /// <summary>
    /// Reads the archive's data file once, without a database: its size and SHA-256 must be the manifest's, and the
    /// rows it holds must have the manifest's count and content checksum. A manifest re-sealed over an edited data
    /// file passes every check of the manifest alone, but not this one.
    /// </summary>
    /// <exception cref="DbOpsException">ArchiveCorrupt.</exception>
    internal static async Task<TableContent> ReadContentAsync(ArchiveManifest manifest, string dataPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(dataPath))
        {
            throw ArchiveManifest.Corrupt(dataPath, "its data file is missing");
        }
        var checksum = new TableChecksum();
        await using var file = DataFile.Open(manifest, dataPath);
        try
        {
            await ReadRowsAsync(manifest, file.Data, checksum.Add, cancellationToken, () => { });
        }
        catch (InvalidDataException e)
        {
            throw ArchiveManifest.Corrupt(dataPath, $"its data is damaged or truncated ({e.Message})", e);
        }
        await file.RequireAsRecordedAsync(cancellationToken);
        if (checksum.Content != new TableContent(manifest.RowCount, manifest.Checksum))
        {
            throw ArchiveManifest.Corrupt(dataPath,
                $"the data file holds {checksum.Rows} rows with checksum {checksum.Value}, the manifest records {manifest.RowCount} rows with {manifest.Checksum}");
        }
        return checksum.Content;
    }

    /// <summary>
    /// Null when the archive at <paramref name="manifestPath"/> holds exactly <paramref name="rows"/> rows of
    /// <paramref name="table"/> (with <paramref name="checksum"/>, when given), proved from its files; otherwise why not.
    /// Journal lines are only claims: a snapshot comparison accepts a drop as archived only when this says so.
    /// </summary>
    internal static async Task<string?> WhyNotHoldingAsync(string manifestPath, TableRef table, long rows, string? checksum, CancellationToken cancellationToken)
    {
        try
        {
            var (manifest, path, folder) = ArchiveManifest.Load(manifestPath);
            if (manifest.TableRef != table || manifest.RowCount != rows || (checksum is not null && manifest.Checksum != checksum))
            {
                return $"'{path}' archives {manifest.RowCount} rows of {manifest.TableRef}, not those {rows} rows of {table}";
            }
            var dataPath = Path.Combine(folder, manifest.Data.Name);
            await RequireIntactAsync(manifest, path, dataPath, Path.Combine(folder, manifest.SchemaFile.Name), cancellationToken);
            await ReadContentAsync(manifest, dataPath, cancellationToken);
            return null;
        }
        catch (DbOpsException e) when (e.ErrorId != ErrorIds.OperationCanceled)
        {
            return e.Message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"'{manifestPath}' cannot be read ({e.Message})";
        }
    }

    private static CsvDialect DialectOf(ArchiveManifest manifest) =>
        manifest.Provider == DatabaseProvider.PostgreSQL ? CsvDialect.PostgreSQL : CsvDialect.SQLite;

    /// <summary>Parses the data file's rows (CSV or JSON Lines), in the canonical form the checksum is computed from.</summary>
    private static async Task ReadRowsAsync(ArchiveManifest manifest, Stream data, Action<CanonicalRow> onRow, CancellationToken cancellationToken, Action progress)
    {
        if (manifest.Format == ArchiveFormat.Csv)
        {
            var parser = new CsvRowParser(DialectOf(manifest), manifest.Columns.Count, onRow);
            await PumpAsync(data, chunk => parser.Feed(chunk.Span), null, cancellationToken, progress);
            parser.Finish();
        }
        else
        {
            await ReadJsonLinesAsync(data, manifest.ColumnNames, onRow, cancellationToken, progress);
        }
    }

    /// <summary>An archive's data file opened for one read: decompressed if need be, hashed as it is read.</summary>
    private sealed class DataFile : IAsyncDisposable
    {
        private readonly ArchiveManifest _manifest;
        private readonly string _path;
        private readonly FileStream _file;
        private readonly HashingStream _hashed;

        private DataFile(ArchiveManifest manifest, string path)
        {
            (_manifest, _path) = (manifest, path);
            _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
            _hashed = new HashingStream(_file, leaveOpen: true);
            Data = manifest.Compressed ? new GZipStream(_hashed, CompressionMode.Decompress, leaveOpen: true) : new NonClosing(_hashed);
        }

        /// <summary>The rows' bytes.</summary>
        public Stream Data { get; }

        public static DataFile Open(ArchiveManifest manifest, string path) => new(manifest, path);

        /// <summary>Reads what the parser may have stopped short of: is the whole file the one the manifest records?</summary>
        public async Task<bool> IsAsRecordedAsync(CancellationToken cancellationToken)
        {
            await _hashed.CopyToAsync(Stream.Null, cancellationToken);
            return _hashed.BytesSeen == _manifest.Data.SizeBytes && _hashed.Sha256() == _manifest.Data.Sha256;
        }

        public async Task RequireAsRecordedAsync(CancellationToken cancellationToken)
        {
            if (!await IsAsRecordedAsync(cancellationToken))
            {
                throw ArchiveManifest.Corrupt(_path, "its data file differs from what the manifest records (SHA-256 differs); it is damaged or was replaced");
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Data.DisposeAsync();
            await _hashed.DisposeAsync();
            await _file.DisposeAsync();
        }
    }

    private static async Task PumpAsync(Stream source, Action<ReadOnlyMemory<byte>> onChunk, Stream? copyTo, CancellationToken cancellationToken, Action progress)
    {
        var buffer = new byte[1 << 18];
        int read;
        while ((read = await source.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken)) > 0)
        {
            var chunk = buffer.AsMemory(0, read);
            onChunk(chunk);
            if (copyTo is not null)
            {
                await copyTo.WriteAsync(chunk, cancellationToken);
            }
            progress();
        }
    }

    private static async Task ReadJsonLinesAsync(Stream source, IReadOnlyList<string> names, Action<CanonicalRow> onRow, CancellationToken cancellationToken, Action progress)
    {
        var json = new ArchiveJsonLines(names);
        var row = new CanonicalRow();
        long line = 0;
        var splitter = new LineSplitter(bytes =>
        {
            line++;
            json.Read(bytes.Span, row, line);
            onRow(row);
        });
        await PumpAsync(source, chunk => splitter.Feed(chunk.Span), null, cancellationToken, progress);
        splitter.Finish();
    }

    /// <summary>How a row is written when the file is not the server's own CSV.</summary>
    private static Action<CanonicalRow, System.Buffers.IBufferWriter<byte>> RowWriter(ArchiveFormat format, IReadOnlyList<string> names) =>
        format == ArchiveFormat.JsonLines ? new ArchiveJsonLines(names).Write : CsvText.WriteRow;

    /// <summary>
    /// Both files must be there with the size the manifest records, the schema file with its SHA-256 too. The data
    /// file's SHA-256 is checked by whatever reads it next (an import while loading, a removal under the lock).
    /// </summary>
    private static async Task RequireIntactAsync(ArchiveManifest manifest, string manifestPath, string dataPath, string schemaPath,
        CancellationToken cancellationToken)
    {
        foreach (var (path, expected) in new[] { (dataPath, manifest.Data), (schemaPath, manifest.SchemaFile) })
        {
            if (!File.Exists(path))
            {
                throw ArchiveManifest.Corrupt(manifestPath, $"its file '{path}' is missing");
            }
            var size = new FileInfo(path).Length;
            // The data file's SHA-256 is checked while it loads (one read instead of two); its size here.
            if (size != expected.SizeBytes || (path == schemaPath && await ArtifactFiles.Sha256Async(path, cancellationToken) != expected.Sha256))
            {
                throw ArchiveManifest.Corrupt(manifestPath,
                    $"its file '{path}' differs from what the manifest records ({size} bytes, manifest says {expected.SizeBytes}; SHA-256 differs); " +
                    "it is damaged, truncated or was replaced");
            }
        }
    }

    /// <summary>-TargetTable: "name" (in the archived table's schema) or "schema.name"; SQLite has only main.</summary>
    private static TableRef TargetFor(ArchiveManifest manifest, string? targetTable)
    {
        if (string.IsNullOrWhiteSpace(targetTable))
        {
            return manifest.TableRef;
        }
        var dot = targetTable.IndexOf('.', StringComparison.Ordinal);
        return manifest.Provider == DatabaseProvider.SQLite || dot < 0
            ? new TableRef(manifest.Schema, manifest.Provider == DatabaseProvider.SQLite && dot >= 0 && targetTable[..dot] == SqliteEngine.MainSchema ? targetTable[(dot + 1)..] : targetTable)
            : new TableRef(targetTable[..dot], targetTable[(dot + 1)..]);
    }

    /// <summary>
    /// "schema.table" (SQLite: "table"), made safe as a file name; a name that had to change gets a short hash. A
    /// long name is cut to <see cref="MaxBaseNameBytes"/> with the hash, so the longest file it names (a temporary
    /// ".name.csv.gz.pid-guid.partial") stays under the 255 bytes file systems allow; the manifest keeps the real name.
    /// </summary>
    internal static string BaseName(TableRef table)
    {
        var name = table.ToString();
        var safe = ArtifactFiles.SafeFileName(name, "table");
        if (safe == name && Encoding.UTF8.GetByteCount(safe) <= MaxBaseNameBytes)
        {
            return safe;
        }
        var hash = "-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
        var cut = safe;
        while (Encoding.UTF8.GetByteCount(cut) > MaxBaseNameBytes - hash.Length)
        {
            cut = cut[..^(char.IsLowSurrogate(cut[^1]) && cut.Length > 1 ? 2 : 1)];
        }
        return cut + hash;
    }

    /// <summary>255 bytes less the longest rest of an archive file's name: a leading dot and ".manifest.json.{pid}-{32 hex}.partial" (67 bytes).</summary>
    internal const int MaxBaseNameBytes = 180;

    /// <summary>With -Force: removes the previous archive's manifest, then its data file if it had another name.</summary>
    private static void RemovePrevious(string manifestPath, string folder)
    {
        string? oldData = null;
        try
        {
            oldData = File.Exists(manifestPath) ? System.Text.Json.JsonDocument.Parse(File.ReadAllText(manifestPath))
                .RootElement.GetProperty("data").GetProperty("name").GetString() : null;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // A damaged old manifest is replaced all the same.
        }
        File.Delete(manifestPath);
        if (oldData is not null && Path.GetFileName(oldData) == oldData)
        {
            ArtifactFiles.DeleteQuietly(Path.Combine(folder, oldData));
        }
    }

    private static async Task WriteTextAsync(string path, string text, CancellationToken cancellationToken)
    {
        await using var stream = ArtifactFiles.CreateOwnerOnly(path);
        await stream.WriteAsync(new UTF8Encoding(false).GetBytes(text), cancellationToken);
    }

    private static Exception MapExportError(Exception e, TableRef table, string folder)
    {
        if (ArtifactFiles.IsDiskFull(e))
        {
            return ArtifactFiles.DiskFull(folder, e);
        }
        return e switch
        {
            DbOpsException => e,
            OperationCanceledException => e,
            IOException or UnauthorizedAccessException => new DbOpsException(ErrorIds.ArchiveFailed, ErrorKind.WriteError,
                $"Writing the archive of {table} to '{folder}' failed: {e.Message}", folder, e),
            Npgsql.PostgresException { SqlState: "42501" } pg => new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
                $"{table} was not archived: {pg.MessageText}. An archive must hold every row: export as a role that may read the whole " +
                "table (its owner, without FORCE ROW LEVEL SECURITY, or one with BYPASSRLS, or with SELECT granted).", table.ToString(), e),
            DbException or InvalidDataException => new DbOpsException(ErrorIds.ArchiveFailed, ErrorKind.OperationFailed,
                $"Reading {table} for its archive failed: {e.Message}", table.ToString(), e),
            _ => e,
        };
    }

    /// <summary>A view of a stream whose disposal leaves the stream open.</summary>
    private sealed class NonClosing(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }


    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    /// <summary>Reports progress at most about four times a second.</summary>
    private sealed class RowProgress(long expected, Action<long> report)
    {
        private readonly Stopwatch _since = Stopwatch.StartNew();

        public long Expected { get; } = expected;

        public void Update(long rows)
        {
            if (_since.ElapsedMilliseconds >= 250)
            {
                _since.Restart();
                report(rows);
            }
        }
    }
}
