using System.Text.RegularExpressions;

namespace DbOps.Core.Tests;

/// <summary>
/// A strict, offline parser for the part of Mermaid's <c>erDiagram</c> language that DbOps writes, transcribed from
/// Mermaid's own grammar: mermaid-js/mermaid, packages/mermaid/src/diagrams/er/parser/erDiagram.jison
/// (read at commit 037acfce2b8c8438eca1d8d43b630b7743dad5a7).
/// <para>The lexer keeps that file's rules in their order with jison's semantics: case-insensitive, the first
/// rule that matches wins, states INITIAL and the exclusive <c>block</c> and <c>block_bq</c>. It is stricter than
/// jison in one respect: literal keywords (<c>one</c>, <c>to</c>, <c>class</c>...) match as prefixes, without the
/// <c>\b</c> some jison versions append, so a name Mermaid might accept can be rejected here, never the reverse.
/// JavaScript's <c>\s</c>, <c>\w</c> and <c>.</c> are spelled out, because .NET's differ.</para>
/// <para>The parser accepts the grammar's productions for entities (with or without an alias <c>id["name"]</c>,
/// with or without an attribute block) and relationships; anything else in the language (styles, classes,
/// subgraphs, directions, accessibility statements) is rejected as outside the subset DbOps emits.</para>
/// </summary>
internal static class MermaidErValidator
{
    public sealed record Attribute(string Type, string Name, IReadOnlyList<string> Keys, string? Comment);

    public sealed record Entity(string Id, string? Alias, IReadOnlyList<Attribute> Attributes);

    public sealed record Relationship(string Left, string LeftCardinality, bool Identifying, string RightCardinality, string Right, string Role);

    public sealed record Diagram(IReadOnlyDictionary<string, Entity> Entities, IReadOnlyList<Relationship> Relationships);

    private sealed record Token(string Kind, string Text, int Line);

    private const string JsSpace = @"[\t\n\v\f\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]";
    private const string JsNotSpace = @"[^\t\n\v\f\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]";
    private const string JsDot = @"[^\n\r\u2028\u2029]";
    private const string JsWord = "[A-Za-z0-9_]";

    private static Regex R(string pattern) =>
        new("^(?:" + pattern.Replace("{S}", JsSpace).Replace("{NS}", JsNotSpace).Replace("{DOT}", JsDot).Replace("{W}", JsWord) + ")",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>INITIAL-state rules of erDiagram.jison in order (the acc_* and style states are entered only to be rejected).</summary>
    private static readonly (Regex Pattern, string? Kind)[] Initial =
    [
        (R(@"accTitle{S}*:{S}*"), "acc_title"),
        (R(@"accDescr{S}*:{S}*"), "acc_descr"),
        (R(@"accDescr{S}*\{{S}*"), "acc_descr_multiline"),
        (R(@"{DOT}*direction{S}+TB[^\n]*"), "direction_tb"),
        (R(@"{DOT}*direction{S}+BT[^\n]*"), "direction_bt"),
        (R(@"{DOT}*direction{S}+RL[^\n]*"), "direction_rl"),
        (R(@"{DOT}*direction{S}+LR[^\n]*"), "direction_lr"),
        (R(@"[ \t\r]+"), null),
        (R(@"[\n]+"), "NEWLINE"),
        (R("\"[^\"%\\r\\n\\v\\x08\\\\]+\""), "ENTITY_NAME"),
        (R("\"[^\"]*\""), "WORD"),
        (R("erDiagram"), "ER_DIAGRAM"),
        (R(@"\{"), "BLOCK_START"),
        (R("#"), "BRKT"),
        (R(","), "COMMA"),
        (R(":::"), "STYLE_SEPARATOR"),
        (R(":"), "COLON"),
        (R(@"\["), "SQS"),
        (R(@"\]"), "SQE"),
        (R("style"), "STYLE"),
        (R("classDef"), "CLASSDEF"),
        (R("class"), "CLASS"),
        (R("subgraph"), "SUBGRAPH"),
        (R(@"end\b{S}*"), "END"),
        (R("one or zero"), "ZERO_OR_ONE"),
        (R("one or more"), "ONE_OR_MORE"),
        (R("one or many"), "ONE_OR_MORE"),
        (R(@"1\+"), "ONE_OR_MORE"),
        (R(@"\|o"), "ZERO_OR_ONE"),
        (R("zero or one"), "ZERO_OR_ONE"),
        (R("zero or more"), "ZERO_OR_MORE"),
        (R("zero or many"), "ZERO_OR_MORE"),
        (R(@"0\+"), "ZERO_OR_MORE"),
        (R(@"\}o"), "ZERO_OR_MORE"),
        (R(@"many\(0\)"), "ZERO_OR_MORE"),
        (R(@"many\(1\)"), "ONE_OR_MORE"),
        (R("many"), "ZERO_OR_MORE"),
        (R(@"\}\|"), "ONE_OR_MORE"),
        (R("one"), "ONLY_ONE"),
        (R("only one"), "ONLY_ONE"),
        (R(@"[0-9]+\.[0-9]+"), "DECIMAL_NUM"),
        (R("1(?={S}+[A-Za-z_\"'])"), "ONLY_ONE"),
        (R("1(?={S}+[0-9])"), "ONLY_ONE"),
        (R(@"1(?=(\-\-|\.\.|\.\-|\-\.))"), "ONLY_ONE"),
        (R("1"), "ENTITY_ONE"),
        (R("[0-9]+"), "NUM"),
        (R(@"\|\|"), "ONLY_ONE"),
        (R(@"o\|"), "ZERO_OR_ONE"),
        (R(@"o\{"), "ZERO_OR_MORE"),
        (R(@"\|\{"), "ONE_OR_MORE"),
        (R(@"u(?=[\.\-\|])"), "MD_PARENT"),
        (R(@"\.\."), "NON_IDENTIFYING"),
        (R(@"\-\-"), "IDENTIFYING"),
        (R("to"), "IDENTIFYING"),
        (R("optionally to"), "NON_IDENTIFYING"),
        (R(@"\.\-"), "NON_IDENTIFYING"),
        (R(@"\-\."), "NON_IDENTIFYING"),
        (R(@"([^\x00-\x7F]|{W}|\-|\*|\.)+"), "UNICODE_TEXT"),
        (R("{DOT}"), "CHAR"),
    ];

    /// <summary>block-state rules in order.</summary>
    private static readonly (Regex Pattern, string? Kind)[] Block =
    [
        (R("{S}+"), null),
        (R(@"\b((?:PK)|(?:FK)|(?:UK))\b"), "ATTRIBUTE_KEY"),
        (R(@"({NS}*)[~]{DOT}*[~]({NS}*)"), "ATTRIBUTE_WORD"),
        // The grammar writes \_ inside the class; JavaScript reads it as _, .NET refuses the escape.
        (R(@"([\*A-Za-z_\u00C0-\uFFFF][A-Za-z0-9\-_\[\]\(\)\.,\u00C0-\uFFFF\*]*)"), "ATTRIBUTE_WORD"),
        (R("[`]"), "BQ_START"),
        (R("\"[^\"]*\""), "COMMENT"),
        (R(@"[\n]+"), null),
        (R(@"\}"), "BLOCK_STOP"),
        (R("{DOT}"), "CHAR"),
    ];

    private static readonly HashSet<string> Cardinalities = ["ZERO_OR_ONE", "ZERO_OR_MORE", "ONE_OR_MORE", "ONLY_ONE", "MD_PARENT"];
    private static readonly HashSet<string> EntityNames = ["ENTITY_NAME", "UNICODE_TEXT", "NUM", "DECIMAL_NUM", "ENTITY_ONE"];

    /// <summary>Parses <paramref name="text"/>, or throws <see cref="FormatException"/> naming the line and token.</summary>
    public static Diagram Parse(string text)
    {
        var tokens = Lex(text.Replace("\r\n", "\n"));
        return new Parser(tokens).Start();
    }

    private static List<Token> Lex(string input)
    {
        var tokens = new List<Token>();
        var state = "INITIAL";
        var position = 0;
        var line = 1;
        while (position < input.Length)
        {
            var rest = input[position..];
            Match? match = null;
            string? kind = null;
            if (state == "block_bq")
            {
                match = Regex.Match(rest, "^[^`]+");
                kind = match.Success ? "ATTRIBUTE_WORD" : null;
                if (!match.Success)
                {
                    match = Regex.Match(rest, "^`");
                    state = "block";
                    kind = null;
                }
            }
            else
            {
                foreach (var (pattern, k) in state == "block" ? Block : Initial)
                {
                    var m = pattern.Match(rest);
                    if (m.Success && m.Length > 0)
                    {
                        (match, kind) = (m, k);
                        break;
                    }
                }
            }
            if (match is null || !match.Success)
            {
                throw new FormatException($"line {line}: no lexer rule matches '{Preview(rest)}'");
            }
            var value = match.Value;
            switch (kind)
            {
                case "BLOCK_START":
                    state = "block";
                    break;
                case "BLOCK_STOP":
                    state = "INITIAL";
                    break;
                case "BQ_START":
                    state = "block_bq";
                    kind = null;
                    break;
                case "acc_title" or "acc_descr" or "acc_descr_multiline" or "STYLE" or "CLASSDEF":
                    throw new FormatException($"line {line}: '{Preview(value)}' starts a {kind} statement, which DbOps never writes");
                case "CHAR":
                    kind = value;
                    break;
            }
            if (kind is not null)
            {
                tokens.Add(new Token(kind, value, line));
            }
            line += value.Count(c => c == '\n');
            position += value.Length;
        }
        tokens.Add(new Token("EOF", "", line));
        return tokens;
    }

    private static string Preview(string text) => text.Length > 40 ? text[..40] + "..." : text;

    private sealed class Parser(List<Token> tokens)
    {
        private int _next;
        private readonly Dictionary<string, Entity> _entities = new(StringComparer.Ordinal);
        private readonly List<Relationship> _relationships = [];

        private Token Peek(int ahead = 0) => tokens[Math.Min(_next + ahead, tokens.Count - 1)];

        private Token Expect(Func<string, bool> accept, string expected)
        {
            var token = Peek();
            if (!accept(token.Kind))
            {
                throw new FormatException($"line {token.Line}: expected {expected}, found {token.Kind} '{Preview(token.Text)}'");
            }
            _next++;
            return token;
        }

        private Token Expect(string kind) => Expect(k => k == kind, kind);

        public Diagram Start()
        {
            while (Peek().Kind == "NEWLINE")
            {
                _next++; // Mermaid trims the text before parsing; leading blank lines do not matter.
            }
            Expect("ER_DIAGRAM");
            while (Peek().Kind != "EOF")
            {
                if (Peek().Kind == "NEWLINE")
                {
                    _next++;
                    continue;
                }
                Statement();
            }
            return new Diagram(_entities, _relationships);
        }

        private static string EntityNameValue(Token t) => t.Kind == "ENTITY_NAME" ? t.Text.Replace("\"", "") : t.Text;

        private void Statement()
        {
            var first = EntityNameValue(Expect(EntityNames.Contains, "an entity name"));
            var next = Peek().Kind;
            if (Cardinalities.Contains(next))
            {
                var rightCardinalityOfLeft = Expect(Cardinalities.Contains, "a cardinality").Text;
                var identifying = Expect(k => k is "IDENTIFYING" or "NON_IDENTIFYING", "-- or ..").Kind == "IDENTIFYING";
                var leftCardinalityOfRight = Expect(Cardinalities.Contains, "a cardinality").Text;
                var second = EntityNameValue(Expect(EntityNames.Contains, "an entity name"));
                Expect("COLON");
                var role = Expect(k => k is "WORD" or "ENTITY_NAME" or "UNICODE_TEXT", "a role");
                Add(first, null, null);
                Add(second, null, null);
                _relationships.Add(new Relationship(first, rightCardinalityOfLeft, identifying, leftCardinalityOfRight, second,
                    role.Kind == "UNICODE_TEXT" ? role.Text : role.Text.Replace("\"", "")));
                return;
            }
            string? alias = null;
            if (next == "SQS")
            {
                _next++;
                alias = EntityNameValue(Expect(EntityNames.Contains, "an alias"));
                Expect("SQE");
            }
            List<Attribute>? attributes = null;
            if (Peek().Kind == "BLOCK_START")
            {
                _next++;
                attributes = [];
                while (Peek().Kind != "BLOCK_STOP")
                {
                    attributes.Add(AttributeLine());
                }
                _next++;
            }
            else if (Peek().Kind is not ("NEWLINE" or "EOF") && !EntityNames.Contains(Peek().Kind))
            {
                throw new FormatException($"line {Peek().Line}: {Peek().Kind} '{Preview(Peek().Text)}' after entity '{first}' is outside the subset DbOps writes");
            }
            Add(first, alias, attributes);
        }

        private Attribute AttributeLine()
        {
            var type = Expect("ATTRIBUTE_WORD").Text;
            if (Peek().Kind == "?")
            {
                type += "?";
                _next++;
            }
            var name = Expect("ATTRIBUTE_WORD").Text;
            var keys = new List<string>();
            if (Peek().Kind == "ATTRIBUTE_KEY")
            {
                keys.Add(Expect("ATTRIBUTE_KEY").Text);
                while (Peek().Kind == ",")
                {
                    _next++;
                    keys.Add(Expect("ATTRIBUTE_KEY").Text);
                }
            }
            string? comment = null;
            if (Peek().Kind == "COMMENT")
            {
                comment = Expect("COMMENT").Text.Replace("\"", "");
            }
            return new Attribute(type, name, keys, comment);
        }

        private void Add(string id, string? alias, List<Attribute>? attributes)
        {
            if (_entities.TryGetValue(id, out var known))
            {
                if (attributes is not null && known.Attributes.Count > 0)
                {
                    throw new FormatException($"entity '{id}' is given attributes twice (two tables share one id)");
                }
                _entities[id] = known with { Alias = alias ?? known.Alias, Attributes = attributes ?? known.Attributes };
            }
            else
            {
                _entities[id] = new Entity(id, alias, attributes ?? []);
            }
        }
    }
}
