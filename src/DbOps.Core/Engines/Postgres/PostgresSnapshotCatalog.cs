using System.Data.Common;
using Dapper;
using DbOps.Core.Schema;
using DbOps.Core.Snapshots;

namespace DbOps.Core.Engines;

internal sealed class PostgresSnapshotCatalog : ISnapshotCatalog
{
    public static readonly PostgresSnapshotCatalog Instance = new();

    public string BeginReadSql => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

    /// <summary>User triggers (internal ones enforce foreign keys and come and go with them).</summary>
    private const string TriggersSql = PostgresCatalog.UserTables + """
        SELECT t.schema_name AS "Schema", t.table_name AS "Table", tg.tgname::text AS "Name",
               pg_catalog.pg_get_triggerdef(tg.oid) AS "Definition", tg.tgenabled <> 'D' AS "Enabled"
        FROM user_tables t JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = t.oid AND NOT tg.tgisinternal
        ORDER BY 1, 2, 3
        """;

    private const string RowLevelSecuritySql = PostgresCatalog.UserTables + """
        SELECT t.schema_name AS "Schema", t.table_name AS "Table", c.relrowsecurity AS "Enabled", c.relforcerowsecurity AS "Forced"
        FROM user_tables t JOIN pg_catalog.pg_class c ON c.oid = t.oid
        """;

    private const string PoliciesSql = """
        SELECT schemaname::text AS "Schema", tablename::text AS "Table", policyname::text AS "Name", cmd AS "Command",
               permissive AS "Permissive", roles::text[] AS "Roles", qual AS "Using", with_check AS "WithCheck"
        FROM pg_catalog.pg_policies ORDER BY 1, 2, 3
        """;

    private const string ViewsSql = """
        SELECT n.nspname::text AS "Schema", c.relname::text AS "Name",
               CASE c.relkind WHEN 'm' THEN 'MaterializedView' ELSE 'View' END AS "Kind",
               pg_catalog.pg_get_viewdef(c.oid, true) AS "Definition"
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1, 2
        """;

    /// <summary>Sequences and the column that owns them (serial: deptype 'a'; identity: 'i').</summary>
    private const string SequencesSql = """
        SELECT n.nspname::text AS "Schema", s.relname::text AS "Name",
               (SELECT tn.nspname || '.' || t.relname || '.' || a.attname
                FROM pg_catalog.pg_depend d
                JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
                JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
                JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
                LIMIT 1) AS "OwnedBy"
        FROM pg_catalog.pg_class s JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
        WHERE s.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = s.oid AND d.deptype = 'e')
        ORDER BY 1, 2
        """;

    public async Task<ILookup<TableRef, TriggerSnapshot>> TriggersAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<TriggerRow>(new CommandDefinition(TriggersSql, cancellationToken: cancellationToken)))
            .ToLookup(r => new TableRef(r.Schema, r.Table), r => new TriggerSnapshot(r.Name, r.Definition, r.Enabled));

    public async Task<IReadOnlyDictionary<TableRef, (bool Enabled, bool Forced)>> RowLevelSecurityAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(string Schema, string Table, bool Enabled, bool Forced)>(new CommandDefinition(RowLevelSecuritySql, cancellationToken: cancellationToken)))
            .ToDictionary(r => new TableRef(r.Schema, r.Table), r => (r.Enabled, r.Forced));

    public async Task<ILookup<TableRef, PolicySnapshot>> PoliciesAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<PolicyRow>(new CommandDefinition(PoliciesSql, cancellationToken: cancellationToken)))
            .ToLookup(r => new TableRef(r.Schema, r.Table), r => new PolicySnapshot(r.Name, r.Command, r.Permissive, r.Roles, r.Using, r.WithCheck));

    public async Task<IReadOnlyList<ViewSnapshot>> ViewsAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<ViewSnapshot>(new CommandDefinition(ViewsSql, cancellationToken: cancellationToken))).ToList();

    public async Task<IReadOnlyList<SequenceSnapshot>> SequencesAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<SequenceSnapshot>(new CommandDefinition(SequencesSql, cancellationToken: cancellationToken))).ToList();

    public async Task<long?> SizeAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT pg_catalog.pg_total_relation_size(to_regclass(@name))", new { name = table.ToQuotedName() }, cancellationToken: cancellationToken));

    /// <summary>reltuples is -1 for a table never vacuumed or analysed: no estimate then.</summary>
    public async Task<long?> EstimateRowsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT CASE WHEN reltuples < 0 THEN NULL ELSE reltuples::bigint END FROM pg_catalog.pg_class WHERE oid = to_regclass(@name)",
            new { name = table.ToQuotedName() }, cancellationToken: cancellationToken));

    private sealed class TriggerRow
    {
        public string Schema { get; set; } = "";
        public string Table { get; set; } = "";
        public string Name { get; set; } = "";
        public string Definition { get; set; } = "";
        public bool Enabled { get; set; }
    }

    private sealed class PolicyRow
    {
        public string Schema { get; set; } = "";
        public string Table { get; set; } = "";
        public string Name { get; set; } = "";
        public string Command { get; set; } = "";
        public string Permissive { get; set; } = "";
        public string[] Roles { get; set; } = [];
        public string? Using { get; set; }
        public string? WithCheck { get; set; }
    }
}
