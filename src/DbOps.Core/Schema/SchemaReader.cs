using System.Data.Common;
using DbOps.Core.Engines;

namespace DbOps.Core.Schema;

/// <summary>Reads the catalog of the user tables (the same tables <see cref="IDatabaseEngine.ListTablesAsync"/> lists).</summary>
internal static class SchemaReader
{
    public static Task<DatabaseSchema> ReadAsync(IDatabaseEngine provider, DbConnection connection, CancellationToken cancellationToken) =>
        provider.Inspection.ReadSchemaAsync(connection, cancellationToken);
}
