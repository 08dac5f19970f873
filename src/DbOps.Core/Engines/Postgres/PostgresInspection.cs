using System.Data.Common;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>What the read-only inspections ask of PostgreSQL.</summary>
internal sealed class PostgresInspection : IInspectionDialect
{
    public static readonly PostgresInspection Instance = new();

    public Task<DatabaseSchema> ReadSchemaAsync(DbConnection connection, CancellationToken cancellationToken) =>
        PostgresCatalog.ReadAsync(connection, cancellationToken);

    public ITableNameRules TableNames => PostgresTableNames.Instance;
}
