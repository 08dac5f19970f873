using System.Buffers;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Threading.Channels;

namespace DbOps.Core.Archive;

/// <summary>
/// A write-only stream that hands what is written to a second thread, which computes the SHA-256 and writes the file
/// (issue 22): the thread reading and parsing the rows no longer waits for hashing and the disk. Bytes are copied into
/// pooled buffers of <see cref="ChunkBytes"/>; at most <see cref="QueuedChunks"/> wait, so memory stays a few MB however
/// big the table. A failure of the file write (a full disk) is thrown by the next write or by <see cref="CompleteAsync"/>.
/// The file stays open: its owner flushes it to disk after <see cref="CompleteAsync"/>.
/// </summary>
internal sealed class HashingFileWriter : Stream
{
    /// <summary>The size of one handed-over buffer: the size of the COPY chunks the rows arrive in.</summary>
    internal const int ChunkBytes = 1 << 18;

    /// <summary>Filled buffers that may wait for the writer; one more is being written and one filled.</summary>
    internal const int QueuedChunks = 4;

    private readonly Stream _file;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Channel<Chunk> _filled = Channel.CreateBounded<Chunk>(
        new BoundedChannelOptions(QueuedChunks) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _abort;
    private readonly Task _writer;
    private byte[]? _current;
    private int _used;
    private Exception? _failure;
    private string? _sha256;
    private bool _released;

    public HashingFileWriter(Stream file, CancellationToken cancellationToken)
    {
        _file = file;
        _abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _writer = Task.Run(WriteChunksAsync, CancellationToken.None);
    }

    /// <summary>Bytes written so far (not all of them need be in the file yet).</summary>
    public long BytesSeen { get; private set; }

    /// <summary>
    /// Hands over the last buffer and waits until everything is hashed and written: the SHA-256 of all bytes, as lower-case
    /// hex. A failed file write is thrown here.
    /// </summary>
    public async Task<string> CompleteAsync(CancellationToken cancellationToken)
    {
        if (_sha256 is null)
        {
            await HandOverAsync(cancellationToken);
            _filled.Writer.TryComplete();
            await _writer;
            ThrowIfFailed();
            _sha256 = Convert.ToHexStringLower(_hash.GetCurrentHash());
        }
        return _sha256;
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesSeen; set => throw new NotSupportedException(); }

    /// <summary>Hands over what is buffered; it reaches the file in order, without waiting here (see <see cref="CompleteAsync"/>).</summary>
    public override void Flush() => HandOverAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => HandOverAsync(cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <summary>Synchronous writers (SQLite's rows, gzip) block only while <see cref="QueuedChunks"/> buffers wait.</summary>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var taken = Append(buffer);
            buffer = buffer[taken..];
            if (_used == ChunkBytes)
            {
                HandOverAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var taken = Append(buffer.Span);
            buffer = buffer[taken..];
            if (_used == ChunkBytes)
            {
                await HandOverAsync(cancellationToken);
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ReleaseAsync().AsTask().GetAwaiter().GetResult();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await ReleaseAsync();
        await base.DisposeAsync();
    }

    /// <summary>Without <see cref="CompleteAsync"/> (the export failed), stops the writer; the buffers go back to the pool.</summary>
    private async ValueTask ReleaseAsync()
    {
        if (_released)
        {
            return;
        }
        _released = true;
        if (_filled.Writer.TryComplete())
        {
            await _abort.CancelAsync();
        }
        await _writer; // it ends without throwing: a failure is kept in _failure
        if (_current is not null)
        {
            ArrayPool<byte>.Shared.Return(_current);
            _current = null;
        }
        _hash.Dispose();
        _abort.Dispose();
    }

    /// <summary>Copies as much of <paramref name="bytes"/> as the current buffer holds; how many were taken.</summary>
    private int Append(ReadOnlySpan<byte> bytes)
    {
        ThrowIfFailed();
        _current ??= ArrayPool<byte>.Shared.Rent(ChunkBytes);
        var taken = Math.Min(bytes.Length, ChunkBytes - _used);
        bytes[..taken].CopyTo(_current.AsSpan(_used));
        _used += taken;
        BytesSeen += taken;
        return taken;
    }

    /// <summary>Queues the current buffer for the writer, waiting while the queue is full; the writer owns it from then on.</summary>
    private async ValueTask HandOverAsync(CancellationToken cancellationToken)
    {
        if (_current is null || _used == 0)
        {
            return;
        }
        var chunk = new Chunk(_current, _used);
        (_current, _used) = (null, 0);
        try
        {
            if (!_filled.Writer.TryWrite(chunk))
            {
                await _filled.Writer.WriteAsync(chunk, cancellationToken);
            }
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            ArrayPool<byte>.Shared.Return(chunk.Buffer);
            ThrowIfFailed();
            throw;
        }
    }

    /// <summary>The second thread: hashes and writes each buffer in order, then returns it to the pool.</summary>
    private async Task WriteChunksAsync()
    {
        try
        {
            await foreach (var chunk in _filled.Reader.ReadAllAsync(_abort.Token))
            {
                try
                {
                    _hash.AppendData(chunk.Buffer, 0, chunk.Length);
                    // Synchronous: this thread is the writer, and an asynchronous file write on Unix is one more hop
                    // through the thread pool.
                    _file.Write(chunk.Buffer, 0, chunk.Length);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(chunk.Buffer);
                }
            }
        }
        catch (Exception e)
        {
            // The reading thread learns of it at its next write; buffers queued meanwhile are dropped.
            Volatile.Write(ref _failure, e);
            _filled.Writer.TryComplete();
            while (_filled.Reader.TryRead(out var dropped))
            {
                ArrayPool<byte>.Shared.Return(dropped.Buffer);
            }
        }
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _failure) is { } failure)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    private readonly record struct Chunk(byte[] Buffer, int Length);
}
