namespace DbOps.Core.Engines;

/// <summary>
/// Reads SQL text as PostgreSQL's lexer does, far enough to count statements: standard and escape strings
/// (<c>E'\''</c>), quoted names, dollar quoting (<c>$tag$...$tag$</c>) and nested comments. Npgsql would send the
/// statements after a ';' to the server, which runs them all before DbOps could look at the results: a measurement
/// must refuse such text before anything is sent.
/// </summary>
internal static class PostgresStatementText
{
    /// <summary>True when the text holds one statement at most (a trailing ';' and comments are allowed).</summary>
    public static bool IsSingleStatement(string sql)
    {
        var ended = false;
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            var next = i + 1 < sql.Length ? sql[i + 1] : '\0';
            if (c == '-' && next == '-')
            {
                i = sql.IndexOf('\n', i) is var newline and >= 0 ? newline + 1 : sql.Length;
            }
            else if (c == '/' && next == '*')
            {
                i = SkipComment(sql, i);
            }
            else if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == ';')
            {
                ended = true;
                i++;
            }
            else if (ended)
            {
                return false;
            }
            else if (c == '\'')
            {
                var escapes = i > 0 && sql[i - 1] is 'E' or 'e' && (i < 2 || !IsIdentifierChar(sql[i - 2]));
                i = SkipQuoted(sql, i, '\'', escapes);
            }
            else if (c == '"')
            {
                i = SkipQuoted(sql, i, '"', backslashEscapes: false);
            }
            else if (c == '$' && (i == 0 || !IsIdentifierChar(sql[i - 1])) && DollarTag(sql, i) is { } tag)
            {
                var close = sql.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                i = close < 0 ? sql.Length : close + tag.Length;
            }
            else
            {
                i++;
            }
        }
        return true;
    }

    private static bool IsIdentifierChar(char c) => char.IsLetterOrDigit(c) || c is '_' or '$';

    /// <summary>"$$" or "$tag$" starting at <paramref name="start"/>, or null (a "$1" parameter is not a tag).</summary>
    private static string? DollarTag(string sql, int start)
    {
        var i = start + 1;
        if (i < sql.Length && char.IsDigit(sql[i]))
        {
            return null;
        }
        while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] == '_'))
        {
            i++;
        }
        return i < sql.Length && sql[i] == '$' ? sql[start..(i + 1)] : null;
    }

    private static int SkipQuoted(string sql, int start, char quote, bool backslashEscapes)
    {
        var i = start + 1;
        while (i < sql.Length)
        {
            if (backslashEscapes && sql[i] == '\\')
            {
                i += 2;
            }
            else if (sql[i] == quote)
            {
                if (i + 1 < sql.Length && sql[i + 1] == quote)
                {
                    i += 2;
                }
                else
                {
                    return i + 1;
                }
            }
            else
            {
                i++;
            }
        }
        return sql.Length;
    }

    /// <summary>PostgreSQL block comments nest.</summary>
    private static int SkipComment(string sql, int start)
    {
        var depth = 0;
        var i = start;
        while (i < sql.Length)
        {
            if (sql[i] == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                depth++;
                i += 2;
            }
            else if (sql[i] == '*' && i + 1 < sql.Length && sql[i + 1] == '/')
            {
                i += 2;
                if (--depth == 0)
                {
                    return i;
                }
            }
            else
            {
                i++;
            }
        }
        return sql.Length;
    }
}
