using System.Data.Common;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// PostgreSQL's half of <see cref="IColumnDialect"/>: pg_depend names what needs the column (ALTER TABLE DROP COLUMN
/// without CASCADE would silently take indexes and constraints along, and refuse only views and the like).
/// </summary>
internal sealed class PostgresColumns : IColumnDialect
{
    public static readonly PostgresColumns Instance = new();

    /// <summary>
    /// Objects recorded as depending on the column. The column's own default and an owned sequence (serial) belong to
    /// the column; everything else is a dependent. A generated column depends on the columns of its expression.
    /// </summary>
    private const string DependentsSql = """
        WITH col AS (
            SELECT a.attrelid, a.attnum FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = to_regclass(@table) AND a.attname = @column AND NOT a.attisdropped)
        SELECT DISTINCT x."Kind", x."Schema", x."Name", x."On", x."Description" FROM col
          JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = col.attrelid AND d.refobjsubid = col.attnum
          CROSS JOIN LATERAL (
            SELECT CASE WHEN c.relkind = 'm' THEN 'materialized view' ELSE 'view' END, n.nspname, c.relname, NULL::text, format('view %I.%I', n.nspname, c.relname)
              FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND r.oid = d.objid AND c.oid <> col.attrelid
            UNION ALL
            SELECT 'index', n.nspname, c.relname, NULL, format('index %I.%I', n.nspname, c.relname)
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0 AND c.oid = d.objid AND c.relkind IN ('i', 'I')
            UNION ALL
            SELECT 'generated column', NULL, a.attname, NULL, format('generated column %I of %s', a.attname, col.attrelid::regclass)
              FROM pg_catalog.pg_attribute a
             WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid <> 0 AND a.attrelid = d.objid AND a.attnum = d.objsubid
            UNION ALL
            SELECT 'generated column', NULL, a.attname, NULL, format('generated column %I of %s', a.attname, ad.adrelid::regclass)
              FROM pg_catalog.pg_attrdef ad JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
             WHERE d.classid = 'pg_catalog.pg_attrdef'::regclass AND ad.oid = d.objid AND ad.adnum <> col.attnum
            UNION ALL
            SELECT 'constraint', NULL, k.conname, k.conrelid::regclass::text, format('constraint %I on %s', k.conname, k.conrelid::regclass)
              FROM pg_catalog.pg_constraint k
             WHERE d.classid = 'pg_catalog.pg_constraint'::regclass AND k.oid = d.objid AND k.conrelid <> 0
            UNION ALL
            SELECT 'trigger', NULL, g.tgname, g.tgrelid::regclass::text, format('trigger %I on %s', g.tgname, g.tgrelid::regclass)
              FROM pg_catalog.pg_trigger g
             WHERE d.classid = 'pg_catalog.pg_trigger'::regclass AND g.oid = d.objid
            UNION ALL
            SELECT 'policy', NULL, p.polname, p.polrelid::regclass::text, format('policy %I on %s', p.polname, p.polrelid::regclass)
              FROM pg_catalog.pg_policy p
             WHERE d.classid = 'pg_catalog.pg_policy'::regclass AND p.oid = d.objid
            UNION ALL
            SELECT 'statistics', n.nspname, s.stxname, NULL, format('statistics %I.%I', n.nspname, s.stxname)
              FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
             WHERE d.classid = 'pg_catalog.pg_statistic_ext'::regclass AND s.oid = d.objid
          ) AS x("Kind", "Schema", "Name", "On", "Description")
         ORDER BY 1, 3
        """;

    /// <summary>When the table's statistics were gathered (never: null), the server's clock, and the row estimate (-1 before any ANALYZE).</summary>
    private const string TableStatisticsSql = """
        SELECT greatest(u.last_analyze, u.last_autoanalyze) AS "AnalyzedAt", now() AS "Now", c.reltuples::float8 AS "Rows"
          FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_stat_user_tables u ON u.relid = c.oid
         WHERE c.oid = to_regclass(@table)
        """;

    private const string ColumnStatisticsSql = """
        SELECT attname AS "Column", null_frac::float8 AS "NullFraction", n_distinct::float8 AS "Distinct", most_common_vals::text AS "CommonValues"
          FROM pg_catalog.pg_stats WHERE schemaname = @schema AND tablename = @name AND NOT inherited
        """;

    /// <summary>Where pg_stat_statements is installed in this database.</summary>
    private const string StatementsExtensionSql = """
        SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements'
        """;

    private static string Quote(string identifier) => PostgresEngine.Instance.QuoteIdentifier(identifier);

    public async Task<IReadOnlyList<ColumnDependent>> DependentsAsync(DbConnection connection, TableSchema table, string column, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<DependentRow>(new CommandDefinition(DependentsSql,
            new { table = table.Table.ToQuotedName(), column }, cancellationToken: cancellationToken));
        return rows.Select(r => new ColumnDependent(r.Kind, r.Name, r.Description, DropSql(r))).ToList();
    }

    /// <summary>What drops a dependent alone; a generated column is a column, dropped (and archived) on its own first.</summary>
    private static string? DropSql(DependentRow r) => r.Kind switch
    {
        "index" or "view" or "materialized view" or "statistics" => $"DROP {r.Kind.ToUpperInvariant()} {Quote(r.Schema!)}.{Quote(r.Name)}",
        // regclass text is already quoted as needed
        "constraint" => $"ALTER TABLE {r.On} DROP CONSTRAINT {Quote(r.Name)}",
        "trigger" or "policy" => $"DROP {r.Kind.ToUpperInvariant()} {Quote(r.Name)} ON {r.On}",
        _ => null,
    };

    public Task<ColumnDrop> PlanDropAsync(DbConnection connection, TableSchema table, string column, IReadOnlyList<ColumnDependent> dependents,
        TimeSpan lockTimeout, CancellationToken cancellationToken) =>
        Task.FromResult(new ColumnDrop(PostgresRemoval.Instance.LockStatements(table.Table, lockTimeout),
            [.. dependents.Select(d => d.DropSql!), $"ALTER TABLE {table.Table.ToQuotedName()} DROP COLUMN {Quote(column)}"], [], null));

    public string AddColumnSql(TableRef table, ArchiveColumn column) => $"ALTER TABLE {table.ToQuotedName()} ADD COLUMN {Quote(column.Name)} {column.Type}";

    public string? SetNotNullSql(TableRef table, string column) => $"ALTER TABLE {table.ToQuotedName()} ALTER COLUMN {Quote(column)} SET NOT NULL";

    public string CreateTableSql(TableRef table, IReadOnlyList<ArchiveColumn> columns) => $"CREATE TABLE {table.ToQuotedName()} ({ColumnList(columns)})";

    public TableRef StagingTable(string name) => new("pg_temp", name);

    public string CreateStagingTableSql(TableRef staging, IReadOnlyList<ArchiveColumn> columns) =>
        $"CREATE TEMP TABLE {Quote(staging.Name)} ({ColumnList(columns)}) ON COMMIT DROP";

    public string FillByKeySql(TableRef table, TableRef staging, IReadOnlyList<string> key, string column) =>
        $"UPDATE {table.ToQuotedName()} AS t SET {Quote(column)} = s.{Quote(column)} FROM {staging.ToQuotedName()} AS s " +
        $"WHERE {string.Join(" AND ", key.Select(k => $"t.{Quote(k)} = s.{Quote(k)}"))}";

    private static string ColumnList(IReadOnlyList<ArchiveColumn> columns) =>
        string.Join(", ", columns.Select(c => $"{Quote(c.Name)} {c.Type}{(c.Nullable ? "" : " NOT NULL")}"));

    /// <summary>Every type has a text form; compared byte by byte (COLLATE "C"), equal text is the same value as stored.</summary>
    public string ValueSummarySql(TableRef table, IReadOnlyList<string> columns) =>
        "SELECT count(*)" + string.Concat(columns.Select(c => $"({Quote(c)})::text COLLATE \"C\"").Select(v =>
            $", count({v}), min({v}) IS NOT DISTINCT FROM max({v}), min({v})")) + $" FROM {table.ToQuotedName()}";

    public async Task<TableColumnStatistics?> StatisticsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken)
    {
        var (analyzedAt, now, rows) = await connection.QuerySingleAsync<(DateTime?, DateTime, double)>(new CommandDefinition(TableStatisticsSql,
            new { table = table.ToQuotedName() }, cancellationToken: cancellationToken));
        var columns = await connection.QueryAsync<ColumnStatistic>(new CommandDefinition(ColumnStatisticsSql,
            new { schema = table.Schema, name = table.Name }, cancellationToken: cancellationToken));
        DateTimeOffset? at = analyzedAt is { } a ? new DateTimeOffset(DateTime.SpecifyKind(a, DateTimeKind.Utc)) : null;
        return new TableColumnStatistics(at, analyzedAt is { } when ? now - when : null, (long)Math.Max(0, rows), columns.ToList());
    }

    /// <summary>Only this database's statements; texts of other roles read "&lt;insufficient privilege&gt;" without pg_read_all_stats.</summary>
    public async Task<RecordedStatements> RecordedStatementsAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var schema = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(StatementsExtensionSql, cancellationToken: cancellationToken));
        if (schema is null)
        {
            return new RecordedStatements([], "pg_stat_statements is not installed in this database, so query texts could not be searched");
        }
        try
        {
            var texts = (await connection.QueryAsync<string>(new CommandDefinition(
                $"SELECT coalesce(query, '') FROM {Quote(schema)}.pg_stat_statements WHERE dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())",
                cancellationToken: cancellationToken))).ToList();
            var hidden = texts.Count(t => t == "<insufficient privilege>");
            return new RecordedStatements(texts, hidden > 0 ? $"{hidden} recorded statements of other roles are hidden (pg_read_all_stats can read them)" : null);
        }
        catch (Npgsql.PostgresException e)
        {
            return new RecordedStatements([], $"pg_stat_statements could not be read ({e.MessageText}), so query texts could not be searched");
        }
    }

    private sealed class DependentRow
    {
        public string Kind { get; set; } = "";
        public string? Schema { get; set; }
        public string Name { get; set; } = "";
        public string? On { get; set; }
        public string Description { get; set; } = "";
    }
}
