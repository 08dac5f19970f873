using DbOps.Core.Errors;
using DbOps.Core.Sql;

namespace DbOps.Core.Engines;

/// <summary>
/// A SQLite CREATE TABLE text split into its parts, so the rebuild can write the new table's definition by adding
/// to the original text: column definitions and existing constraints keep their exact spelling.
/// </summary>
internal sealed class SqliteTableDefinition
{
    private readonly string _sql;
    private readonly int _open;   // index of the '(' that opens the column list
    private readonly int _close;  // index of the matching ')'
    private readonly List<(int Start, int End)> _items;  // each column definition or table constraint: [Start, End) of its code

    private SqliteTableDefinition(string sql, int open, int close, List<(int, int)> items)
    {
        _sql = sql;
        _open = open;
        _close = close;
        _items = items;
    }

    /// <summary>Table options after the column list, e.g. " WITHOUT ROWID" or " STRICT".</summary>
    public string Options => _sql[(_close + 1)..];

    /// <summary>True for a WITHOUT ROWID table (it has no rowid to preserve).</summary>
    public bool WithoutRowid
    {
        get
        {
            var words = SqlText.Tokens(Options).Where(t => t.Kind == SqlText.TokenKind.Word)
                .Select(t => Options.Substring(t.Start, t.Length).ToUpperInvariant()).ToList();
            return words.Zip(words.Skip(1)).Any(p => p is ("WITHOUT", "ROWID"));
        }
    }

    /// <summary>The text of each column definition and table constraint, as written.</summary>
    public IEnumerable<string> Items => _items.Select(i => _sql[i.Start..i.End]);

    public static SqliteTableDefinition Parse(string sql)
    {
        int? open = null;
        var depth = 0;
        var items = new List<(int, int)>();
        int? itemStart = null;
        var itemEnd = 0;
        foreach (var token in SqlText.Tokens(sql))
        {
            var text = sql.AsSpan(token.Start, token.Length);
            if (token.Kind == SqlText.TokenKind.Symbol && text is "(")
            {
                if (depth++ == 0 && open is null)
                {
                    open = token.Start;
                    continue;
                }
            }
            else if (token.Kind == SqlText.TokenKind.Symbol && text is ")")
            {
                if (--depth == 0 && open is not null)
                {
                    if (itemStart is { } s)
                    {
                        items.Add((s, itemEnd));
                    }
                    return new SqliteTableDefinition(sql, open.Value, token.Start, items);
                }
            }
            else if (depth == 1 && token.Kind == SqlText.TokenKind.Symbol && text is ",")
            {
                if (itemStart is { } s)
                {
                    items.Add((s, itemEnd));
                }
                itemStart = null;
                continue;
            }
            if (depth >= 1 && open is not null && token.Kind is not (SqlText.TokenKind.Space or SqlText.TokenKind.Comment))
            {
                itemStart ??= token.Start;
                itemEnd = token.Start + token.Length;
            }
        }
        throw new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.InvalidData,
            "The table's CREATE TABLE text in sqlite_schema could not be read (no closed column list); the table was not changed.");
    }

    /// <summary>The column a column definition defines, or null for a table constraint.</summary>
    public static string? ColumnName(string item)
    {
        var first = SqlText.Tokens(item).First(t => t.Kind is not (SqlText.TokenKind.Space or SqlText.TokenKind.Comment));
        var text = item.Substring(first.Start, first.Length);
        if (first.Kind == SqlText.TokenKind.QuotedIdentifier)
        {
            return SqlText.Unquote(text);
        }
        return text.ToUpperInvariant() is "CONSTRAINT" or "PRIMARY" or "UNIQUE" or "CHECK" or "FOREIGN" ? null : text;
    }

    /// <summary>
    /// CHECK constraints written in the table (column or table level): the name given with CONSTRAINT, if any, and
    /// the expression inside CHECK ( ... ).
    /// </summary>
    public IReadOnlyList<(string? Name, string Expression)> Checks()
    {
        var body = _sql[(_open + 1).._close];
        var tokens = SqlText.Tokens(body).Where(t => t.Kind is not (SqlText.TokenKind.Space or SqlText.TokenKind.Comment)).ToList();
        var checks = new List<(string?, string)>();
        for (var i = 0; i + 1 < tokens.Count; i++)
        {
            if (!Is(body, tokens[i], "CHECK") || body.Substring(tokens[i + 1].Start, tokens[i + 1].Length) != "(")
            {
                continue;
            }
            string? name = i >= 2 && Is(body, tokens[i - 2], "CONSTRAINT") ? SqlText.Unquote(body.Substring(tokens[i - 1].Start, tokens[i - 1].Length)) : null;
            var depth = 0;
            for (var j = i + 1; j < tokens.Count; j++)
            {
                var text = body.Substring(tokens[j].Start, tokens[j].Length);
                depth += text == "(" ? 1 : text == ")" ? -1 : 0;
                if (depth == 0)
                {
                    checks.Add((name, body[(tokens[i + 1].Start + 1)..tokens[j].Start].Trim()));
                    break;
                }
            }
        }
        return checks;
    }

    /// <summary>Names given with CONSTRAINT anywhere in the table.</summary>
    public IReadOnlyList<string> ConstraintNames()
    {
        var body = _sql[(_open + 1).._close];
        var tokens = SqlText.Tokens(body).Where(t => t.Kind is not (SqlText.TokenKind.Space or SqlText.TokenKind.Comment)).ToList();
        return tokens.Zip(tokens.Skip(1))
            .Where(p => Is(body, p.First, "CONSTRAINT"))
            .Select(p => SqlText.Unquote(body.Substring(p.Second.Start, p.Second.Length)))
            .ToList();
    }

    /// <summary>
    /// The CREATE TABLE text for <paramref name="quotedName"/> with a table constraint added after the last item,
    /// and optionally NOT NULL appended to one column's definition. Everything else is copied as written.
    /// </summary>
    public string Render(string quotedName, string? tableConstraint, string? notNullColumn)
    {
        var body = _sql[(_open + 1).._close];
        if (notNullColumn is not null)
        {
            var (start, end) = _items.FirstOrDefault(i => string.Equals(ColumnName(_sql[i.Start..i.End]), notNullColumn, StringComparison.OrdinalIgnoreCase));
            if (end == 0)
            {
                throw new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.InvalidData,
                    $"The definition of column '{notNullColumn}' was not found in the table's CREATE TABLE text; the table was not changed.");
            }
            // Appended right after the column's last token, so a trailing comment cannot swallow it.
            body = body.Insert(end - _open - 1, " NOT NULL");
        }
        if (tableConstraint is not null)
        {
            var last = _items.Count == 0 ? 0 : _items[^1].End - _open - 1 + (notNullColumn is null ? 0 : NotNullShift(notNullColumn));
            body = body.Insert(last, ",\n    " + tableConstraint);
        }
        return $"CREATE TABLE {quotedName} ({body}){Options}";
    }

    private int NotNullShift(string column)
    {
        var index = _items.FindIndex(i => string.Equals(ColumnName(_sql[i.Start..i.End]), column, StringComparison.OrdinalIgnoreCase));
        return index >= 0 ? " NOT NULL".Length : 0;
    }

    private static bool Is(string text, SqlText.Token token, string keyword) =>
        token.Kind == SqlText.TokenKind.Word && string.Equals(text.Substring(token.Start, token.Length), keyword, StringComparison.OrdinalIgnoreCase);
}
