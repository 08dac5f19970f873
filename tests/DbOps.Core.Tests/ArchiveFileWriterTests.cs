using System.Security.Cryptography;
using DbOps.Core.Archive;

namespace DbOps.Core.Tests;

/// <summary>HashingFileWriter (issue 22): the second thread must write and hash exactly the bytes given, in order.</summary>
public sealed class ArchiveFileWriterTests
{
    [Fact]
    public async Task Bytes_written_in_any_pieces_reach_the_file_in_order_with_their_SHA256()
    {
        // Several buffers' worth, in pieces that straddle buffer ends, by both the synchronous and the asynchronous path.
        var bytes = new byte[HashingFileWriter.ChunkBytes * (HashingFileWriter.QueuedChunks + 3) + 12345];
        new Random(22).NextBytes(bytes);
        var path = Path.Combine(Path.GetTempPath(), $"dbops-writer-{Guid.NewGuid():N}");
        try
        {
            string sha;
            long seen;
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
            {
                await using var writer = new HashingFileWriter(file, CancellationToken.None);
                var at = 0;
                for (var piece = 1; at < bytes.Length; piece = piece * 7 % 300_007 + 1)
                {
                    var length = Math.Min(piece, bytes.Length - at);
                    if (piece % 2 == 0)
                    {
                        writer.Write(bytes, at, length);
                    }
                    else
                    {
                        await writer.WriteAsync(bytes.AsMemory(at, length));
                    }
                    at += length;
                }
                sha = await writer.CompleteAsync(CancellationToken.None);
                seen = writer.BytesSeen;
            }

            Assert.Equal(bytes.Length, seen);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), sha);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task A_failed_file_write_is_thrown_to_the_writer_as_it_was()
    {
        await using var failing = new FailingStream(failAfter: HashingFileWriter.ChunkBytes * 2);
        await using var writer = new HashingFileWriter(failing, CancellationToken.None);
        var chunk = new byte[64 * 1024];

        // The reading thread learns of it at a later write, or at the end: never a silent short file.
        var error = await Assert.ThrowsAsync<IOException>(async () =>
        {
            for (var i = 0; i < 1000; i++)
            {
                await writer.WriteAsync(chunk);
            }
            await writer.CompleteAsync(CancellationToken.None);
        });
        Assert.Equal("No space left on device", error.Message);
    }

    /// <summary>Takes <c>failAfter</c> bytes, then fails as a full disk does.</summary>
    private sealed class FailingStream(long failAfter) : Stream
    {
        private long _taken;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _taken;
        public override long Position { get => _taken; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (_taken + count > failAfter)
            {
                throw new IOException("No space left on device");
            }
            _taken += count;
        }
    }
}
