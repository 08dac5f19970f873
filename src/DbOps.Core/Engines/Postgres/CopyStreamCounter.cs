using System.Text;
using DbOps.Core.Backup;

namespace DbOps.Core.Engines;

/// <summary>
/// Counts the rows of every table in pg_restore's plain-text data output ("COPY schema.table (...) FROM stdin;",
/// one line per row, ended by a line "\."), reading bytes as they stream so memory stays flat however large the
/// dump. A data line can never be exactly "\." because COPY escapes every backslash in values.
/// </summary>
internal sealed class CopyStreamCounter
{
    private const int MaxHeaderBytes = 1 << 20;
    private static readonly byte[] CopyPrefix = "COPY "u8.ToArray();
    private static readonly byte[] FromStdin = " FROM stdin;"u8.ToArray();

    private readonly List<ManifestTable> _tables = [];
    private readonly byte[] _line = new byte[MaxHeaderBytes];
    private int _kept;
    private long _lineLength;
    private (string Schema, string Name)? _current;
    private long _rows;

    /// <summary>Tables in the order they appear in the dump, with their row counts.</summary>
    public IReadOnlyList<ManifestTable> Tables => _tables;

    public async Task CountAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            Feed(buffer.AsSpan(0, read));
        }
        if (_current is not null)
        {
            throw new InvalidDataException($"The dump ended inside the data of {_current.Value.Schema}.{_current.Value.Name}.");
        }
    }

    public void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var newline = data.IndexOf((byte)'\n');
            var part = newline < 0 ? data : data[..newline];
            // Inside a table's data only the first two bytes matter (is it "\."?); keep a header whole.
            var room = (_current is null ? MaxHeaderBytes : 2) - _kept;
            var keep = Math.Min(room, part.Length);
            part[..keep].CopyTo(_line.AsSpan(_kept));
            _kept += keep;
            _lineLength += part.Length;
            if (newline < 0)
            {
                return;
            }
            EndLine();
            data = data[(newline + 1)..];
        }
    }

    private void EndLine()
    {
        var line = _line.AsSpan(0, _kept);
        if (_current is { } table)
        {
            if (_lineLength == 2 && line[0] == (byte)'\\' && line[1] == (byte)'.')
            {
                _tables.Add(new ManifestTable(table.Schema, table.Name, _rows));
                _current = null;
            }
            else
            {
                _rows++;
            }
        }
        else if (_lineLength == _kept && line.StartsWith(CopyPrefix) && line.Count((byte)'"') % 2 == 1 && _kept < MaxHeaderBytes)
        {
            // A quoted name that holds a newline: the header goes on in the next line (only comments are sanitized).
            _line[_kept++] = (byte)'\n';
            _lineLength++;
            return;
        }
        else if (_lineLength == _kept && line.StartsWith(CopyPrefix) && line.EndsWith(FromStdin))
        {
            _current = ParseQualifiedName(Encoding.UTF8.GetString(line[CopyPrefix.Length..]));
            _rows = 0;
        }
        _kept = 0;
        _lineLength = 0;
    }

    /// <summary>Reads `schema.table` or `"My Schema"."My ""Table"""` from the start of a COPY header.</summary>
    internal static (string Schema, string Name) ParseQualifiedName(string text)
    {
        var position = 0;
        var schema = ReadIdentifier(text, ref position);
        if (position < text.Length && text[position] == '.')
        {
            position++;
            return (schema, ReadIdentifier(text, ref position));
        }
        return ("public", schema);
    }

    private static string ReadIdentifier(string text, ref int position)
    {
        var name = new StringBuilder();
        if (position < text.Length && text[position] == '"')
        {
            position++;
            while (position < text.Length)
            {
                if (text[position] == '"')
                {
                    if (position + 1 < text.Length && text[position + 1] == '"')
                    {
                        name.Append('"');
                        position += 2;
                        continue;
                    }
                    position++;
                    break;
                }
                name.Append(text[position++]);
            }
            return name.ToString();
        }
        while (position < text.Length && text[position] is not ('.' or ' ' or '('))
        {
            name.Append(text[position++]);
        }
        return name.ToString();
    }
}
