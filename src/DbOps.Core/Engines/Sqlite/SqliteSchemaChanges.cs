using System.Data.Common;
using Dapper;

namespace DbOps.Core.Engines;

/// <summary>
/// SQLite's half of <see cref="ISchemaChangeDialect"/>. ALTER TABLE ... RENAME TO (with legacy_alter_table off, the
/// default since 3.26) rewrites the references to the table in other tables' foreign keys, in views and in triggers, and
/// renames its automatic indexes and its sqlite_sequence row; named indexes and triggers keep their names, since SQLite
/// can rename neither without recreating it.
/// </summary>
internal sealed class SqliteSchemaChanges : ISchemaChangeDialect
{
    public static readonly SqliteSchemaChanges Instance = new();

    public int? MaxNameBytes => null;

    public async Task<string?> NameHolderAsync(DbConnection connection, TableRef name, CancellationToken cancellationToken) =>
        // Names in one database are unique across tables, views, indexes and triggers, ignoring the case of ASCII letters.
        await connection.QueryFirstOrDefaultAsync<string>(new CommandDefinition(
            "SELECT type FROM sqlite_schema WHERE name = @name COLLATE NOCASE LIMIT 1", new { name = name.Name }, cancellationToken: cancellationToken));

    public async Task<RenameSteps> RenameStepsAsync(DbConnection connection, TableRef table, string newName, CancellationToken cancellationToken)
    {
        var named = await connection.QueryAsync<(string Type, string Name)>(new CommandDefinition("""
            SELECT type, name FROM sqlite_schema
             WHERE tbl_name = @table COLLATE NOCASE AND type IN ('index', 'trigger') AND name NOT LIKE 'sqlite\_autoindex\_%' ESCAPE '\'
             ORDER BY type, name
            """, new { table = table.Name }, cancellationToken: cancellationToken));
        var kept = named.Where(o => o.Name.Contains(table.Name, StringComparison.OrdinalIgnoreCase))
            .Select(o => $"{o.Type} {o.Name} (SQLite renames an {o.Type} only by recreating it)").ToList();
        return new RenameSteps(
            ["PRAGMA legacy_alter_table = OFF", $"ALTER TABLE {TableRef.QuoteIdentifier(table.Name)} RENAME TO {TableRef.QuoteIdentifier(newName)}"], [], kept);
    }

    /// <summary>A read-only view: a SQLite view takes writes only through INSTEAD OF triggers, which could not keep the table's defaults.</summary>
    public Task<IReadOnlyList<string>> CompatibilityViewAsync(DbConnection connection, TableRef table, string newName, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<string>>([ViewSql(table.Name, newName)]);

    public async Task<bool> IsCompatibilityViewAsync(DbConnection connection, TableRef view, TableRef table, CancellationToken cancellationToken) =>
        // sqlite_schema keeps a view's CREATE statement as it was written: exactly the one DbOps writes.
        await connection.QueryFirstOrDefaultAsync<string>(new CommandDefinition(
            "SELECT sql FROM sqlite_schema WHERE type = 'view' AND name = @name", new { name = view.Name }, cancellationToken: cancellationToken))
        == ViewSql(view.Name, table.Name);

    public string DropViewSql(TableRef view) => $"DROP VIEW {TableRef.QuoteIdentifier(view.Name)}";

    /// <summary>sqlite_schema keeps each view's and trigger's CREATE statement as it was written.</summary>
    public async Task<IReadOnlyList<RetirableDependent>> RetirableDependentsAsync(DbConnection connection, TableRef table,
        IReadOnlyList<string> dependents, CancellationToken cancellationToken)
    {
        var objects = await connection.QueryAsync<(string Type, string Name, string On, string Sql)>(new CommandDefinition(
            "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE type IN ('view', 'trigger') AND sql IS NOT NULL ORDER BY type, name",
            cancellationToken: cancellationToken));
        return objects
            .Select(o => new RetirableDependent(new TableRef(table.Schema, o.Name), o.Type == "view" ? $"view {o.Name}" : $"trigger {o.Name} on {o.On}",
                o.Sql, $"DROP {o.Type.ToUpperInvariant()} {TableRef.QuoteIdentifier(o.Name)}"))
            .Where(o => dependents.Contains(o.Description))
            .ToList();
    }

    private static string ViewSql(string view, string table) =>
        $"CREATE VIEW {TableRef.QuoteIdentifier(view)} AS SELECT * FROM {TableRef.QuoteIdentifier(table)}";
}
