using System.Data;
using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Integrity;
using DbOps.Core.Schema;
using Npgsql;

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

    /// <summary>Views (and materialized views) that read each table, from the dependency catalog.</summary>
    private const string ViewsSql = """
        SELECT DISTINCT tn.nspname::text AS "Schema", t.relname::text AS "Name",
               CASE v.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || quote_ident(vn.nspname) || '.' || quote_ident(v.relname) AS "Dependent"
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND r.oid = d.objid
        JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
        JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
        JOIN pg_catalog.pg_class t ON d.refclassid = 'pg_catalog.pg_class'::regclass AND t.oid = d.refobjid AND t.relkind IN ('r', 'p')
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
        WHERE v.oid <> t.oid
        """;

    /// <summary>User triggers with the source of the function they run, to find those that name another table.</summary>
    private const string TriggersSql = """
        SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS "On", c.relname::text AS "OnName", n.nspname::text AS "OnSchema",
               tg.tgname::text AS "Name", p.prosrc AS "Body"
        FROM pg_catalog.pg_trigger tg
        JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_proc p ON p.oid = tg.tgfoid
        WHERE NOT tg.tgisinternal
        """;

    public Task<DatabaseSchema> ReadSchemaAsync(DbConnection connection, CancellationToken cancellationToken) =>
        PostgresCatalog.ReadAsync(connection, cancellationToken);

    public ITableNameRules TableNames => PostgresTableNames.Instance;

    /// <summary>The engine's snapshot: Npgsql runs commands in the connection's transaction whether or not they name it.</summary>
    public async Task<IAsyncDisposable> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await PostgresEngine.Instance.BeginSnapshotAsync(connection, cancellationToken);

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
        // The builder quotes a value holding ';' or '=' (a hostile database name stays one value).
        var (host, port) = HostAndPort(source.Server);
        return new NpgsqlConnectionStringBuilder { Host = host, Port = int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), Database = database, Username = source.User }
            .ConnectionString;
    }

    /// <summary>A new, empty database on the same server, which createdb makes first.</summary>
    public (string Database, string? Preparation) RestoreCopy(DbOpsConnection source)
    {
        var scratch = source.Database + "_restored";
        var (host, port) = HostAndPort(source.Server);
        return (scratch, $"createdb -h {host} -p {port} " + (source.User is null ? "" : $"-U {source.User} ") + scratch);
    }

    public IUsageStatistics? UsageStatistics => PostgresUsageStatistics.Instance;

    /// <summary>Views that read the table (from pg_depend), then triggers of other tables whose function's source names it.</summary>
    public async Task<IReadOnlyList<(TableRef Table, string Dependent)>> ReadDependentsAsync(
        DbConnection connection, IReadOnlyList<TableRef> tables, CancellationToken cancellationToken)
    {
        var wanted = tables.ToHashSet();
        var found = new List<(TableRef, string)>();
        foreach (var (schema, name, dependent) in await connection.QueryAsync<(string, string, string)>(new CommandDefinition(ViewsSql, cancellationToken: cancellationToken)))
        {
            if (wanted.Contains(new TableRef(schema, name)))
            {
                found.Add((new TableRef(schema, name), dependent));
            }
        }
        foreach (var trigger in await connection.QueryAsync<(string On, string OnName, string OnSchema, string Name, string Body)>(
                     new CommandDefinition(TriggersSql, cancellationToken: cancellationToken)))
        {
            foreach (var table in tables.Where(t => t != new TableRef(trigger.OnSchema, trigger.OnName) && TypedNames.Mentions(trigger.Body, t.Name)))
            {
                found.Add((table, $"trigger {trigger.Name} on {trigger.On}"));
            }
        }
        return found;
    }

    /// <summary>
    /// One REPEATABLE READ READ ONLY transaction for every check; a check waits at most the lock timeout for a table lock.
    /// JIT is off: a probe over a large table costs just enough to cross jit_above_cost, and then the leader and each
    /// parallel worker compile it (JIT total 213 ms in one orphan probe over 5M rows) to speed up a scan bound by hashing and I/O.
    /// </summary>
    public async Task<IAsyncDisposable> BeginChecksAsync(DbConnection connection, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection,
            $"BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL lock_timeout = '{(int)lockTimeout.TotalMilliseconds}ms'" +
            // The jit setting exists from PostgreSQL 11 on.
            (((NpgsqlConnection)connection).PostgreSqlVersion.Major >= 11 ? "; SET LOCAL jit = off" : ""),
            cancellationToken);
        return new RollbackOnDispose(connection);
    }

    public Task<IStorageChecks> PrepareStorageChecksAsync(DbConnection connection, IntegritySql sql, IntegrityLevel level, CancellationToken cancellationToken) =>
        PostgresStorageChecks.PrepareAsync(connection, sql, level, cancellationToken);

    public (ReadFailure Kind, string Message) ExplainFailure(DbException exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } e => (ReadFailure.PermissionDenied, e.MessageText),
        PostgresException { SqlState: PostgresErrorCodes.UndefinedTable } e => (ReadFailure.TableMissing, e.MessageText),
        PostgresException { SqlState: PostgresErrorCodes.LockNotAvailable } e => (ReadFailure.LockTimeout, e.MessageText),
        PostgresException e => (ReadFailure.Other, e.MessageText),
        _ => (ReadFailure.Other, exception.Message),
    };

    /// <summary>Nothing was written: ending the snapshot releases the ACCESS SHARE locks the checks took.</summary>
    private sealed class RollbackOnDispose(DbConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (connection.State == ConnectionState.Open)
            {
                await ExecuteAsync(connection, "ROLLBACK", CancellationToken.None);
            }
        }
    }

    private static (string Host, string Port) HostAndPort(string? server)
    {
        var colon = server?.LastIndexOf(':') ?? -1;
        return colon > 0 ? (server![..colon], server[(colon + 1)..]) : (server ?? "localhost", "5432");
    }

    private static Task<int> ExecuteAsync(DbConnection connection, string statement, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(statement, commandTimeout: 0, cancellationToken: cancellationToken));
}
