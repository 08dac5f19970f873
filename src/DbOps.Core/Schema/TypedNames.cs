using System.Text.RegularExpressions;

namespace DbOps.Core.Schema;

/// <summary>
/// Splits and unquotes a table name as a person types it. Double quotes are the SQL standard's, which both engines
/// share; what an engine then does with the parts (case folding, search path) is its <see cref="Engines.ITableNameRules"/>.
/// </summary>
internal static class TypedNames
{
    /// <summary>
    /// The readings of <paramref name="text"/> as typed: schema.name when it has one dot outside quotes, then the whole
    /// text as one name. <paramref name="schemaName"/> maps the typed schema to the catalog's spelling.
    /// </summary>
    public static IEnumerable<(string? Schema, string Name)> AsTyped(string text, Func<string, string> schemaName)
    {
        if (Split(text) is [var schema, var table])
        {
            yield return (schemaName(Unquote(schema)), Unquote(table));
        }
        yield return (null, Unquote(text));
    }

    /// <summary>Splits on dots outside double quotes.</summary>
    public static List<string> Split(string text)
    {
        var parts = new List<string>();
        var start = 0;
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '"')
            {
                quoted = !quoted;
            }
            else if (text[i] == '.' && !quoted)
            {
                parts.Add(text[start..i]);
                start = i + 1;
            }
        }
        parts.Add(text[start..]);
        return parts;
    }

    public static string Unquote(string part) =>
        part.Length >= 2 && part[0] == '"' && part[^1] == '"' ? part[1..^1].Replace("\"\"", "\"") : part;

    /// <summary>True when <paramref name="text"/> (SQL, a function body) holds <paramref name="name"/> as a whole word, in any case.</summary>
    public static bool Mentions(string text, string name) =>
        Regex.IsMatch(text, @"(?<![\p{L}\p{N}_])" + Regex.Escape(name) + @"(?![\p{L}\p{N}_])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
}
