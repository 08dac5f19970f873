using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>SQLite's name rules: one schema (main), and names that ignore the case of ASCII letters only.</summary>
internal sealed class SqliteTableNames : ITableNameRules
{
    public static readonly SqliteTableNames Instance = new();

    public IEnumerable<(string? Schema, string Name)> Readings(string text) =>
        TypedNames.AsTyped(text, schema => SqliteNames.Same(schema, SqliteEngine.MainSchema) ? SqliteEngine.MainSchema : schema);

    public TableSchema? Lookup(IEnumerable<TableSchema> tables, string schema, string name) =>
        SqliteNames.Find(tables.Where(t => SqliteNames.Same(t.Table.Schema, schema)), t => t.Table.Name, name);

    public TableSchema? FindLoosely(IReadOnlyList<TableSchema> tables, TableRef table) =>
        SqliteNames.Find(tables, t => t.Table.Name, table.Name);

    /// <summary>SQLite has one schema, and the lookup searched it already.</summary>
    public string NotFoundHint(DatabaseSchema schema, string name) => " Check the spelling.";

    /// <summary>SQLite has one schema; a journaled name matches whatever the case of its letters.</summary>
    public bool IsRecordedAs(TableRef table, string? schema, string name) => string.Equals(name, table.Name, StringComparison.OrdinalIgnoreCase);

    public (string Schema, string Name) RecordedKey(string? schema, string name) => (SqliteEngine.MainSchema, name.ToLowerInvariant());
}
