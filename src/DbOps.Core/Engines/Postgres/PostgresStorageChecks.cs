using System.Data.Common;
using Dapper;
using DbOps.Core.Integrity;
using DbOps.Core.Schema;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>
/// StorageIntegrity on PostgreSQL, at Full only: the amcheck extension (bt_index_check with heapallindexed on every
/// valid B-tree index, verify_heapam on the table), or a warning saying why it cannot run.
/// </summary>
internal sealed class PostgresStorageChecks(IntegritySql sql, PostgresStorageChecks.AmcheckState? amcheck) : IStorageChecks
{
    /// <summary>Where amcheck is installed, or why it cannot be used.</summary>
    internal sealed record AmcheckState(string? Schema, string? Problem);

    /// <summary>PostgreSQL: the schema amcheck's functions live in and whether this user may call them.</summary>
    private const string AmcheckSql = """
        SELECT n.nspname AS Schema,
               pg_catalog.has_function_privilege(p.oid, 'EXECUTE') AS CanExecute,
               e.extversion AS Version
        FROM pg_catalog.pg_extension e
        JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        LEFT JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid AND p.proname = 'bt_index_check' AND p.pronargs = 2
        WHERE e.extname = 'amcheck'
        """;

    /// <summary>Reads where amcheck is only at Full, the one level that uses it.</summary>
    public static async Task<IStorageChecks> PrepareAsync(DbConnection connection, IntegritySql sql, IntegrityLevel level, CancellationToken cancellationToken) =>
        new PostgresStorageChecks(sql, level == IntegrityLevel.Full ? await ReadAmcheckAsync(connection, cancellationToken) : null);

    private static async Task<AmcheckState> ReadAmcheckAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var row = await connection.QueryFirstOrDefaultAsync<(string Schema, bool? CanExecute, string Version)?>(
            new CommandDefinition(AmcheckSql, cancellationToken: cancellationToken));
        return row switch
        {
            null => new AmcheckState(null,
                "The amcheck extension is not installed in this database, so indexes and heap pages were not checked. " +
                "A superuser can add it with CREATE EXTENSION amcheck (it ships with PostgreSQL's contrib)."),
            { CanExecute: not true } => new AmcheckState(null,
                $"amcheck is installed in schema {row.Value.Schema} but this user may not execute bt_index_check; " +
                $"GRANT EXECUTE ON FUNCTION {row.Value.Schema}.bt_index_check(regclass, boolean), {row.Value.Schema}.verify_heapam TO the user (or run as a superuser)."),
            _ => new AmcheckState(row.Value.Schema, null),
        };
    }

    /// <summary>Every table in scope, named or not: amcheck has no database-wide form.</summary>
    public IEnumerable<IntegrityProbe> Plan(IntegrityLevel level, IReadOnlyList<TableSchema> tables, bool wholeDatabase)
    {
        if (level != IntegrityLevel.Full || amcheck is null)
        {
            yield break;
        }
        if (amcheck.Schema is null)
        {
            yield return new NoticeProbe(amcheck.Problem!);
            yield break;
        }
        foreach (var table in tables)
        {
            yield return new AmcheckProbe(sql, table, amcheck.Schema);
        }
    }

    /// <summary>A database-wide Warning saying that a check could not be done, and how to enable it.</summary>
    private sealed class NoticeProbe(string message) : IntegrityProbe(IntegrityCheck.StorageIntegrity, null, [], "amcheck availability")
    {
        public override Task<IReadOnlyList<IntegrityFinding>> RunAsync(ProbeContext context, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<IntegrityFinding>>(
                [new IntegrityFinding(context.Connection, Check, IntegritySeverity.Warning, null, [], 0, [], [], null, message)]);
    }

    /// <summary>
    /// amcheck on one table: one statement checks every valid B-tree index of the table (bt_index_check with
    /// heapallindexed: ACCESS SHARE locks only, unlike bt_index_parent_check's SHARE lock that would block writers),
    /// and one lists heap corruption (verify_heapam). Corruption found in an index raises an error (XX001/XX002).
    /// </summary>
    private sealed class AmcheckProbe(IntegritySql sql, TableSchema table, string schema)
        : IntegrityProbe(IntegrityCheck.StorageIntegrity, table.Table, [], $"amcheck of {table.Table} and its B-tree indexes")
    {
        private readonly string _indexes = $"""
            SELECT c.relname::text, {sql.Quote(schema)}.bt_index_check(i.indexrelid, true)
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
            JOIN pg_catalog.pg_am am ON am.oid = c.relam
            WHERE i.indrelid = @table::regclass AND am.amname = 'btree' AND i.indisvalid AND i.indisready
            """;

        private readonly string _heap = $"""
            SELECT count(*) OVER () AS total, blkno, offnum, msg
            FROM {sql.Quote(schema)}.verify_heapam(@table::regclass)
            ORDER BY blkno, offnum
            LIMIT {IntegritySql.SampleSize}
            """;

        private readonly string _name = sql.Table(table.Table);

        private string HeapListing =>
            $"SELECT blkno, offnum, attnum, msg FROM {sql.Quote(schema)}.verify_heapam('{_name.Replace("'", "''")}'::regclass) ORDER BY blkno, offnum";

        public override async Task<IReadOnlyList<IntegrityFinding>> RunAsync(ProbeContext context, CancellationToken cancellationToken)
        {
            var findings = new List<IntegrityFinding>();
            try
            {
                await context.Db.ExecuteAsync(new CommandDefinition(_indexes, new { table = _name }, context.Transaction, 0, cancellationToken: cancellationToken));
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.IndexCorrupted or PostgresErrorCodes.DataCorrupted)
            {
                // IsolateAsync rolls back to its savepoint only on errors that leave the read; this one is a result.
                await context.Db.ExecuteAsync(new CommandDefinition($"ROLLBACK TO SAVEPOINT {PostgresInspection.Savepoint}", transaction: context.Transaction,
                    cancellationToken: cancellationToken));
                findings.Add(new IntegrityFinding(context.Connection, Check, IntegritySeverity.Error, Table, [], 1, [e.MessageText], [], _indexes.Replace("@table", $"'{_name.Replace("'", "''")}'"),
                    $"amcheck found a corrupt index on {Table}: {e.MessageText} Rebuild it (REINDEX INDEX CONCURRENTLY) and check the storage."));
            }
            var rows = (await context.Db.QueryAsync<(long Total, long Block, int Offset, string Message)>(
                new CommandDefinition(_heap, new { table = _name }, context.Transaction, 0, cancellationToken: cancellationToken))).ToList();
            if (rows.Count > 0)
            {
                findings.Add(new IntegrityFinding(context.Connection, Check, IntegritySeverity.Error, Table, [], rows[0].Total,
                    rows.Select(r => $"({r.Block},{r.Offset}) {r.Message}").ToList(), ["ctid"], HeapListing,
                    $"verify_heapam found {rows[0].Total} corrupt tuple(s) in {Table}. Restore the table from a verified backup."));
            }
            return findings;
        }
    }
}
