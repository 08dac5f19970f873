using DbOps.Core.Engines;

namespace DbOps.Core.Sql;

/// <summary>
/// The one rule for a SQL expression a user hands DbOps to place inside a statement: a CHECK constraint
/// (Add-SafeConstraint -Check), an index key or predicate (Add-SafeIndex -Columns, -Where) and a condition
/// (Test-DataIntegrity -Condition). The expression must stay one expression wherever it is put: it cannot end the
/// statement, hide text in a comment, leave a quote or parenthesis open, or hold a statement that writes. A function
/// that writes, which no lexer can see, is only ever evaluated on a read-only connection, where the server refuses it.
/// </summary>
internal static class SqlExpression
{
    /// <summary>Statements that write and can hide inside an expression (a data-modifying CTE, SELECT ... FOR UPDATE).</summary>
    private static readonly HashSet<string> WritingKeywords = new(StringComparer.OrdinalIgnoreCase) { "INSERT", "UPDATE", "DELETE", "MERGE" };

    /// <summary>Why <paramref name="expression"/> cannot be used on <paramref name="engine"/>, or null when it can.</summary>
    public static string? Problem(string? expression, IDatabaseEngine engine)
    {
        if (string.IsNullOrWhiteSpace(expression))
        {
            return "it is empty";
        }
        // The lexer knows standard quoting only. Backslash escapes (E'...', or any string where standard_conforming_strings
        // is off) could hide a quote from it while the server still honours them, so where the engine has them '\' is not
        // accepted at all. '$' is accepted only inside a plain string literal, where it cannot open a dollar quote (a JSON
        // path '$.status', a LIKE '$%'), and inside a quoted name; outside those, $$...$$ could hide a ';' or ')'.
        var literalsMayHide = engine.Tuning.HasEscapeQuoting;
        var depth = 0;
        foreach (var token in SqlText.Tokens(expression, engine.Tuning.QuotesNamesWithBrackets))
        {
            var text = expression.AsSpan(token.Start, token.Length);
            var literal = token.Kind == SqlText.TokenKind.String;
            switch (token.Kind)
            {
                case SqlText.TokenKind.Comment:
                    return "it contains a comment";
                case SqlText.TokenKind.String or SqlText.TokenKind.QuotedIdentifier when !SqlText.IsClosed(expression, token):
                    return "a quoted string or name is not closed";
                case SqlText.TokenKind.QuotedIdentifier:
                    // A quoted name ends only at its closing quote: neither '\' nor '$' means anything inside it.
                    break;
                case var _ when (literal ? literalsMayHide && text.Contains('\\') : text.IndexOfAny('\\', '$') >= 0):
                    return "it contains '\\' or '$' (write string literals in plain single quotes, without escape-string or dollar quoting)";
                case SqlText.TokenKind.Word when WritingKeywords.Contains(text.ToString()):
                    return $"it contains {text.ToString().ToUpperInvariant()}: an expression may only read";
                case SqlText.TokenKind.Symbol when text is ";":
                    return "it contains ';'";
                case SqlText.TokenKind.Symbol when text is "(":
                    depth++;
                    break;
                case SqlText.TokenKind.Symbol when text is ")":
                    if (--depth < 0)
                    {
                        return "it closes a parenthesis it did not open";
                    }
                    break;
            }
        }
        return depth == 0 ? null : "its parentheses are not balanced";
    }
}
