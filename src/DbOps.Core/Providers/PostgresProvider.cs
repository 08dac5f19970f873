using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using Npgsql;

namespace DbOps.Core.Providers;

internal sealed class PostgresProvider : IDatabaseProvider
{
    public static readonly PostgresProvider Instance = new();

    /// <summary>
    /// Ordinary tables (partitions included, partitioned parents excluded: they hold no rows themselves) in
    /// user schemas, leaving out tables that belong to an extension, whose data pg_dump does not dump.
    /// </summary>
    private const string ListTablesSql = """
        SELECT n.nspname AS Schema, c.relname AS Name
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r'
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1, 2
        """;

    public DatabaseProvider Kind => DatabaseProvider.PostgreSQL;

    public async Task<DbConnection> OpenAsync(DbOpsConnection connection, bool readOnly, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connection.ConnectionString);
        if (readOnly)
        {
            builder.Options = ((builder.Options ?? "") + " -c default_transaction_read_only=on").Trim();
        }
        var npgsql = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await npgsql.OpenAsync(cancellationToken);
            return npgsql;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await npgsql.DisposeAsync();
            throw DatabaseConnector.MapPostgresError(e, connection.ToString(), builder.Timeout);
        }
    }

    public string QuoteIdentifier(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    public async Task<IReadOnlyList<TableRef>> ListTablesAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<TableRef>(new CommandDefinition(ListTablesSql, cancellationToken: cancellationToken))).ToList();

    public async Task<bool> TableExistsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT to_regclass(@name) IS NOT NULL", new { name = $"{QuoteIdentifier(table.Schema)}.{QuoteIdentifier(table.Name)}" },
            cancellationToken: cancellationToken));

    public async Task<long> CountRowsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM ONLY {QuoteIdentifier(table.Schema)}.{QuoteIdentifier(table.Name)}",
            cancellationToken: cancellationToken, commandTimeout: 0));
}
