using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace DbOps.Core.Archive;

/// <summary>
/// JSON Lines: one object per row, keyed by column name in column order. PostgreSQL values are strings (the
/// column's text output) or null. SQLite values keep their storage class: TEXT a string, INTEGER a number without
/// a point, REAL a number with a point or exponent (or {"real":"Infinity"}), BLOB {"blob":"base64"}.
/// </summary>
internal sealed class ArchiveJsonLines(IReadOnlyList<string> columns)
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false };
    private readonly JsonEncodedText[] _names = columns.Select(c => JsonEncodedText.Encode(c, JavaScriptEncoder.UnsafeRelaxedJsonEscaping)).ToArray();
    private Utf8JsonWriter? _writer;

    public void Write(CanonicalRow row, IBufferWriter<byte> output)
    {
        if (_writer is null)
        {
            _writer = new Utf8JsonWriter(output, WriterOptions);
        }
        else
        {
            _writer.Reset(output);
        }
        var writer = _writer;
        writer.WriteStartObject();
        var i = 0;
        foreach (var field in row)
        {
            var name = _names[i++];
            switch (field.Tag)
            {
                case ValueTag.Null:
                    writer.WriteNull(name);
                    break;
                case ValueTag.Text:
                    writer.WriteString(name, field.Value);
                    break;
                case ValueTag.Integer:
                    writer.WritePropertyName(name);
                    writer.WriteRawValue(field.Value, skipInputValidation: true);
                    break;
                case ValueTag.Real:
                    var real = double.Parse(Encoding.ASCII.GetString(field.Value), NumberStyles.Float, CultureInfo.InvariantCulture);
                    if (double.IsFinite(real))
                    {
                        writer.WritePropertyName(name);
                        writer.WriteRawValue(SqliteValues.CsvReal(real), skipInputValidation: true);
                    }
                    else
                    {
                        writer.WriteStartObject(name);
                        writer.WriteString("real", SqliteValues.FormatReal(real));
                        writer.WriteEndObject();
                    }
                    break;
                case ValueTag.Blob:
                    writer.WriteStartObject(name);
                    writer.WriteBase64String("blob", field.Value);
                    writer.WriteEndObject();
                    break;
            }
        }
        writer.WriteEndObject();
        writer.Flush();
        output.Write("\n"u8);
    }

    /// <summary>Reads one line into <paramref name="row"/>; damage is InvalidDataException.</summary>
    public void Read(ReadOnlySpan<byte> line, CanonicalRow row, long lineNumber)
    {
        row.Clear();
        try
        {
            var reader = new Utf8JsonReader(line);
            Expect(reader.Read() && reader.TokenType == JsonTokenType.StartObject);
            for (var i = 0; i < _names.Length; i++)
            {
                Expect(reader.Read() && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals(columns[i]));
                Expect(reader.Read());
                switch (reader.TokenType)
                {
                    case JsonTokenType.Null:
                        row.AddNull();
                        break;
                    case JsonTokenType.String:
                        row.Add(ValueTag.Text, reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan);
                        break;
                    case JsonTokenType.Number:
                        var number = reader.ValueSpan;
                        row.Add(number.IndexOfAny("."u8) >= 0 || number.IndexOfAny((byte)'e', (byte)'E') >= 0 ? ValueTag.Real : ValueTag.Integer,
                            (SqliteValues.ParseUnquoted(number) ?? throw new InvalidDataException("bad number")).Value);
                        break;
                    case JsonTokenType.StartObject:
                        Expect(reader.Read() && reader.TokenType == JsonTokenType.PropertyName);
                        var kind = reader.GetString();
                        Expect(reader.Read() && reader.TokenType == JsonTokenType.String);
                        if (kind == "blob")
                        {
                            row.Add(ValueTag.Blob, reader.GetBytesFromBase64());
                        }
                        else
                        {
                            Expect(kind == "real");
                            var real = double.Parse(reader.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture);
                            row.Add(ValueTag.Real, Encoding.ASCII.GetBytes(SqliteValues.FormatReal(real)));
                        }
                        Expect(reader.Read() && reader.TokenType == JsonTokenType.EndObject);
                        break;
                    default:
                        Expect(false);
                        break;
                }
            }
            Expect(reader.Read() && reader.TokenType == JsonTokenType.EndObject);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or InvalidDataException)
        {
            throw new InvalidDataException($"JSON line {lineNumber.ToString(CultureInfo.InvariantCulture)} is not a row of this archive: {e.Message}", e);
        }
    }

    private static void Expect(bool condition)
    {
        if (!condition)
        {
            throw new InvalidDataException("unexpected content");
        }
    }
}

/// <summary>Splits a byte stream fed in chunks into lines (without the line end).</summary>
internal sealed class LineSplitter(Action<ReadOnlyMemory<byte>> onLine)
{
    private readonly ArrayBufferWriter<byte> _pending = new();

    public void Feed(ReadOnlySpan<byte> chunk)
    {
        while (true)
        {
            var end = chunk.IndexOf((byte)'\n');
            if (end < 0)
            {
                _pending.Write(chunk);
                return;
            }
            if (_pending.WrittenCount == 0)
            {
                onLine(chunk[..end].ToArray());
            }
            else
            {
                _pending.Write(chunk[..end]);
                onLine(_pending.WrittenMemory.ToArray());
                _pending.ResetWrittenCount();
            }
            chunk = chunk[(end + 1)..];
        }
    }

    public void Finish()
    {
        if (_pending.WrittenCount > 0)
        {
            onLine(_pending.WrittenMemory.ToArray());
            _pending.ResetWrittenCount();
        }
    }
}
