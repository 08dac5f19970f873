using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Schema;
using Npgsql;

namespace DbOps.Core.Providers;

internal sealed class PostgresProvider : IDatabaseProvider
{
    public static readonly PostgresProvider Instance = new();

    /// <summary>The user tables (see <see cref="PostgresCatalog.UserTables"/>).</summary>
    private const string ListTablesSql = PostgresCatalog.UserTables + """
        SELECT schema_name AS "Schema", table_name AS "Name" FROM user_tables ORDER BY 1, 2
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
