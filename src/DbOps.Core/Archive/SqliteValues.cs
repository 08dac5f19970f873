using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace DbOps.Core.Archive;

/// <summary>
/// The canonical and CSV text of SQLite values, keeping their storage classes. It stays with the archive formats:
/// CsvRowParser and ArchiveJsonLines read and write these forms from files, with no database open.
/// </summary>
internal static class SqliteValues
{
    /// <summary>Adds a value read from SQLite (long, double, string, byte[] or DBNull) to a canonical row.</summary>
    public static void Add(CanonicalRow row, object value)
    {
        switch (value)
        {
            case DBNull or null:
                row.AddNull();
                break;
            case long integer:
                row.Add(ValueTag.Integer, Encoding.ASCII.GetBytes(integer.ToString(CultureInfo.InvariantCulture)));
                break;
            case double real:
                row.Add(ValueTag.Real, Encoding.ASCII.GetBytes(FormatReal(real)));
                break;
            case string text:
                row.Add(ValueTag.Text, Encoding.UTF8.GetBytes(text));
                break;
            case byte[] blob:
                row.Add(ValueTag.Blob, blob);
                break;
            default:
                throw new InvalidDataException($"Unexpected SQLite value of type {value.GetType().Name}.");
        }
    }

    /// <summary>The value to bind for a canonical field when inserting it back.</summary>
    public static object ToParameter(CanonicalRow.Field field) => field.Tag switch
    {
        ValueTag.Null => DBNull.Value,
        ValueTag.Integer => long.Parse(Encoding.ASCII.GetString(field.Value), CultureInfo.InvariantCulture),
        ValueTag.Real => double.Parse(Encoding.ASCII.GetString(field.Value), NumberStyles.Float, CultureInfo.InvariantCulture),
        ValueTag.Blob => field.Value.ToArray(),
        _ => Encoding.UTF8.GetString(field.Value),
    };

    /// <summary>.NET's shortest text that reads back as the same double ("1", "1.5", "1E+20", "Infinity").</summary>
    public static string FormatReal(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A REAL as an unquoted CSV token: always distinguishable from an INTEGER.</summary>
    public static string CsvReal(double value)
    {
        var text = FormatReal(value);
        return text.AsSpan().TrimStart('-').ContainsAnyExcept("0123456789") ? text : text + ".0";
    }

    /// <summary>Reads an unquoted DbOps SQLite CSV token; null when it is none of INTEGER, REAL or X'hex'.</summary>
    public static (ValueTag Tag, byte[] Value)? ParseUnquoted(ReadOnlySpan<byte> token)
    {
        if (token.Length >= 3 && (token[0] | 0x20) == 'x' && token[1] == '\'' && token[^1] == '\'')
        {
            try
            {
                return (ValueTag.Blob, Convert.FromHexString(Encoding.ASCII.GetString(token[2..^1])));
            }
            catch (FormatException)
            {
                return null;
            }
        }
        if (Utf8Parser.TryParse(token, out long integer, out var used) && used == token.Length)
        {
            return (ValueTag.Integer, Encoding.ASCII.GetBytes(integer.ToString(CultureInfo.InvariantCulture)));
        }
        return double.TryParse(Encoding.ASCII.GetString(token), NumberStyles.Float, CultureInfo.InvariantCulture, out var real)
            ? (ValueTag.Real, Encoding.ASCII.GetBytes(FormatReal(real)))
            : null;
    }
}
