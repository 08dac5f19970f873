using System.Data.Common;
using Dapper;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's half of Remove-DeprecatedTable: LOCK TABLE under a lock_timeout, and pg_depend for what needs the table.</summary>
internal sealed class PostgresRemoval : IRemovalDialect
{
    public static readonly PostgresRemoval Instance = new();

    public bool CanDropForeignKeys => true;

    public IReadOnlyList<string> LockStatements(TableRef table, TimeSpan lockTimeout) =>
    [
        "BEGIN",
        $"SET LOCAL lock_timeout = '{Math.Max(1, (long)lockTimeout.TotalMilliseconds)}ms'",
        $"LOCK TABLE {table.ToQuotedName()} IN ACCESS EXCLUSIVE MODE",
    ];

    public string DropForeignKeySql(ForeignKeyInfo foreignKey) =>
        $"ALTER TABLE {foreignKey.Table.ToQuotedName()} DROP CONSTRAINT {TableRef.QuoteIdentifier(foreignKey.Name)}";

    public async Task<IReadOnlyList<string>> DependentsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        [.. await ObjectsAsync(connection, table, cancellationToken), .. await LargeObjectsAsync(connection, table, cancellationToken)];

    /// <summary>Views, materialized views, functions (and so triggers), policies and column defaults elsewhere that need the table.</summary>
    private static async Task<List<string>> ObjectsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken)
    {
        const string sql = """
            WITH t AS (SELECT to_regclass(@name)::oid AS oid)
            SELECT CASE v.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || format('%I.%I', vn.nspname, v.relname)
              FROM t, pg_catalog.pg_depend d
              JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
              JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
              JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
             WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
               AND d.refobjid = t.oid AND v.oid <> t.oid
            UNION
            SELECT 'row-level security policy ' || quote_ident(p.polname) || ' on ' || (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_catalog.pg_class pc JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace WHERE pc.oid = p.polrelid)
              FROM t, pg_catalog.pg_depend d
              JOIN pg_catalog.pg_policy p ON p.oid = d.objid
             WHERE d.classid = 'pg_catalog.pg_policy'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
               AND d.refobjid = t.oid AND p.polrelid <> t.oid
            UNION
            SELECT CASE WHEN p.prorettype = 'pg_catalog.trigger'::regtype THEN 'trigger function ' ELSE 'function ' END || format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
              FROM t, pg_catalog.pg_proc p
              JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              JOIN pg_catalog.pg_language l ON l.oid = p.prolang
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
               AND l.lanname NOT IN ('c', 'internal')
               AND (p.prosrc ~* @pattern
                    OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                  AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = t.oid))
               -- a trigger function used only by the table's own triggers goes with them
               AND NOT (EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgfoid = p.oid AND g.tgrelid = t.oid)
                        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgfoid = p.oid AND g.tgrelid <> t.oid))
            UNION
            SELECT 'default of ' || format('%I.%I', cn.nspname, c.relname) || '.' || quote_ident(a.attname) || ' (uses sequence ' || format('%I.%I', sn.nspname, s.relname) || ')'
              FROM t, pg_catalog.pg_depend owned
              JOIN pg_catalog.pg_class s ON s.oid = owned.objid AND s.relkind = 'S'
              JOIN pg_catalog.pg_depend used ON used.refobjid = s.oid AND used.refclassid = 'pg_catalog.pg_class'::regclass
                                            AND used.classid = 'pg_catalog.pg_attrdef'::regclass
              JOIN pg_catalog.pg_attrdef ad ON ad.oid = used.objid
              JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid
              JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
              JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
              JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
             WHERE owned.classid = 'pg_catalog.pg_class'::regclass AND owned.refclassid = 'pg_catalog.pg_class'::regclass
               AND owned.refobjid = t.oid AND owned.deptype IN ('a', 'i') AND ad.adrelid <> t.oid
            UNION
            SELECT 'publication ' || quote_ident(pub.pubname)
              FROM t, pg_catalog.pg_publication_rel pr
              JOIN pg_catalog.pg_publication pub ON pub.oid = pr.prpubid
             WHERE pr.prrelid = t.oid
            UNION
            SELECT CASE WHEN c.relispartition THEN 'partition ' ELSE 'inheriting table ' END || format('%I.%I', cn.nspname, c.relname)
              FROM t, pg_catalog.pg_inherits i
              JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
              JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
             WHERE i.inhparent = t.oid
            ORDER BY 1
            """;
        // The name as a whole word, bare or quoted; names that start or end with punctuation need look-arounds, not \m \M.
        var quoted = "\"" + table.Name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var pattern = $@"(?<![\w$])(?:{EscapeRegex(table.Name)}|{EscapeRegex(quoted)})(?![\w$])";
        var rows = await connection.QueryAsync<string>(new CommandDefinition(sql,
            new { name = table.ToQuotedName(), pattern }, cancellationToken: cancellationToken));
        return rows.ToList();
    }

    /// <summary>
    /// Large objects that oid columns (or domains over oid, such as lo) point to: an archive holds only the oids, so
    /// dropping the table would leave the objects for vacuumlo to delete with nothing that restores them.
    /// </summary>
    private static async Task<List<string>> LargeObjectsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken)
    {
        var columns = await connection.QueryAsync<string>(new CommandDefinition("""
            SELECT a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
             WHERE a.attrelid = to_regclass(@name) AND a.attnum > 0 AND NOT a.attisdropped
               AND (a.atttypid = 'pg_catalog.oid'::pg_catalog.regtype OR (ty.typtype = 'd' AND ty.typbasetype = 'pg_catalog.oid'::pg_catalog.regtype))
             ORDER BY a.attnum
            """, new { name = table.ToQuotedName() }, cancellationToken: cancellationToken));
        var found = new List<string>();
        foreach (var column in columns)
        {
            var count = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                $"SELECT count(*) FROM {table.ToQuotedName()} x JOIN pg_catalog.pg_largeobject_metadata m ON m.oid = x.{TableRef.QuoteIdentifier(column)}",
                cancellationToken: cancellationToken));
            if (count > 0)
            {
                found.Add($"{count} large object(s) that column {column} points to (the archive holds only their oids; export them with lo_export first)");
            }
        }
        return found;
    }

    private static string EscapeRegex(string text) =>
        string.Concat(text.Select(c => char.IsLetterOrDigit(c) || c == '_' ? c.ToString() : "\\" + c));
}
