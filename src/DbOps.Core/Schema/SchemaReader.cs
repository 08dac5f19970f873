using System.Data.Common;
using DbOps.Core.Connections;
using DbOps.Core.Providers;

namespace DbOps.Core.Schema;

/// <summary>Reads the catalog of the user tables (the same tables <see cref="IDatabaseProvider.ListTablesAsync"/> lists).</summary>
internal static class SchemaReader
{
    public static Task<DatabaseSchema> ReadAsync(IDatabaseProvider provider, DbConnection connection, CancellationToken cancellationToken) =>
        provider.Kind == DatabaseProvider.PostgreSQL
            ? PostgresCatalog.ReadAsync(connection, cancellationToken)
            : SqliteCatalog.ReadAsync(connection, cancellationToken);
}
