using System.Buffers;

namespace DbOps.Core.Archive;

/// <summary>Writing RFC 4180 values.</summary>
internal static class CsvText
{
    /// <summary>Writes a value in double quotes, doubling the quotes inside it.</summary>
    public static void WriteQuoted(ReadOnlySpan<byte> value, IBufferWriter<byte> output)
    {
        output.Write("\""u8);
        while (true)
        {
            var quote = value.IndexOf((byte)'"');
            if (quote < 0)
            {
                output.Write(value);
                break;
            }
            output.Write(value[..(quote + 1)]);
            output.Write("\""u8);
            value = value[(quote + 1)..];
        }
        output.Write("\""u8);
    }
}

/// <summary>Collects encoded rows and hands them to a stream in large writes.</summary>
internal sealed class ChunkedOutput(Stream destination, int flushAt = 1 << 18)
{
    public ArrayBufferWriter<byte> Buffer { get; } = new(flushAt + 4096);

    /// <summary>Writes the buffer out once it holds enough bytes for one large write.</summary>
    public void FlushIfFull()
    {
        if (Buffer.WrittenCount >= flushAt)
        {
            Flush();
        }
    }

    /// <summary>Writes out whatever the buffer holds.</summary>
    public void Flush()
    {
        if (Buffer.WrittenCount > 0)
        {
            destination.Write(Buffer.WrittenSpan);
            Buffer.ResetWrittenCount();
        }
    }
}
