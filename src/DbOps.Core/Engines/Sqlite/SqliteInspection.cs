using System.Data.Common;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>What the read-only inspections ask of SQLite.</summary>
internal sealed class SqliteInspection : IInspectionDialect
{
    public static readonly SqliteInspection Instance = new();

    public Task<DatabaseSchema> ReadSchemaAsync(DbConnection connection, CancellationToken cancellationToken) =>
        SqliteCatalog.ReadAsync(connection, cancellationToken);

    public ITableNameRules TableNames => SqliteTableNames.Instance;
}
