using System.Data.Common;
using System.Globalization;
using Dapper;
using DbOps.Core.Errors;
using DbOps.Core.Performance;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's side of Measure-QueryPerformance (EXPLAIN) and Get-SlowQuery (pg_stat_statements).</summary>
internal static class PostgresQueries
{
    /// <summary>Whether the extension is installed in this database, and its schema.</summary>
    private const string ExtensionSql = """
        SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements'
        """;

    /// <summary>
    /// Every statement of the databases and roles asked for ({0}: the extension's schema, quoted; {1}/{2}: the time
    /// columns, which PostgreSQL 13 renamed). Ranking happens after classification, so what is left out never takes a
    /// place in the top; pg_stat_statements keeps at most pg_stat_statements.max statements, so this is bounded.
    /// </summary>
    private const string StatementsSql = """
        SELECT s.queryid AS QueryId, coalesce(s.query, '') AS Query, r.rolname::text AS UserName, d.datname::text AS DatabaseName,
               s.calls AS Calls, s.{1} AS TotalMs, s.{2} AS MeanMs, s.rows AS Rows
        FROM {0}.pg_stat_statements s
        JOIN pg_catalog.pg_database d ON d.oid = s.dbid
        LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
        WHERE (cardinality(@databases) = 0 AND d.datname = current_database() OR d.datname = ANY(@databases) OR '*' = ANY(@databases))
          AND (cardinality(@roles) = 0 OR r.rolname = ANY(@roles))
        """;

    /// <summary>Classifies on a read-only connection: EXPLAIN without ANALYZE runs nothing.</summary>
    public static async Task<bool> ModifiesAsync(QueryMeasurementRequest request, CancellationToken cancellationToken)
    {
        // Npgsql would send every statement of "a; COMMIT; b" and the server run them all, even on a read-only
        // connection (a COMMIT ends the read-only transaction): refuse before anything is sent.
        if (!PostgresStatementText.IsSingleStatement(request.Query))
        {
            throw QueryMeasurement.MoreThanOneStatement(request.Query);
        }
        await using var session = await PostgresEngine.Instance.OpenReadOnlyAsync(request.Connection, cancellationToken);
        await using var explain = QueryMeasurement.CreateCommand(
            PostgresTuning.Instance, session.Connection, null, "EXPLAIN (VERBOSE, FORMAT JSON) " + request.Query, request.Parameters);
        await using var reader = await explain.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var modifies = PostgresPlanReader.Modifies(reader.GetString(0));
        // Npgsql splits "a; b" into a batch: only the first would be explained, the rest timed unseen.
        if (await reader.NextResultAsync(cancellationToken))
        {
            throw QueryMeasurement.MoreThanOneStatement(request.Query);
        }
        return modifies;
    }

    /// <summary>
    /// One analysed run for the plan. A write's run is always rolled back: it is not one of the executions asked for
    /// (inside <paramref name="transaction"/>, which the caller rolls back, or in a transaction of its own).
    /// </summary>
    public static async Task<QueryPlanSummary> ExplainAnalyzeAsync(DbConnection connection, DbTransaction? transaction, QueryMeasurementRequest request,
        bool modifies, Action<string> progress, CancellationToken cancellationToken)
    {
        progress("EXPLAIN ANALYZE");
        await using var planTransaction = transaction is null && modifies ? await connection.BeginTransactionAsync(cancellationToken) : null;
        var scope = transaction ?? planTransaction;
        if (transaction is not null)
        {
            await connection.ExecuteAsync(new CommandDefinition($"SAVEPOINT {QueryMeasurement.Savepoint}", transaction: transaction, cancellationToken: cancellationToken));
        }
        await using var analyse = QueryMeasurement.CreateCommand(
            PostgresTuning.Instance, connection, scope, "EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) " + request.Query, request.Parameters);
        var json = (string)(await analyse.ExecuteScalarAsync(cancellationToken))!;
        var plan = await PostgresPlanReader.SummariseAsync(json, connection, scope, cancellationToken);
        if (planTransaction is not null)
        {
            await planTransaction.RollbackAsync(cancellationToken);
        }
        return plan;
    }

    /// <summary>Reads pg_stat_statements; fails with StatStatementsUnavailable when the extension cannot be read.</summary>
    public static async Task<StatementStatistics> ReadStatementsAsync(SlowQueryRequest request, CancellationToken cancellationToken)
    {
        var source = request.Connection;
        await using var session = await PostgresEngine.Instance.OpenReadOnlyAsync(source, cancellationToken);
        var connection = (NpgsqlConnection)session.Connection;
        var schema = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(ExtensionSql, cancellationToken: cancellationToken))
            ?? throw Unavailable(source.ToString(), "the extension is not installed in this database",
                "Run CREATE EXTENSION pg_stat_statements; as a superuser (the server must also load it: shared_preload_libraries = 'pg_stat_statements').");
        var version = connection.PostgreSqlVersion;
        var (total, mean) = version.Major >= 13 ? ("total_exec_time", "mean_exec_time") : ("total_time", "mean_time");
        var sql = string.Format(CultureInfo.InvariantCulture, StatementsSql, PostgresEngine.Instance.QuoteIdentifier(schema), total, mean);
        List<SlowQuery.Row> rows;
        try
        {
            rows = (await connection.QueryAsync<SlowQuery.Row>(new CommandDefinition(sql,
                new { databases = request.Databases.ToArray(), roles = request.Roles.ToArray() }, cancellationToken: cancellationToken))).ToList();
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ObjectNotInPrerequisiteState)
        {
            throw Unavailable(source.ToString(), e.MessageText,
                "Add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server.");
        }
        DateTimeOffset? since = null;
        if (version.Major >= 14)
        {
            since = await connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
                $"SELECT stats_reset FROM {PostgresEngine.Instance.QuoteIdentifier(schema)}.pg_stat_statements_info", cancellationToken: cancellationToken)) is { } reset
                ? new DateTimeOffset(DateTime.SpecifyKind(reset, DateTimeKind.Utc)) : null;
        }
        return new StatementStatistics(rows, since);
    }

    private static DbOpsException Unavailable(string source, string why, string fix) =>
        new(ErrorIds.StatStatementsUnavailable, ErrorKind.NotFound, $"Get-SlowQuery cannot read pg_stat_statements in {source}: {why}. {fix}", source);
}
