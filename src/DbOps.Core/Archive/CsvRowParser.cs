using System.Globalization;
using System.Text;

namespace DbOps.Core.Archive;

/// <summary>How unquoted CSV values map to storage classes.</summary>
internal enum CsvDialect
{
    /// <summary>
    /// PostgreSQL's COPY ... (FORMAT csv): an unquoted empty value is NULL, anything else (quoted or not) is the
    /// column's text output; "" is the empty string.
    /// </summary>
    PostgreSQL,
    /// <summary>
    /// DbOps's SQLite CSV, which keeps storage classes: a quoted value is TEXT; unquoted, empty is NULL, digits are
    /// INTEGER, X'hex' is a BLOB, and any other number (always with a '.' or exponent, or Infinity) is REAL.
    /// </summary>
    SQLite,
}

/// <summary>
/// An RFC 4180 CSV parser fed in chunks of any size (a row may span chunks), calling back once per complete row
/// with the row in canonical form. Its state carries over between chunks, so a table streams through it in
/// constant memory. Damaged input (an unclosed quote, a row with the wrong number of values) is InvalidDataException.
/// </summary>
internal sealed class CsvRowParser(CsvDialect dialect, int columns, Action<CanonicalRow> onRow)
{
    private enum State { FieldStart, Unquoted, Quoted, QuoteSeen }

    private readonly CanonicalRow _row = new();
    private State _state = State.FieldStart;
    private long _line = 1;

    /// <summary>Rows completed so far.</summary>
    public long Rows { get; private set; }

    public void Feed(ReadOnlySpan<byte> chunk)
    {
        var i = 0;
        while (i < chunk.Length)
        {
            if (_state == State.FieldStart && _row.FieldCount == 0 && TryWholeUnquotedRow(chunk[i..]) is var used and > 0)
            {
                i += used;
                continue;
            }
            switch (_state)
            {
                case State.FieldStart:
                    if (chunk[i] == (byte)'"')
                    {
                        _row.Begin(ValueTag.Text);
                        _state = State.Quoted;
                        i++;
                    }
                    else
                    {
                        _row.Begin(ValueTag.Text);
                        _state = State.Unquoted;
                    }
                    break;
                case State.Unquoted:
                {
                    var rest = chunk[i..];
                    var end = rest.IndexOfAny((byte)',', (byte)'\n');
                    if (end < 0)
                    {
                        _row.Append(rest);
                        i = chunk.Length;
                        break;
                    }
                    _row.Append(rest[..end]);
                    i += end + 1;
                    EndUnquoted(atLineEnd: rest[end] == (byte)'\n');
                    _state = State.FieldStart;
                    if (rest[end] == (byte)'\n')
                    {
                        EndRow();
                    }
                    break;
                }
                case State.Quoted:
                {
                    var rest = chunk[i..];
                    var end = rest.IndexOf((byte)'"');
                    if (end < 0)
                    {
                        _row.Append(rest);
                        CountLines(rest);
                        i = chunk.Length;
                        break;
                    }
                    _row.Append(rest[..end]);
                    CountLines(rest[..end]);
                    i += end + 1;
                    _state = State.QuoteSeen;
                    break;
                }
                case State.QuoteSeen:
                    switch (chunk[i++])
                    {
                        case (byte)'"':
                            _row.Append((byte)'"');
                            _state = State.Quoted;
                            break;
                        case (byte)',':
                            _row.End();
                            _state = State.FieldStart;
                            break;
                        case (byte)'\n':
                            _row.End();
                            _state = State.FieldStart;
                            EndRow();
                            break;
                        case (byte)'\r':
                            break; // CRLF line ends are accepted as RFC 4180 writes them
                        default:
                            throw Malformed("a quoted value is followed by something other than a comma or a line end");
                    }
                    break;
            }
        }
    }

    /// <summary>
    /// The common case, taken at the start of a row: a complete line without quotes is split at its commas directly,
    /// without the per-byte state machine. Returns the bytes used, or 0 to leave the row to the state machine.
    /// </summary>
    private int TryWholeUnquotedRow(ReadOnlySpan<byte> rest)
    {
        var end = rest.IndexOf((byte)'\n');
        if (end < 0)
        {
            return 0;
        }
        var line = rest[..end];
        if (line.Contains((byte)'"'))
        {
            return 0;
        }
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }
        while (true)
        {
            var comma = line.IndexOf((byte)',');
            var token = comma < 0 ? line : line[..comma];
            if (token.Length == 0)
            {
                _row.AddNull();
            }
            else if (dialect == CsvDialect.PostgreSQL)
            {
                _row.Add(ValueTag.Text, token);
            }
            else
            {
                var (tag, value) = SqliteValues.ParseUnquoted(token) ?? throw Malformed($"'{Encoding.UTF8.GetString(token)}' is not a SQLite value");
                _row.Add(tag, value);
            }
            if (comma < 0)
            {
                break;
            }
            line = line[(comma + 1)..];
        }
        EndRow();
        return end + 1;
    }

    /// <summary>Ends the input: a last row without a line end is completed; an unclosed quote is damage.</summary>
    public void Finish()
    {
        switch (_state)
        {
            case State.Quoted:
                throw Malformed("the data ends inside a quoted value (the file is truncated)");
            case State.QuoteSeen:
                _row.End();
                EndRow();
                break;
            case State.Unquoted:
                EndUnquoted(atLineEnd: true);
                EndRow();
                break;
            case State.FieldStart when _row.FieldCount > 0:
                _row.Begin(ValueTag.Text);
                EndUnquoted(atLineEnd: true);
                EndRow();
                break;
        }
        _state = State.FieldStart;
    }

    private void CountLines(ReadOnlySpan<byte> text) => _line += text.Count((byte)'\n');

    private void EndRow()
    {
        if (_row.FieldCount != columns)
        {
            throw Malformed($"the row has {_row.FieldCount} values where the table has {columns} columns");
        }
        onRow(_row);
        Rows++;
        _line++;
        _row.Clear();
    }

    /// <summary>Closes an unquoted value: empty is NULL; for SQLite the text decides INTEGER, REAL or BLOB.</summary>
    private void EndUnquoted(bool atLineEnd)
    {
        _row.End();
        var token = _row.LastValue;
        if (atLineEnd && token.Length > 0 && token[^1] == (byte)'\r')
        {
            _row.TrimLast(1);
            token = _row.LastValue;
        }
        if (token.Length == 0)
        {
            _row.ReplaceLastWithNull();
        }
        else if (dialect == CsvDialect.SQLite)
        {
            var (tag, value) = SqliteValues.ParseUnquoted(token) ?? throw Malformed($"'{Encoding.UTF8.GetString(token)}' is not a SQLite value");
            _row.ReplaceLast(tag, value);
        }
    }

    private InvalidDataException Malformed(string what) =>
        new($"CSV line {_line.ToString(CultureInfo.InvariantCulture)}: {what}.");
}
