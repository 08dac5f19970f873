using System.Text;

namespace DbOps.Core.Sql;

/// <summary>
/// A small lexer for SQL text shared by both dialects: it tells string literals, quoted identifiers and comments
/// apart from code, which is all that is needed to check a user's expression (<see cref="SqlExpression"/>) and to edit a CREATE TABLE text.
/// </summary>
internal static class SqlText
{
    /// <summary>One piece of SQL text: code, a literal, a quoted identifier or a comment.</summary>
    internal readonly record struct Token(int Start, int Length, TokenKind Kind);

    internal enum TokenKind { Word, Symbol, String, QuotedIdentifier, Comment, Space }

    /// <summary>The tokens of <paramref name="sql"/>; [name] and `name` are quoted names only where <paramref name="bracketQuotes"/> (SQLite).</summary>
    public static IEnumerable<Token> Tokens(string sql, bool bracketQuotes = true)
    {
        var i = 0;
        while (i < sql.Length)
        {
            var start = i;
            var c = sql[i];
            TokenKind kind;
            if (char.IsWhiteSpace(c))
            {
                while (i < sql.Length && char.IsWhiteSpace(sql[i])) { i++; }
                kind = TokenKind.Space;
            }
            else if (c == '-' && At(sql, i + 1, '-'))
            {
                while (i < sql.Length && sql[i] != '\n') { i++; }
                kind = TokenKind.Comment;
            }
            else if (c == '/' && At(sql, i + 1, '*'))
            {
                var end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? sql.Length : end + 2;
                kind = TokenKind.Comment;
            }
            else if (c is '\'' or '"' || (c == '`' && bracketQuotes))
            {
                i = Closing(sql, i, c);
                kind = c == '\'' ? TokenKind.String : TokenKind.QuotedIdentifier;
            }
            else if (c == '[' && bracketQuotes)
            {
                var end = sql.IndexOf(']', i + 1);
                i = end < 0 ? sql.Length : end + 1;
                kind = TokenKind.QuotedIdentifier;
            }
            else if (char.IsLetterOrDigit(c) || c is '_' or '$')
            {
                while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] is '_' or '$')) { i++; }
                kind = TokenKind.Word;
            }
            else
            {
                i++;
                kind = TokenKind.Symbol;
            }
            yield return new Token(start, i - start, kind);
        }
    }

    /// <summary>
    /// A form of an expression for comparing two spellings of the same constraint: case folded outside quotes,
    /// without whitespace, identifier quotes, a leading CHECK keyword or parentheses around the whole. Parentheses
    /// inside are kept, so different groupings stay different. (PostgreSQL compares the server's own rendering.)
    /// </summary>
    public static string Loose(string expression)
    {
        var text = new StringBuilder();
        foreach (var token in Tokens(expression))
        {
            var part = expression.Substring(token.Start, token.Length);
            switch (token.Kind)
            {
                case TokenKind.Space or TokenKind.Comment:
                    break;
                case TokenKind.QuotedIdentifier:
                    text.Append(Unquote(part).ToLowerInvariant());
                    break;
                case TokenKind.String:
                    text.Append(part);
                    break;
                default:
                    text.Append(part.ToLowerInvariant());
                    break;
            }
        }
        var loose = text.ToString();
        loose = loose.StartsWith("check(", StringComparison.Ordinal) ? loose[5..] : loose;
        while (loose.Length >= 2 && loose[0] == '(' && ClosingParenthesis(loose) == loose.Length - 1)
        {
            loose = loose[1..^1];
        }
        return loose;
    }

    /// <summary>The index of the ')' matching the '(' at 0 of a compacted expression (quotes are rare enough to ignore).</summary>
    private static int ClosingParenthesis(string text)
    {
        var depth = 0;
        for (var i = 0; i < text.Length; i++)
        {
            depth += text[i] == '(' ? 1 : text[i] == ')' ? -1 : 0;
            if (depth == 0)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>The name inside a quoted identifier ("a""b", `a`, [a]); a bare word as it is.</summary>
    public static string Unquote(string identifier)
    {
        if (identifier.Length >= 2)
        {
            var (open, close) = (identifier[0], identifier[^1]);
            if ((open, close) is ('"', '"') or ('`', '`') or ('\'', '\''))
            {
                return identifier[1..^1].Replace(new string(open, 2), open.ToString(), StringComparison.Ordinal);
            }
            if ((open, close) is ('[', ']'))
            {
                return identifier[1..^1];
            }
        }
        return identifier;
    }

    /// <summary>True when a quoted token ends with its closing quote.</summary>
    public static bool IsClosed(string sql, Token token) =>
        token.Length >= 2 && sql[token.Start + token.Length - 1] == (sql[token.Start] == '[' ? ']' : sql[token.Start]);

    private static bool At(string sql, int index, char c) => index < sql.Length && sql[index] == c;

    /// <summary>The index after the quote that closes the one at <paramref name="open"/>; a doubled quote is an escape.</summary>
    private static int Closing(string sql, int open, char quote)
    {
        var i = open + 1;
        while (i < sql.Length)
        {
            if (sql[i] == quote)
            {
                if (At(sql, i + 1, quote))
                {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i++;
        }
        return sql.Length;
    }
}
