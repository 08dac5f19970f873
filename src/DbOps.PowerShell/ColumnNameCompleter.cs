using System.Collections;
using System.Data.Common;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.PowerShell;

/// <summary>
/// Tab completion for a parameter that names columns of the table given with -Table (Add-SafeIndex -Column,
/// Add-SafeConstraint -Unique): that table's columns in their order, resolved as the cmdlet resolves -Table.
/// </summary>
public sealed class ColumnNameCompleter : CatalogCompleter
{
    private protected override async Task<IEnumerable<CatalogName>> ReadNamesAsync(
        IDatabaseEngine engine, DbConnection connection, IDictionary fakeBoundParameters, CancellationToken cancellationToken)
    {
        if (ValueOf(fakeBoundParameters, "Table") is not string table)
        {
            return [];
        }
        var schema = await SchemaReader.ReadAsync(engine, connection, cancellationToken);
        return schema.Resolve(table).Columns
            .Select(c => new CatalogName(c.Name, c.Name, $"{c.Name} {c.DataType}{(c.IsNullable ? "" : " NOT NULL")}"));
    }
}
