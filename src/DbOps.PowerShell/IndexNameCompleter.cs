using System.Collections;
using System.Data.Common;
using DbOps.Core.Engines;
using DbOps.Core.Indexes;
using DbOps.Core.Schema;

namespace DbOps.PowerShell;

/// <summary>
/// Tab completion for Remove-UnusedIndex -Name: the indexes of -Database it may drop (none that backs a constraint or
/// enforces uniqueness), as index or schema.index.
/// </summary>
public sealed class IndexNameCompleter : CatalogCompleter
{
    private protected override async Task<IEnumerable<CatalogName>> ReadNamesAsync(
        IDatabaseEngine engine, DbConnection connection, IDictionary fakeBoundParameters, CancellationToken cancellationToken) =>
        (await SchemaReader.ReadAsync(engine, connection, cancellationToken)).Tables
            .SelectMany(t => t.Indexes)
            .Where(i => !i.IsUnique && !IndexAdvisor.BacksConstraint(i))
            .Select(i => new CatalogName(Qualified(i), new TableRef(i.Table.Schema, i.Name).ToString(), $"{i.Name} ON {i.Table} ({string.Join(", ", i.Columns)})"));

    /// <summary>The name -Name reads back: it splits at the first dot, so a name holding one carries its schema.</summary>
    private static string Qualified(IndexInfo index)
    {
        var name = new TableRef(index.Table.Schema, index.Name).ToString();
        return name == index.Name && index.Name.Contains('.') ? $"{index.Table.Schema}.{index.Name}" : name;
    }
}
