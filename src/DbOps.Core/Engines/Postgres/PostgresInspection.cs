using System.Data;
using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>What the read-only inspections ask of PostgreSQL.</summary>
internal sealed class PostgresInspection : IInspectionDialect
{
    public static readonly PostgresInspection Instance = new();

    /// <summary>The savepoint <see cref="IsolateAsync"/> rolls back to; a read that handles its own error may roll back to it too.</summary>
    internal const string Savepoint = "dbops_isolated";

    /// <summary>Statistics ANALYZE gathered; most_common_vals and histogram_bounds hold values and are never read.</summary>
    private const string PgStatsSql = """
        SELECT s.attname::text AS "Column", s.null_frac::float8 AS "NullFraction", s.n_distinct::float8 AS "Distinct"
        FROM pg_catalog.pg_stats s
        WHERE s.schemaname = @schema AND s.tablename = @table AND NOT s.inherited
        """;

    public Task<DatabaseSchema> ReadSchemaAsync(DbConnection connection, CancellationToken cancellationToken) =>
        PostgresCatalog.ReadAsync(connection, cancellationToken);

    public ITableNameRules TableNames => PostgresTableNames.Instance;

    /// <summary>A REPEATABLE READ READ ONLY transaction.</summary>
    public async Task<IAsyncDisposable> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("SET TRANSACTION READ ONLY", cancellationToken: cancellationToken));
        return transaction;
    }

    /// <summary>A failed statement aborts a PostgreSQL transaction; rolling back to a savepoint brings it back, snapshot and all.</summary>
    public async Task<T> IsolateAsync<T>(DbConnection connection, Func<Task<T>> read, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, $"SAVEPOINT {Savepoint}", cancellationToken);
        try
        {
            var result = await read();
            await ExecuteAsync(connection, $"RELEASE SAVEPOINT {Savepoint}", cancellationToken);
            return result;
        }
        catch (DbException) when (!cancellationToken.IsCancellationRequested && connection.State == ConnectionState.Open)
        {
            await ExecuteAsync(connection, $"ROLLBACK TO SAVEPOINT {Savepoint}", cancellationToken);
            throw;
        }
    }

    public string DatabaseTitle(string database) => database;

    public string DatabaseStem(string database) => database;

    public StringComparison DatabaseNameComparison => StringComparison.Ordinal;

    public async Task<IReadOnlyDictionary<string, (double NullFraction, double Distinct)>> ReadColumnStatisticsAsync(
        DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(string Column, double NullFraction, double Distinct)>(new CommandDefinition(
            PgStatsSql, new { schema = table.Schema, table = table.Name }, cancellationToken: cancellationToken)))
        .ToDictionary(s => s.Column, s => (s.NullFraction, s.Distinct), StringComparer.Ordinal);

    public string OwnRows(TableRef table) => "ONLY " + table.ToQuotedName();

    /// <summary>Through the text form, so types without an equality operator (json, point, xml) count too.</summary>
    public string CountDistinct(string quotedColumn) => $"count(DISTINCT {quotedColumn}::text)";

    public (string Validated, string Enforced) DescribeForeignKey(ForeignKeyInfo foreignKey) =>
        (foreignKey.IsValidated ? "yes" : "**no** (NOT VALID)", foreignKey.IsEnforced ? "yes" : "**no** (triggers disabled)");

    public string? ChecksNote => null;

    /// <summary>A connection string without a password.</summary>
    public string DatabaseArgument(DbOpsConnection source, string database)
    {
        var (host, port) = HostAndPort(source.Server);
        return $"Host={host};Port={port};Database={database}" + (source.User is null ? "" : $";Username={source.User}");
    }

    /// <summary>A new, empty database on the same server, which createdb makes first.</summary>
    public (string Database, string? Preparation) RestoreCopy(DbOpsConnection source)
    {
        var scratch = source.Database + "_restored";
        var (host, port) = HostAndPort(source.Server);
        return (scratch, $"createdb -h {host} -p {port} " + (source.User is null ? "" : $"-U {source.User} ") + scratch);
    }

    private static (string Host, string Port) HostAndPort(string? server)
    {
        var colon = server?.LastIndexOf(':') ?? -1;
        return colon > 0 ? (server![..colon], server[(colon + 1)..]) : (server ?? "localhost", "5432");
    }

    private static Task<int> ExecuteAsync(DbConnection connection, string statement, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(statement, commandTimeout: 0, cancellationToken: cancellationToken));
}
