using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Schema;
using Npgsql;

namespace DbOps.Core.Engines;

internal sealed class PostgresEngine : IDatabaseEngine
{
    public static readonly PostgresEngine Instance = new();

    /// <summary>The user tables (see <see cref="PostgresCatalog.UserTables"/>).</summary>
    private const string ListTablesSql = PostgresCatalog.UserTables + """
        SELECT schema_name AS "Schema", table_name AS "Name" FROM user_tables ORDER BY 1, 2
        """;

    public DatabaseProvider Kind => DatabaseProvider.PostgreSQL;

    /// <summary>
    /// The session ended under the operation: the server restarted or shut down (57P01-57P03), the backend was
    /// terminated, or the socket broke. Not a statement the server refused.
    /// </summary>
    internal static bool IsConnectionLost(Exception e) => e switch
    {
        PostgresException pg => pg.SqlState.StartsWith("57P", StringComparison.Ordinal) || pg.SqlState.StartsWith("08", StringComparison.Ordinal),
        NpgsqlException { InnerException: { } inner } => inner is IOException or System.Net.Sockets.SocketException || IsConnectionLost(inner),
        _ => false,
    };

    bool IDatabaseEngine.IsConnectionLost(Exception error) => IsConnectionLost(error);

    public async Task<ReadOnlySession> OpenReadOnlyAsync(DbOpsConnection connection, CancellationToken cancellationToken) =>
        new(await OpenAsync(connection, readOnly: true, cancellationToken));

    public async Task<WritableSession> OpenWritableAsync(DbOpsConnection connection, CancellationToken cancellationToken) =>
        new(await OpenAsync(connection, readOnly: false, cancellationToken));

    public async Task<long> SizeAsync(DbOpsConnection connection, CancellationToken cancellationToken)
    {
        await using var session = await OpenReadOnlyAsync(connection, cancellationToken);
        return await session.Connection.ExecuteScalarAsync<long>(
            new CommandDefinition("SELECT pg_database_size(current_database())", cancellationToken: cancellationToken));
    }

    private static async Task<NpgsqlConnection> OpenAsync(DbOpsConnection connection, bool readOnly, CancellationToken cancellationToken)
    {
        var builder = Builder(connection.ConnectionString, readOnly);
        var npgsql = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await npgsql.OpenAsync(cancellationToken);
            return npgsql;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await npgsql.DisposeAsync();
            throw PostgresConnector.MapConnectError(e, connection.ToString(), builder.Timeout);
        }
    }

    /// <summary>
    /// Opens synchronously, so the socket stays in blocking mode: synchronous reads then wait in the kernel rather
    /// than through .NET's asynchronous socket engine (one thread wake-up per round trip instead of two), which is
    /// what Measure-QueryPerformance times on. Use it with synchronous calls only: one asynchronous call switches the
    /// socket to the asynchronous engine for good.
    /// </summary>
    public ReadOnlySession OpenBlockingReadOnly(DbOpsConnection connection) => new(OpenBlocking(connection, readOnly: true));

    /// <summary>A writable connection opened synchronously (see <see cref="OpenBlockingReadOnly"/>).</summary>
    public WritableSession OpenBlockingWritable(DbOpsConnection connection) => new(OpenBlocking(connection, readOnly: false));

    private static NpgsqlConnection OpenBlocking(DbOpsConnection connection, bool readOnly)
    {
        var builder = Builder(connection.ConnectionString, readOnly);
        // A pooled connection may have been opened asynchronously before: only a new one is sure to be blocking.
        builder.Pooling = false;
        var npgsql = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            npgsql.Open();
            return npgsql;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            npgsql.Dispose();
            throw PostgresConnector.MapConnectError(e, connection.ToString(), builder.Timeout);
        }
    }

    /// <summary>An unopened connection with the settings of DbOps's own sessions (the pool its sessions share).</summary>
    internal static NpgsqlConnection NewConnection(NpgsqlConnectionStringBuilder parsed, bool readOnly) =>
        new(Builder(parsed.ConnectionString, readOnly).ConnectionString);

    /// <summary>The connection's Npgsql settings; a read-only one makes every transaction read-only (invariant 2).</summary>
    private static NpgsqlConnectionStringBuilder Builder(string connectionString, bool readOnly)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString)
        {
            // DbOps's own sessions say so, whatever the connection string named: statistics readers leave them out.
            ApplicationName = DbOpsTraffic.ApplicationName,
        };
        if (readOnly)
        {
            builder.Options = ((builder.Options ?? "") + " -c default_transaction_read_only=on").Trim();
        }
        return builder;
    }

    public string QuoteIdentifier(string identifier) => TableRef.QuoteIdentifier(identifier);

    public string DefaultSchema => "public";

    public string QualifiedName(TableRef table) => table.ToQuotedName();

    public string RowAddress(TableSchema table) => "ctid";

    /// <summary>
    /// REPEATABLE READ READ ONLY: one snapshot for every statement, which pg_export_snapshot can hand to pg_dump
    /// (exporting a snapshot writes nothing, so READ ONLY allows it).
    /// </summary>
    public async Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("SET TRANSACTION READ ONLY", transaction: transaction, cancellationToken: cancellationToken));
        return transaction;
    }

    public async Task<IReadOnlyList<TableRef>> ListTablesAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<TableRef>(new CommandDefinition(ListTablesSql, cancellationToken: cancellationToken))).ToList();

    public async Task<bool> TableExistsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT to_regclass(@name) IS NOT NULL", new { name = QualifiedName(table) },
            cancellationToken: cancellationToken));

    public async Task<long> CountRowsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"{DbOpsTraffic.Marker}SELECT count(*) FROM ONLY {QualifiedName(table)}",
            cancellationToken: cancellationToken, commandTimeout: 0));

    public IArchiveDialect Archive => PostgresArchive.Instance;

    public IRemovalDialect Removal => PostgresRemoval.Instance;

    public ISnapshotCatalog Snapshots => PostgresSnapshotCatalog.Instance;

    public IBackupEngine Backup => PostgresBackupEngine.Instance;

    public DatabaseRefusal? RefusalOf(Exception error) => error switch
    {
        PostgresException { SqlState: PostgresErrorCodes.LockNotAvailable } pg => new(RefusalKind.LockNotGranted, pg.MessageText),
        PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } pg => new(RefusalKind.InsufficientPrivilege, pg.MessageText),
        PostgresException { SqlState: PostgresErrorCodes.DependentObjectsStillExist } pg =>
            new(RefusalKind.DependentObjects, pg.MessageText + (pg.Detail is null ? "" : $" ({pg.Detail})")),
        _ => null,
    };

    public IInspectionDialect Inspection => PostgresInspection.Instance;

    public ITuningDialect Tuning => PostgresTuning.Instance;

    public IMoveDialect Moves => PostgresMoves.Instance;

    public ISchemaChangeDialect SchemaChanges => PostgresSchemaChanges.Instance;

    public IColumnDialect Columns => PostgresColumns.Instance;

    public IRowFixDialect RowFixes => PostgresRowFixes.Instance;

    public IDatabaseLifecycle Databases => PostgresDatabases.Instance;
}
