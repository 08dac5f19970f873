using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using DbOps.Core.Columns;
using DbOps.Core.Diagnostics;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Journal;
using DbOps.Core.Progress;

namespace DbOps.Core.Archive;

/// <summary>
/// Export-TableArchive: reads the table once, in one snapshot, writing the data file while computing the row count and
/// content checksum from the same bytes; files go to temporary names and are renamed when complete, the manifest last.
/// </summary>
internal static class ArchiveExport
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
        var dialect = provider.Archive;
        var (catalog, snapshot) = await dialect.ReadSchemaAndBeginSnapshotAsync(connection, cancellationToken);
        await using var transaction = snapshot;
        var tableSchema = catalog.Resolve(request.Table);
        var table = tableSchema.Table;
        // A column archive (issue 17) holds the key and the archived columns of every row.
        var columnPart = request.Selection is { Scope: ArchiveScope.Columns } selection ? ColumnArchive.For(tableSchema, selection) : null;
        var columns = (columnPart?.Stored ?? TableChecksum.StoredColumns(tableSchema)).Select(c => new ArchiveColumn(c.Name, c.DataType, c.IsNullable)).ToList();
        var names = columns.Select(c => c.Name).ToList();
        if (names.Count == 0)
        {
            throw new DbOpsException(ErrorIds.ArchiveFailed, ErrorKind.InvalidArgument,
                $"{table} has no stored columns to archive (it has none, or only generated ones).", table.ToString());
        }
        var where = RowsCondition(request.Selection, tableSchema, provider);
        var activity = $"Archiving {table}";
        void Report(string status, int percent) => observer.Progress(new OperationProgress(activity, status, percent));

        var baseName = BaseName(columnPart?.BaseName(table) ?? table.ToString());
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
        ParallelArchiveExport? parallel = null;
        using var schemaWork = new SchemaFileWork(cancellationToken);
        var work = schemaWork.Token;
        try
        {
            Report("Reading the table's schema", 0);
            // pg_dump writes the table's DDL while the rows stream, so a table that takes longer to read than pg_dump to
            // run no longer waits for it first.
            schemaWork.Start(await dialect.StartSchemaFileAsync(source, connection, transaction, tableSchema, request.ToolPath, work));
            await dialect.UseCanonicalTextAsync(connection, work);
            var expected = await dialect.ExpectedRowsAsync(connection, transaction, table, work);

            var checksum = new TableChecksum();
            var progress = new RowProgress(expected, rows => Report(
                $"{rows.ToString("N0", CultureInfo.InvariantCulture)} of ~{expected.ToString("N0", CultureInfo.InvariantCulture)} rows",
                expected > 0 ? (int)Math.Min(98, 98 * rows / expected) : -1));
            string dataSha;
            // Issue 22: with -Parallel, ranges of the table are read over several connections in this snapshot.
            parallel = where is null && columnPart is null
                ? await ParallelArchiveExport.StartAsync(request, provider, connection, transaction, table, columns, folder, dataName, observer, work)
                : null;
            if (parallel is not null)
            {
                dataSha = await parallel.WriteDataAsync(dataTemp, checksum, progress.Update, work);
            }
            else
            {
                await using var file = ArtifactFiles.CreateOwnerOnly(dataTemp, bufferSize: 0);
                // The SHA-256 is taken from the bytes on their way to the file, not by reading the file again.
                await using (var hashed = new HashingStream(file, leaveOpen: true))
                {
                    await WriteRowsAsync(request, dialect, connection, transaction, table, names, where, hashed, checksum, progress.Update, work);
                    dataSha = hashed.Sha256();
                }
                file.Flush(flushToDisk: true);
            }
            Report("Writing the schema file", 99);
            await WriteTextAsync(schemaTemp, (await schemaWork.File).Serialize(), cancellationToken);
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
            if (where is not null)
            {
                manifest = manifest with
                {
                    FormatVersion = ArchiveManifest.PartialFormatVersion, Scope = ArchiveScope.Rows, Key = request.Selection!.Key, Where = where,
                };
            }
            else if (columnPart is not null)
            {
                manifest = manifest with { FormatVersion = ArchiveManifest.PartialFormatVersion, Scope = ArchiveScope.Columns, Key = columnPart.Key };
            }

            // Verified under the temporary names: a process killed meanwhile leaves only .partial files.
            ArchiveCheck? check = null;
            if (request.Verify)
            {
                Report("Verifying: loading the archive into a scratch table", 99);
                check = await ArchiveVerification.LoadIntoScratchAsync(manifest, dataTemp, schemaTemp, source, observer, cancellationToken);
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
            parallel?.Complete();
            observer.Verbose($"Archived {table}: {manifest.RowCount} rows, {manifest.Data.SizeBytes} bytes in {dataPath}; checksum {manifest.Checksum}.");
            // A rows archive is the first step of a row fix, whose one journal entry names it.
            if (where is null)
            {
                OperationsJournal.Record(request.JournalPath, JournalEntry.For(source, JournalOperations.ArchiveCreated) with
                {
                    Schema = table.Schema,
                    Table = table.Name,
                    Column = columnPart is null ? null : string.Join(", ", columnPart.Archived),
                    Rows = manifest.RowCount,
                    Path = manifestPath,
                    Checksum = manifest.Checksum,
                    Sha256 = manifest.Data.Sha256,
                    Verified = manifest.VerifiedAt is not null,
                }, observer);
            }
            return new TableArchive(manifest, manifestPath, dataPath, schemaPath, check, clock.Elapsed, source);
        }
        catch (Exception e)
        {
            ArtifactFiles.DeleteQuietly(dataTemp);
            ArtifactFiles.DeleteQuietly(schemaTemp);
            ArtifactFiles.DeleteQuietly(manifestTemp);
            // No manifest means no archive: do not leave files that look like one.
            committed.ForEach(ArtifactFiles.DeleteQuietly);
            throw MapExportError(await schemaWork.StopAsync(e), provider, table, folder);
        }
        finally
        {
            parallel?.Dispose();
        }
    }

    /// <summary>
    /// The schema file's unfinished work (pg_dump), run beside the rows in the same snapshot: its failure stops the rows
    /// and is the error reported; the export's failure, or the caller's cancellation, stops it.
    /// </summary>
    private sealed class SchemaFileWork(CancellationToken caller) : IDisposable
    {
        private readonly CancellationTokenSource _work = CancellationTokenSource.CreateLinkedTokenSource(caller);
        private Task<ArchiveSchemaFile>? _file;
        private Exception? _failure;

        /// <summary>Cancelled by the caller, by the schema file's failure, or by <see cref="StopAsync"/>.</summary>
        public CancellationToken Token => _work.Token;

        public Task<ArchiveSchemaFile> File => _file ?? throw new InvalidOperationException("The schema file was not started.");

        public void Start(Task<ArchiveSchemaFile> finishing) => _file = WatchAsync(finishing);

        private async Task<ArchiveSchemaFile> WatchAsync(Task<ArchiveSchemaFile> finishing)
        {
            try
            {
                return await finishing;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _failure = e;
                await CancelAsync();
                throw;
            }
        }

        /// <summary>
        /// After the export failed: stops the schema file's work and waits for it (pg_dump is killed), then says which
        /// error to report: the schema file's, when it failed first and so stopped the rows; else the export's own.
        /// </summary>
        public async Task<Exception> StopAsync(Exception failure)
        {
            var first = caller.IsCancellationRequested ? null : _failure;
            if (_file is null)
            {
                return failure;
            }
            await CancelAsync();
            try
            {
                await _file;
            }
            catch (Exception)
            {
                // Stopped, or failed on its own: secondary to the failure being reported, and it left no file.
            }
            return first ?? failure;
        }

        private async Task CancelAsync()
        {
            try
            {
                await _work.CancelAsync();
            }
            catch (AggregateException)
            {
                // A cancellation callback failed (one sending the server a cancel request): the work stops all the same.
            }
        }

        public void Dispose() => _work.Dispose();
    }

    /// <summary>
    /// Writes the rows <paramref name="where"/> chooses (all when null) to <paramref name="hashed"/> in the request's format and
    /// compression, adding each to <paramref name="checksum"/>: the data file of an export, or one range's part of it (issue 22).
    /// </summary>
    internal static async Task WriteRowsAsync(ArchiveExportRequest request, IArchiveDialect dialect, DbConnection connection, DbTransaction transaction,
        TableRef table, IReadOnlyList<string> names, string? where, HashingStream hashed, TableChecksum checksum, Action<long> rowsDone,
        CancellationToken cancellationToken)
    {
        var data = request.Compress ? new GZipStream(hashed, CompressionLevel.Fastest, leaveOpen: true) : (Stream)hashed;
        try
        {
            if (request.Format == ArchiveFormat.Csv)
            {
                // The checksum is computed from the rows as the CSV is written.
                await dialect.ExportRowsAsync(connection, transaction, table, names, where, data, checksum.Add, rowsDone, cancellationToken);
            }
            else
            {
                var output = new ChunkedOutput(data);
                var json = new ArchiveJsonLines(names);
                await dialect.ExportRowsAsync(connection, transaction, table, names, where, null, row =>
                {
                    checksum.Add(row);
                    json.Write(row, output.Buffer);
                    output.FlushIfFull();
                }, rowsDone, cancellationToken);
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
    }

    /// <summary>
    /// The condition of a <see cref="ArchiveScope.Rows"/> selection, checked by the one expression rule; null for a whole
    /// table. Its key must be columns of the table: they address the archived rows when they are put back.
    /// </summary>
    private static string? RowsCondition(ArchiveSelection? selection, Schema.TableSchema table, IDatabaseEngine engine)
    {
        if (selection is not { Scope: ArchiveScope.Rows })
        {
            return null;
        }
        var why = Sql.SqlExpression.Problem(selection.Where, engine)
            ?? (selection.Key.Count == 0 || selection.Key.Any(k => table.Columns.All(c => c.Name != k))
                ? $"its key ({string.Join(", ", selection.Key)}) is not a set of columns of {table.Table}" : null);
        return why is null ? selection.Where
            : throw new DbOpsException(ErrorIds.RowConditionInvalid, ErrorKind.InvalidArgument,
                $"The rows of {table.Table} to archive cannot be chosen by '{selection.Where}': {why}.", selection.Where);
    }

    /// <summary>
    /// "schema.table" (SQLite: "table"), made safe as a file name; a name that had to change gets a short hash. A
    /// long name is cut to <see cref="MaxBaseNameBytes"/> with the hash, so the longest file it names (a temporary
    /// ".name.csv.gz.pid-guid.partial") stays under the 255 bytes file systems allow; the manifest keeps the real name.
    /// </summary>
    internal static string BaseName(TableRef table) => BaseName(table.ToString());

    internal static string BaseName(string name)
    {
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

    private static Exception MapExportError(Exception e, IDatabaseEngine engine, TableRef table, string folder)
    {
        if (ArtifactFiles.IsDiskFull(e))
        {
            return ArtifactFiles.DiskFull(folder, e);
        }
        return (e, engine.RefusalOf(e)) switch
        {
            (DbOpsException, _) => e,
            (OperationCanceledException, _) => e,
            (IOException or UnauthorizedAccessException, _) => new DbOpsException(ErrorIds.ArchiveFailed, ErrorKind.WriteError,
                $"Writing the archive of {table} to '{folder}' failed: {e.Message}", folder, e),
            (_, { Kind: RefusalKind.InsufficientPrivilege } refusal) => new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
                $"{table} was not archived: {refusal.Reason}. An archive must hold every row: export as a role that may read the whole " +
                "table (its owner, without FORCE ROW LEVEL SECURITY, or one with BYPASSRLS, or with SELECT granted).", table.ToString(), e),
            (DbException or InvalidDataException, _) => new DbOpsException(ErrorIds.ArchiveFailed, ErrorKind.OperationFailed,
                $"Reading {table} for its archive failed: {e.Message}", table.ToString(), e),
            _ => e,
        };
    }
}
