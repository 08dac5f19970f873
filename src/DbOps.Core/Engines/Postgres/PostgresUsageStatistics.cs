using System.Data.Common;
using Dapper;
using DbOps.Core.Schema;
using DbOps.Core.Usage;

namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's cumulative statistics: the usage counters Find-UnusedTable, Find-UnusedIndex and Start-UsageWatch read.</summary>
internal sealed class PostgresUsageStatistics : IUsageStatistics
{
    public static readonly PostgresUsageStatistics Instance = new();

    /// <summary>
    /// The current database's statistics window. When the counters were never reset, the server start is
    /// used: counters may be older (they survive a clean restart), never younger, so the rule stays safe.
    /// </summary>
    private const string WindowSql = """
        SELECT d.stats_reset AS "StatsReset", pg_postmaster_start_time() AS "ServerStart", now() AS "Now"
        FROM pg_catalog.pg_stat_database d WHERE d.datname = current_database()
        """;

    /// <summary>Usage counters and total size of every user table.</summary>
    private const string TableUsageSql = """
        SELECT s.schemaname::text AS "Schema", s.relname::text AS "Name", s.seq_scan AS "SeqScan", coalesce(s.idx_scan, 0) AS "IdxScan",
               s.n_tup_ins AS "Inserted", s.n_tup_upd AS "Updated", s.n_tup_del AS "Deleted", s.n_live_tup AS "LiveRows",
               pg_catalog.pg_total_relation_size(s.relid) AS "SizeBytes", pg_catalog.pg_relation_size(s.relid) AS "HeapBytes",
               greatest(c.reltuples, 0)::bigint AS "Estimate"
        FROM pg_catalog.pg_stat_user_tables s JOIN pg_catalog.pg_class c ON c.oid = s.relid
        """;

    /// <summary>The database's identity and statistics generation, and the clock.</summary>
    private const string IdentitySql = """
        SELECT d.oid::bigint AS "Oid", s.stats_reset AS "StatsReset", pg_catalog.pg_postmaster_start_time() AS "ServerStart", now() AS "Now"
        FROM pg_catalog.pg_database d LEFT JOIN pg_catalog.pg_stat_database s ON s.datid = d.oid
        WHERE d.datname = current_database()
        """;

    private const string TableCountersSql = """
        SELECT schemaname::text AS "Schema", relname::text AS "Name", seq_scan AS "SeqScan", coalesce(idx_scan, 0) AS "IdxScan",
               n_tup_ins AS "Inserted", n_tup_upd AS "Updated", n_tup_del AS "Deleted"
        FROM pg_catalog.pg_stat_user_tables ORDER BY 1, 2
        """;

    private const string IndexCountersSql = """
        SELECT schemaname::text AS "Schema", indexrelname::text AS "Index", idx_scan AS "Scans" FROM pg_catalog.pg_stat_user_indexes ORDER BY 1, 2
        """;

    public async Task<StatisticsWindow> ReadWindowAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<WindowRow>(new CommandDefinition(WindowSql, cancellationToken: cancellationToken));
        if (row is null)
        {
            return new StatisticsWindow(null, null, "no statistics row for this database");
        }
        var (since, source) = row.StatsReset is { } reset
            ? (reset, "last statistics reset")
            : (row.ServerStart, "server start; the statistics were never reset");
        return new StatisticsWindow(since, row.Now - since, source);
    }

    public async Task<IReadOnlyList<UsageCounters>> ReadTableUsageAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<UsageCounters>(new CommandDefinition(TableUsageSql, cancellationToken: cancellationToken))).ToList();

    public Task<StatisticsIdentity> ReadIdentityAsync(DbConnection connection, CancellationToken cancellationToken) =>
        connection.QuerySingleAsync<StatisticsIdentity>(new CommandDefinition(IdentitySql, cancellationToken: cancellationToken));

    public async Task<IReadOnlyList<TableCounters>> ReadTableCountersAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<TableCounters>(new CommandDefinition(TableCountersSql, cancellationToken: cancellationToken))).ToList();

    public async Task<IReadOnlyList<IndexCounters>> ReadIndexCountersAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<IndexCounters>(new CommandDefinition(IndexCountersSql, cancellationToken: cancellationToken))).ToList();

    private sealed class WindowRow
    {
        public DateTimeOffset? StatsReset { get; set; }
        public DateTimeOffset ServerStart { get; set; }
        public DateTimeOffset Now { get; set; }
    }
}
