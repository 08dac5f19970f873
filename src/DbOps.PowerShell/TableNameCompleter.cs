using System.Collections;
using System.Data.Common;
using DbOps.Core.Engines;

namespace DbOps.PowerShell;

/// <summary>
/// Tab completion for a parameter that resolves a table as a person types it (t, schema.t or "Odd Name"): the tables
/// of the database given with -Database, each in a form that resolves back to it. A name the plain text would be read
/// differently (PostgreSQL folds CaseTab to casetab; a dot splits schema from name) is completed in double quotes.
/// </summary>
public sealed class TableNameCompleter : CatalogCompleter
{
    private protected override async Task<IEnumerable<CatalogName>> ReadNamesAsync(
        IDatabaseEngine engine, DbConnection connection, IDictionary fakeBoundParameters, CancellationToken cancellationToken) =>
        (await engine.ListTablesAsync(connection, cancellationToken))
            .Select(t => new CatalogName(ReadsBackAs(engine, t) ? t.ToString() : t.ToQuotedName(), t.ToString(), t.ToString()));

    /// <summary>True when the engine's first reading of the plain name is the table itself.</summary>
    private static bool ReadsBackAs(IDatabaseEngine engine, TableRef table)
    {
        var (schema, name) = engine.Inspection.TableNames.Readings(table.ToString()).First();
        return name == table.Name && (schema ?? table.Schema) == table.Schema;
    }
}

/// <summary>
/// Tab completion for a parameter that matches or splits table names as plain text rather than resolving them
/// (Find-UnusedTable -Exclude patterns, Import-TableArchive -TargetTable): the tables of -Database, never in SQL quotes.
/// </summary>
public sealed class PlainTableNameCompleter : CatalogCompleter
{
    private protected override async Task<IEnumerable<CatalogName>> ReadNamesAsync(
        IDatabaseEngine engine, DbConnection connection, IDictionary fakeBoundParameters, CancellationToken cancellationToken) =>
        (await engine.ListTablesAsync(connection, cancellationToken)).Select(t => new CatalogName(t.ToString(), t.ToString(), t.ToString()));
}
