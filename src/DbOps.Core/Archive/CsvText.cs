using System.Buffers;

namespace DbOps.Core.Archive;

/// <summary>Writing RFC 4180 values.</summary>
internal static class CsvText
{
    /// <summary>
    /// Writes one canonical row as CSV that <see cref="CsvRowParser"/> reads back to the same row: NULL unquoted and
    /// empty, text always quoted; SQLite's INTEGER as digits, REAL with a point or exponent, BLOB as X'hex'. A
    /// PostgreSQL row holds only text and NULL, so this is also CSV that COPY ... FROM reads.
    /// </summary>
    public static void WriteRow(CanonicalRow row, IBufferWriter<byte> output)
    {
        var first = true;
        foreach (var field in row)
        {
            if (!first)
            {
                output.Write(","u8);
            }
            first = false;
            switch (field.Tag)
            {
                case ValueTag.Text:
                    WriteQuoted(field.Value, output);
                    break;
                case ValueTag.Integer:
                    output.Write(field.Value);
                    break;
                case ValueTag.Real:
                    output.Write(field.Value);
                    if (!field.Value.ContainsAnyExcept("-0123456789"u8))
                    {
                        output.Write(".0"u8);
                    }
                    break;
                case ValueTag.Blob:
                    output.Write("X'"u8);
                    output.Write(System.Text.Encoding.ASCII.GetBytes(Convert.ToHexString(field.Value)));
                    output.Write("'"u8);
                    break;
            }
        }
        output.Write("\n"u8);
    }

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
