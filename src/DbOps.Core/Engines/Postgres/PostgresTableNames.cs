using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// PostgreSQL's name rules: an unqualified name is looked up along the search path, and an unquoted one is folded to
/// lower case first, as psql reads it; names then compare exactly.
/// </summary>
internal sealed class PostgresTableNames : ITableNameRules
{
    public static readonly PostgresTableNames Instance = new();

    /// <summary>
    /// First as psql reads the text (unquoted parts folded to lower case), so CaseTab is casetab whenever casetab
    /// exists; then as typed, then folded per part, and last any case of an unquoted name's letters.
    /// </summary>
    public IEnumerable<(string? Schema, string Name)> Readings(string text)
    {
        var parts = TypedNames.Split(text);
        if (parts.Count <= 2)
        {
            yield return parts.Count == 1 ? (null, Fold(text)) : (Fold(parts[0]), Fold(parts[1]));
        }
        foreach (var reading in TypedNames.AsTyped(text, schema => schema))
        {
            yield return reading;
        }
        if (parts.Count == 2)
        {
            yield return (Fold(parts[0]), Fold(parts[1]));
        }
        else if (!text.StartsWith('"'))
        {
            yield return (null, text.ToLowerInvariant());   // lenient: a name typed with any case of its letters
        }
    }

    public TableSchema? Lookup(IEnumerable<TableSchema> tables, string schema, string name) =>
        tables.FirstOrDefault(t => t.Table.Schema == schema && t.Table.Name == name);

    public TableSchema? FindLoosely(IReadOnlyList<TableSchema> tables, TableRef table) => null;

    /// <summary>A hint only: tables of that name in schemas off the search path.</summary>
    public string NotFoundHint(DatabaseSchema schema, string name)
    {
        var elsewhere = schema.Tables.Where(t => string.Equals(t.Table.Name, TypedNames.Unquote(name.Trim()), StringComparison.OrdinalIgnoreCase)).ToList();
        return elsewhere.Count > 0
            ? $" A table of that name exists as {string.Join(", ", elsewhere)}: qualify the name with its schema."
            : $" Check the spelling and the schema (the search path is {string.Join(", ", schema.SearchPath)}).";
    }

    public bool IsRecordedAs(TableRef table, string? schema, string name) => name == table.Name && schema == table.Schema;

    public (string Schema, string Name) RecordedKey(string? schema, string name) => (schema ?? "public", name);

    /// <summary>PostgreSQL folds an unquoted identifier's ASCII letters only (in UTF-8 databases): CAFÉ is cafÉ.</summary>
    private static string Fold(string part) =>
        part.StartsWith('"') ? TypedNames.Unquote(part) : string.Concat(part.Select(c => c is >= 'A' and <= 'Z' ? (char)(c + 32) : c));
}
