using System.Globalization;
using System.Text;
using DbOps.Core.Schema;

namespace DbOps.Core.Documentation;

/// <summary>Formatting shared by the Markdown, Mermaid and DOT writers.</summary>
internal static class DocumentationText
{
    /// <summary>PK, FK and UK markers for a column, in that order.</summary>
    public static IReadOnlyList<string> KeyMarkers(TableSchema table, ColumnInfo column)
    {
        var markers = new List<string>(3);
        if (table.PrimaryKey?.Columns.Contains(column.Name) == true)
        {
            markers.Add("PK");
        }
        if (table.ForeignKeys.Any(f => f.Columns.Contains(column.Name)))
        {
            markers.Add("FK");
        }
        if (table.UniqueKeys.Any(k => k.Columns.Contains(column.Name)))
        {
            markers.Add("UK");
        }
        return markers;
    }

    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>Plain text in Markdown (a paragraph or a table cell): punctuation escaped, line breaks as &lt;br&gt;.</summary>
    public static string Md(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }
        var builder = new StringBuilder(value.Length + 8);
        foreach (var c in value.Replace("\r\n", "\n"))
        {
            if (c == '\n')
            {
                builder.Append("<br>");
            }
            else if (char.IsControl(c))
            {
                builder.Append(' ');
            }
            else
            {
                if (c is '\\' or '`' or '*' or '_' or '[' or ']' or '<' or '>' or '|' or '#' or '!' or '~' or '&')
                {
                    builder.Append('\\');
                }
                builder.Append(c);
            }
        }
        return builder.ToString();
    }

    /// <summary>A code span in a table cell: pipes escaped, which GitHub requires even inside code spans there.</summary>
    public static string Code(string? value) => CodeSpan(value, inTable: true);

    /// <summary>A code span in running text or a list, where a pipe needs no escape.</summary>
    public static string Inline(string? value) => CodeSpan(value, inTable: false);

    /// <summary>A code span that survives back quotes in the text.</summary>
    private static string CodeSpan(string? value, bool inTable)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }
        var text = new string(value.Select(c => char.IsControl(c) ? ' ' : c).ToArray());
        text = inTable ? text.Replace("|", "\\|") : text;
        var fence = new string('`', LongestRun(text, '`') + 1);
        var pad = text.StartsWith('`') || text.EndsWith('`') || text.StartsWith(' ') ? " " : "";
        return fence + pad + text + pad + fence;
    }

    /// <summary>A fenced block for <paramref name="text"/>, with a fence longer than any run of back quotes in it.</summary>
    public static string Fence(string language, string text)
    {
        var fence = new string('`', Math.Max(3, LongestRun(text, '`') + 1));
        return $"{fence}{language}\n{text.TrimEnd('\n')}\n{fence}\n";
    }

    /// <summary>A value for a single-quoted PowerShell string.</summary>
    public static string PowerShellQuote(string value) => Journal.UndoCommand.Quote(value);

    private static int LongestRun(string text, char c)
    {
        int longest = 0, run = 0;
        foreach (var ch in text)
        {
            run = ch == c ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }
        return longest;
    }
}
