using System.Text;
using System.Text.RegularExpressions;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Documentation;

/// <summary>
/// Writes the schema as a Mermaid <c>erDiagram</c>. Everything the catalog may hold (spaces, quotes, dots,
/// reserved words, any Unicode) is reduced to what Mermaid's ER lexer accepts
/// (mermaid-js/mermaid packages/mermaid/src/diagrams/er/parser/erDiagram.jison):
/// <list type="bullet">
/// <item>entity ids are <c>[A-Za-z_][A-Za-z0-9_]*</c> (plus letters from U+00C0 up), never starting with one of
/// the lexer's keywords (<c>one</c>, <c>to</c>, <c>class</c>, <c>end</c>...), which the lexer tries before names; the
/// real name is shown through an alias <c>id["name"]</c>;</item>
/// <item>attribute types and names fit the block's <c>ATTRIBUTE_WORD</c> rule and are never the key words PK, FK, UK;</item>
/// <item>quoted text never holds <c>"</c>, <c>%</c> (a <c>%%{</c> would start a directive), <c>\</c>, <c>~</c>, back
/// quotes or line breaks, nor <c>direction</c> followed by TB/BT/RL/LR, which the lexer matches anywhere on a line.</item>
/// </list>
/// Declared foreign keys are identifying lines (<c>--</c>, solid); inferred relationships are non-identifying
/// (<c>..</c>, dashed) and labelled "inferred".
/// </summary>
internal static partial class MermaidDiagram
{
    /// <summary>Words the ER lexer matches before it tries a name, compared case-insensitively as prefixes.</summary>
    private static readonly string[] Keywords =
        ["erdiagram", "style", "classdef", "class", "subgraph", "end", "one", "only", "optionally", "zero", "many", "to",
         "acctitle", "accdescr", "direction"];

    [GeneratedRegex(@"(direction)\s+(?=(tb|bt|rl|lr))", RegexOptions.IgnoreCase)]
    private static partial Regex DirectionStatement();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    /// <summary>
    /// Mermaid refuses to render a diagram longer than this (its <c>maxTextSize</c> setting, 50,000 by default,
    /// which code hosts keep), so the Markdown embeds a version without columns when the full one is longer.
    /// </summary>
    public const int MaxTextSize = 50_000;

    /// <param name="model">What to draw.</param>
    /// <param name="withColumns">False for entities and relationships only.</param>
    public static string Write(DocumentationModel model, bool withColumns = true)
    {
        var ids = EntityIds(model.Tables.Select(t => t.Table), DatabaseEngines.For(model.Source).DefaultSchema);
        var text = new StringBuilder("erDiagram\n");
        foreach (var table in model.Tables)
        {
            var alias = table.Table.ToString() + (table.Archive is null ? "" : " (archived)");
            // The alias shows the real name; a plain name that is its own id needs none (and older Mermaid versions lack aliases).
            text.Append("    ").Append(ids[table.Table]);
            if (Text(alias) != ids[table.Table])
            {
                text.Append("[\"").Append(Text(alias)).Append("\"]");
            }
            if (!withColumns)
            {
                text.Append('\n');
                continue;
            }
            text.Append(" {\n");
            foreach (var column in table.Schema.Columns)
            {
                text.Append("        ").Append(TypeWord(column.DataType)).Append(' ').Append(AttributeName(column.Name));
                var keys = DocumentationText.KeyMarkers(table.Schema, column);
                if (keys.Count > 0)
                {
                    text.Append(' ').Append(string.Join(",", keys));
                }
                var comment = AttributeName(column.Name) == column.Name ? column.Comment : $"{column.Name}{(column.Comment is null ? "" : ": " + column.Comment)}";
                if (!string.IsNullOrWhiteSpace(comment))
                {
                    text.Append(" \"").Append(Text(comment, 80)).Append('"');
                }
                text.Append('\n');
            }
            text.Append("    }\n");
        }
        foreach (var relationship in model.Relationships)
        {
            var line = relationship.Source == RelationshipSource.Inferred ? ".." : "--";
            var parentSide = model.ChildRequired(relationship) ? "||" : "|o";
            var childSide = model.ChildUnique(relationship) ? "o|" : "o{";
            var label = string.Join(", ", relationship.ChildColumns) + (relationship.Source == RelationshipSource.Inferred ? " (inferred)" : "");
            text.Append("    ").Append(ids[relationship.Parent]).Append(' ').Append(parentSide).Append(line).Append(childSide)
                .Append(' ').Append(ids[relationship.Child]).Append(" : \"").Append(Text(label, 80)).Append("\"\n");
        }
        return text.ToString();
    }

    /// <summary>One unique, lexer-safe id per table; a table in <paramref name="defaultSchema"/> goes by its name alone.</summary>
    internal static IReadOnlyDictionary<TableRef, string> EntityIds(IEnumerable<TableRef> tables, string defaultSchema)
    {
        var ids = new Dictionary<TableRef, string>();
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var table in tables)
        {
            var name = table.Schema == defaultSchema ? table.Name : $"{table.Schema}_{table.Name}";
            var id = Keep(name, "");
            if (id.Length == 0 || char.IsAsciiDigit(id[0]) || Keywords.Any(k => id.StartsWith(k, StringComparison.OrdinalIgnoreCase)))
            {
                id = "t_" + id;
            }
            var unique = id;
            for (var n = 2; !used.Add(unique); n++)
            {
                unique = $"{id}_{n}";
            }
            ids[table] = unique;
        }
        return ids;
    }

    /// <summary>A column name as an ATTRIBUTE_WORD that is not a key word.</summary>
    internal static string AttributeName(string name)
    {
        var word = Keep(name, "");
        if (word.Length == 0 || char.IsAsciiDigit(word[0]))
        {
            word = "_" + word;
        }
        return word.ToUpperInvariant() is "PK" or "FK" or "UK" ? word + "_" : word;
    }

    /// <summary>A declared type as one ATTRIBUTE_WORD: <c>character varying(20)</c> becomes <c>character_varying(20)</c>.</summary>
    internal static string TypeWord(string dataType)
    {
        var word = Keep(dataType.Trim(), "-[]().,*");
        if (word.Length == 0)
        {
            return "any";
        }
        if (!(char.IsAsciiLetter(word[0]) || word[0] is '_' or '*' || word[0] >= '\u00C0'))
        {
            word = "t" + word;
        }
        return word.ToUpperInvariant() is "PK" or "FK" or "UK" ? word + "_" : word;
    }

    /// <summary>
    /// Keeps ASCII letters, digits, _ and <paramref name="extra"/>, and letters and digits from U+00C0 up (the
    /// lexer's names take any character from there, but its block skips JavaScript's \s, which includes Unicode
    /// spaces); anything else becomes _.
    /// </summary>
    private static string Keep(string value, string extra)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || extra.Contains(c) || (c >= '\u00C0' && char.IsLetterOrDigit(c)) ? c : '_');
        }
        return builder.ToString();
    }

    /// <summary>Text safe inside Mermaid's double quotes, on one line, never empty.</summary>
    internal static string Text(string value, int maxLength = 200)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            builder.Append(c switch
            {
                '"' or '`' => '\'',
                '%' => '\uFF05',
                '\\' => '/',
                '~' => '-',
                _ when char.IsControl(c) => ' ',
                _ => c,
            });
        }
        var text = DirectionStatement().Replace(Whitespace().Replace(builder.ToString(), " ").Trim(), "$1_");
        if (text.Length > maxLength)
        {
            text = text[..(maxLength - 1)].TrimEnd() + "\u2026";
        }
        return text.Length == 0 ? "_" : text;
    }
}
