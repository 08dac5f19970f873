using System.Globalization;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Providers;
using Npgsql;

namespace DbOps.Core.Performance;

/// <summary>A statement pg_stat_statements has seen, with its cost and a flag for a likely N+1 pattern.</summary>
public sealed class SlowQuery
{
    internal SlowQuery(DbOpsConnection source, Row row, bool likelyNPlusOne, DateTimeOffset? statsSince)
    {
        Source = source;
        Provider = source.Provider;
        Database = source.Database;
        QueryId = row.QueryId;
        Query = row.Query;
        User = row.UserName;
        Calls = row.Calls;
        TotalMs = row.TotalMs;
        MeanMs = row.MeanMs;
        Rows = row.Rows;
        PercentOfTotal = row.PercentOfTotal;
        RankByTotal = (int)row.RankByTotal;
        RankByMean = (int)row.RankByMean;
        LikelyNPlusOne = likelyNPlusOne;
        StatsSince = statsSince;
        ParameterCount = System.Text.RegularExpressions.Regex.Matches(row.Query, @"\$(\d+)")
            .Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).Count();
    }

    /// <summary>
    /// How many $n placeholders the normalised statement has: 0 pipes straight into Measure-QueryPerformance, more
    /// need -Parameters @{ '1' = ... }.
    /// </summary>
    public int ParameterCount { get; }

    /// <summary>Always PostgreSQL.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database the statements ran in.</summary>
    public string Database { get; }

    /// <summary>pg_stat_statements' queryid.</summary>
    public long? QueryId { get; }

    /// <summary>The normalised statement: constants appear as $1, $2, ... (pass values with -Parameters @{ '1' = ... }).</summary>
    public string Query { get; }

    /// <summary>The role that ran it.</summary>
    public string? User { get; }

    /// <summary>How many times it ran.</summary>
    public long Calls { get; }

    /// <summary>Total execution time, in milliseconds.</summary>
    public double TotalMs { get; }

    /// <summary>Mean execution time, in milliseconds.</summary>
    public double MeanMs { get; }

    /// <summary>Rows returned or affected, all calls together.</summary>
    public long Rows { get; }

    /// <summary>Its share of the execution time of every statement in this database, in percent.</summary>
    public double PercentOfTotal { get; }

    /// <summary>1 for the statement with the most total time.</summary>
    public int RankByTotal { get; }

    /// <summary>1 for the statement with the highest mean time.</summary>
    public int RankByMean { get; }

    /// <summary>
    /// Very many calls of a cheap single-row statement: the shape of a loop in the application issuing one query
    /// per item (an N+1 pattern). One set-based query usually replaces them.
    /// </summary>
    public bool LikelyNPlusOne { get; }

    /// <summary>When pg_stat_statements was last reset (PostgreSQL 14+), or null when unknown.</summary>
    public DateTimeOffset? StatsSince { get; }

    /// <summary>The connection it was read through, so the object pipes into Measure-QueryPerformance.</summary>
    public DbOpsConnection Source { get; }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{TotalMs:F1} ms in {Calls} calls: {Query}");

    /// <summary>One row of <see cref="SlowQueries.StatementsSql"/>.</summary>
    internal sealed record Row(long? QueryId, string Query, string? UserName, long Calls, double TotalMs, double MeanMs, long Rows,
                               double PercentOfTotal, long RankByTotal, long RankByMean);
}

/// <summary>What Get-SlowQuery reads.</summary>
/// <param name="Connection">A PostgreSQL database.</param>
/// <param name="Top">How many statements by total time, and how many by mean time (the union is returned).</param>
/// <param name="NPlusOneMinCalls">Calls from which a cheap single-row statement is flagged as a likely N+1.</param>
/// <param name="NPlusOneMaxMeanMs">Mean time below which such a statement counts as cheap.</param>
public sealed record SlowQueryRequest(DbOpsConnection Connection, int Top = 10, long NPlusOneMinCalls = 1000, double NPlusOneMaxMeanMs = 1.0);

/// <summary>Reads the most expensive statements of the connected database from pg_stat_statements.</summary>
public static class SlowQueries
{
    /// <summary>Whether the extension is installed in this database, and its schema.</summary>
    private const string ExtensionSql = """
        SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements'
        """;

    /// <summary>
    /// The top statements of the current database by total and by mean time ({0}: the extension's schema, quoted;
    /// {1}/{2}: the time columns, which PostgreSQL 13 renamed). Ranks are computed over this database only.
    /// </summary>
    internal const string StatementsSql = """
        WITH s AS (
            SELECT s.queryid AS QueryId, s.query AS Query, r.rolname AS UserName, s.calls AS Calls,
                   s.{1} AS TotalMs, s.{2} AS MeanMs, s.rows AS Rows,
                   100.0 * s.{1} / NULLIF(sum(s.{1}) OVER (), 0) AS PercentOfTotal,
                   rank() OVER (ORDER BY s.{1} DESC) AS RankByTotal,
                   rank() OVER (ORDER BY s.{2} DESC) AS RankByMean
            FROM {0}.pg_stat_statements s
            LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
            WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
        )
        SELECT QueryId, Query, UserName, Calls, TotalMs, MeanMs, Rows, coalesce(PercentOfTotal, 0) AS PercentOfTotal, RankByTotal, RankByMean
        FROM s WHERE RankByTotal <= @top OR RankByMean <= @top
        ORDER BY RankByTotal
        """;

    /// <summary>Reads the statements; fails with StatStatementsUnavailable when the extension cannot be read.</summary>
    public static async Task<IReadOnlyList<SlowQuery>> GetAsync(SlowQueryRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var source = request.Connection;
        if (source.Provider != DatabaseProvider.PostgreSQL)
        {
            throw new DbOpsException(ErrorIds.ProviderNotSupported, ErrorKind.InvalidArgument,
                $"Get-SlowQuery reads PostgreSQL's pg_stat_statements; {source} is SQLite, which records no statement statistics. " +
                "Measure candidate queries with Measure-QueryPerformance instead.", source.ToString());
        }
        await using var connection = await PostgresProvider.Instance.OpenAsync(source, readOnly: true, cancellationToken);
        var schema = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(ExtensionSql, cancellationToken: cancellationToken))
            ?? throw Unavailable(source, "the extension is not installed in this database",
                "Run CREATE EXTENSION pg_stat_statements; as a superuser (the server must also load it: shared_preload_libraries = 'pg_stat_statements').");
        var version = ((Npgsql.NpgsqlConnection)connection).PostgreSqlVersion;
        var (total, mean) = version.Major >= 13 ? ("total_exec_time", "mean_exec_time") : ("total_time", "mean_time");
        var sql = string.Format(CultureInfo.InvariantCulture, StatementsSql, PostgresProvider.Instance.QuoteIdentifier(schema), total, mean);
        List<SlowQuery.Row> rows;
        try
        {
            rows = (await connection.QueryAsync<SlowQuery.Row>(new CommandDefinition(sql, new { top = (long)request.Top }, cancellationToken: cancellationToken))).ToList();
        }
        catch (PostgresException e) when (e.SqlState == "55000")
        {
            throw Unavailable(source, e.MessageText,
                "Add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server.");
        }
        DateTimeOffset? since = null;
        if (version.Major >= 14)
        {
            since = await connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
                $"SELECT stats_reset FROM {PostgresProvider.Instance.QuoteIdentifier(schema)}.pg_stat_statements_info", cancellationToken: cancellationToken)) is { } reset
                ? new DateTimeOffset(DateTime.SpecifyKind(reset, DateTimeKind.Utc)) : null;
        }
        observer.Verbose($"pg_stat_statements: {rows.Count} statement(s) in the top {request.Top} by total or mean time.");
        return rows.Select(r => new SlowQuery(source, r, IsLikelyNPlusOne(r, request), since)).ToList();
    }

    /// <summary>Many calls, each cheap and returning about one row: one query per item of a loop.</summary>
    private static bool IsLikelyNPlusOne(SlowQuery.Row row, SlowQueryRequest request) =>
        row.Calls >= request.NPlusOneMinCalls && row.MeanMs <= request.NPlusOneMaxMeanMs && row.Rows <= row.Calls * 2
        && row.Query.TrimStart().StartsWith("SELECT", StringComparison.OrdinalIgnoreCase);

    private static DbOpsException Unavailable(DbOpsConnection source, string why, string fix) =>
        new(ErrorIds.StatStatementsUnavailable, ErrorKind.NotFound,
            $"Get-SlowQuery cannot read pg_stat_statements in {source}: {why}. {fix}", source.ToString());
}
