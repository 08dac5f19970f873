using System.IO.Compression;
using DbOps.Core.Engines;

namespace DbOps.Core.Archive;

/// <summary>An archive's data file opened for one read: decompressed if need be, hashed as it is read.</summary>
internal sealed class ArchiveDataFile : IAsyncDisposable
{
    private readonly ArchiveManifest _manifest;
    private readonly string _path;
    private readonly FileStream _file;
    private readonly HashingStream _hashed;

    private ArchiveDataFile(ArchiveManifest manifest, string path)
    {
        (_manifest, _path) = (manifest, path);
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
        _hashed = new HashingStream(_file, leaveOpen: true);
        Data = manifest.Compressed ? new GZipStream(_hashed, CompressionMode.Decompress, leaveOpen: true) : new NonClosing(_hashed);
    }

    /// <summary>The rows' bytes.</summary>
    public Stream Data { get; }

    public static ArchiveDataFile Open(ArchiveManifest manifest, string path) => new(manifest, path);

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

    internal static CsvDialect DialectOf(ArchiveManifest manifest) => DatabaseEngines.For(manifest.Provider).Archive.Csv;

    /// <summary>Parses the data file's rows (CSV or JSON Lines), in the canonical form the checksum is computed from.</summary>
    internal static async Task ReadRowsAsync(ArchiveManifest manifest, Stream data, Action<CanonicalRow> onRow, CancellationToken cancellationToken, Action progress)
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

    internal static async Task PumpAsync(Stream source, Action<ReadOnlyMemory<byte>> onChunk, Stream? copyTo, CancellationToken cancellationToken, Action progress)
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

    internal static async Task ReadJsonLinesAsync(Stream source, IReadOnlyList<string> names, Action<CanonicalRow> onRow, CancellationToken cancellationToken, Action progress)
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
}

/// <summary>
/// The rows of an archive's data file on their way into a table: each one is added to the file's own count and checksum
/// as it passes, whichever way the engine takes them.
/// </summary>
internal sealed class ArchiveRows(ArchiveManifest manifest, ArchiveDataFile file, TableChecksum checksum, RowProgress progress,
    CancellationToken cancellationToken)
{
    /// <summary>Hands every row, in canonical form, to <paramref name="onRow"/>.</summary>
    public Task ReadAsync(Action<CanonicalRow> onRow) =>
        ArchiveDataFile.ReadRowsAsync(manifest, file.Data, row =>
        {
            checksum.Add(row);
            onRow(row);
        }, cancellationToken, () => progress.Update(checksum.Rows));

    /// <summary>
    /// Writes the rows to <paramref name="destination"/> as CSV that COPY ... FROM (FORMAT csv) reads: a CSV file's bytes
    /// unchanged (the parser checks them on the way), JSON Lines rewritten as CSV.
    /// </summary>
    public async Task CopyCsvAsync(Stream destination)
    {
        if (manifest.Format == ArchiveFormat.Csv)
        {
            var parser = new CsvRowParser(ArchiveDataFile.DialectOf(manifest), manifest.Columns.Count, checksum.Add);
            await ArchiveDataFile.PumpAsync(file.Data, chunk => parser.Feed(chunk.Span), destination, cancellationToken, () => progress.Update(parser.Rows));
            parser.Finish();
        }
        else
        {
            var output = new ChunkedOutput(destination);
            await ArchiveDataFile.ReadJsonLinesAsync(file.Data, manifest.ColumnNames, row =>
            {
                checksum.Add(row);
                CsvText.WriteRow(row, output.Buffer);
                output.FlushIfFull();
            }, cancellationToken, () => progress.Update(checksum.Rows));
            output.Flush();
        }
    }
}
