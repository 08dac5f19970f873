using System.Data.Common;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// What the read-only inspections (schema, documentation, usage, integrity) ask of one engine: its catalog, its
/// name rules, and the SQL and server facts in which the engines differ. The services hold the rest once.
/// </summary>
internal interface IInspectionDialect
{
    /// <summary>Reads the catalog of the user tables (the same tables <see cref="IDatabaseEngine.ListTablesAsync"/> lists).</summary>
    Task<DatabaseSchema> ReadSchemaAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>How this engine resolves the table names people type.</summary>
    ITableNameRules TableNames { get; }
}

/// <summary>How an engine resolves a table name as a person types it: <c>t</c>, <c>schema.t</c> or <c>"Odd Name"</c>.</summary>
internal interface ITableNameRules
{
    /// <summary>Readings of the typed text in priority order; a null schema means "along the search path".</summary>
    IEnumerable<(string? Schema, string Name)> Readings(string text);

    /// <summary>The table this engine takes for <paramref name="name"/> in <paramref name="schema"/>, or null.</summary>
    TableSchema? Lookup(IEnumerable<TableSchema> tables, string schema, string name);

    /// <summary>When no table is exactly <paramref name="table"/>: the one the engine would take for it, or null.</summary>
    TableSchema? FindLoosely(IReadOnlyList<TableSchema> tables, TableRef table);

    /// <summary>The sentence a TableNotFound error ends with: what to check, and where a table of that name does exist.</summary>
    string NotFoundHint(DatabaseSchema schema, string name);
}
