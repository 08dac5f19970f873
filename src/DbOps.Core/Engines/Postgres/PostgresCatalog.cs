using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// Reads a PostgreSQL catalog with one query per kind of object, for all user tables at once, so the
/// cost does not grow with round trips per table.
/// </summary>
internal static class PostgresCatalog
{
    /// <summary>
    /// User tables: ordinary tables (partitions included, partitioned parents excluded: they hold no rows
    /// themselves) in user schemas, leaving out tables that belong to an extension, whose data pg_dump does
    /// not dump. Every catalog query joins it, and <see cref="PostgresEngine"/> lists tables with it.
    /// </summary>
    internal const string UserTables = """
        WITH user_tables AS (
            SELECT c.oid, n.nspname::text AS schema_name, c.relname::text AS table_name
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r'
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                              WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'))
        """;

    private const string TablesSql = UserTables + """
        SELECT t.schema_name AS "Schema", t.table_name AS "Name", obj_description(t.oid, 'pg_class') AS "Comment"
        FROM user_tables t
        ORDER BY 1, 2
        """;

    /// <summary>Columns; a generated column's expression is its default in pg_attrdef, reported here as the default.</summary>
    private const string ColumnsSql = UserTables + """
        SELECT t.schema_name AS "Schema", t.table_name AS "Table", a.attname::text AS "Name", a.attnum::int AS "Ordinal",
               pg_catalog.format_type(a.atttypid, a.atttypmod) AS "DataType", NOT a.attnotnull AS "IsNullable",
               pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS "Default", a.attgenerated <> '' AS "IsGenerated",
               CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END AS "Identity",
               pg_catalog.col_description(t.oid, a.attnum) AS "Comment"
        FROM user_tables t
        JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        ORDER BY 1, 2, 4
        """;

    /// <summary>
    /// Primary key, unique, foreign key and check constraints. Key columns come back in key order;
    /// a foreign key counts as enforced unless one of its triggers is disabled.
    /// </summary>
    private const string ConstraintsSql = UserTables + """
        SELECT t.schema_name AS "Schema", t.table_name AS "Table", con.conname::text AS "Name", con.contype::text AS "Kind",
               con.convalidated AS "IsValidated",
               ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS "Columns",
               fn.nspname::text AS "ReferencedSchema", fc.relname::text AS "ReferencedTable",
               ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS "ReferencedColumns",
               con.confdeltype::text AS "OnDelete", con.confupdtype::text AS "OnUpdate",
               NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg WHERE tg.tgconstraint = con.oid AND tg.tgenabled = 'D') AS "IsEnforced",
               CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_expr(con.conbin, con.conrelid, true) END AS "Expression"
        FROM user_tables t
        JOIN pg_catalog.pg_constraint con ON con.conrelid = t.oid AND con.contype IN ('p', 'u', 'f', 'c')
              -- A foreign key to a partitioned table has a clone per partition on the same child: keep the original.
              AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint parent
                              WHERE parent.oid = con.conparentid AND parent.conrelid = con.conrelid)
        LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
        LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
        ORDER BY 1, 2, 3
        """;

    /// <summary>Indexes with their key columns (not INCLUDE columns); an expression key is printed by the server.</summary>
    private const string IndexesSql = UserTables + """
        SELECT t.schema_name AS "Schema", t.table_name AS "Table", i.relname::text AS "Name",
               x.indisunique AS "IsUnique", x.indisprimary AS "IsPrimaryKey", x.indisvalid AS "IsValid",
               x.indpred IS NOT NULL AS "IsPartial", con.conname::text AS "ConstraintName",
               pg_catalog.pg_get_indexdef(x.indexrelid) AS "Definition",
               ARRAY(SELECT CASE WHEN x.indkey[k - 1] <> 0
                                 THEN (SELECT a.attname::text FROM pg_catalog.pg_attribute a
                                       WHERE a.attrelid = x.indrelid AND a.attnum = x.indkey[k - 1])
                                 ELSE pg_catalog.pg_get_indexdef(x.indexrelid, k, true) END
                     FROM generate_series(1, x.indnkeyatts) k ORDER BY k) AS "Columns"
        FROM user_tables t
        JOIN pg_catalog.pg_index x ON x.indrelid = t.oid
        JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
        LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u', 'x')
        ORDER BY 1, 2, 3
        """;

    public static async Task<DatabaseSchema> ReadAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var tables = await QueryAsync<TableRow>(connection, TablesSql, cancellationToken);
        var columns = (await QueryAsync<ColumnRow>(connection, ColumnsSql, cancellationToken)).ToLookup(c => (c.Schema, c.Table));
        var constraints = (await QueryAsync<ConstraintRow>(connection, ConstraintsSql, cancellationToken)).ToLookup(c => (c.Schema, c.Table));
        var indexes = (await QueryAsync<IndexRow>(connection, IndexesSql, cancellationToken)).ToLookup(i => (i.Schema, i.Table));
        var searchPath = await connection.ExecuteScalarAsync<string[]>(new CommandDefinition(
            "SELECT current_schemas(false)::text[]", cancellationToken: cancellationToken)) ?? [];

        var result = new List<TableSchema>(tables.Count);
        foreach (var table in tables)
        {
            var key = (table.Schema, table.Name);
            var self = new TableRef(table.Schema, table.Name);
            var cons = constraints[key].ToList();
            result.Add(new TableSchema(
                self,
                columns[key].Select(c => new ColumnInfo(c.Name, c.Ordinal, c.DataType, c.IsNullable, c.Default, c.IsGenerated, c.Identity, c.Comment)).ToList(),
                cons.Where(c => c.Kind == "p").Select(c => new KeyInfo(c.Name, c.Columns)).FirstOrDefault(),
                cons.Where(c => c.Kind == "u").Select(c => new KeyInfo(c.Name, c.Columns)).ToList(),
                cons.Where(c => c.Kind == "f").Select(c => new ForeignKeyInfo(
                    c.Name, self, c.Columns, new TableRef(c.ReferencedSchema!, c.ReferencedTable!), c.ReferencedColumns,
                    c.IsValidated, c.IsEnforced, Action(c.OnDelete), Action(c.OnUpdate))).ToList(),
                cons.Where(c => c.Kind == "c").Select(c => new CheckInfo(c.Name, c.Expression ?? "", c.IsValidated)).ToList(),
                indexes[key].Select(i => new IndexInfo(
                    i.Name, self, i.Columns, i.IsUnique, i.IsPrimaryKey, i.IsValid, i.IsPartial, i.ConstraintName, i.Definition)).ToList(),
                table.Comment,
                createSql: null));
        }
        return new DatabaseSchema(DatabaseProvider.PostgreSQL, result, searchPath);
    }

    /// <summary>pg_constraint's one-letter referential actions, spelled as in SQL.</summary>
    private static string Action(string? code) => code switch
    {
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        "r" => "RESTRICT",
        _ => "NO ACTION",
    };

    private static async Task<List<T>> QueryAsync<T>(DbConnection connection, string sql, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return (await connection.QueryAsync<T>(new CommandDefinition(sql, cancellationToken: cancellationToken))).ToList();
            }
            catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.InternalError && attempt < 3 && e.MessageText.StartsWith("could not open relation", StringComparison.Ordinal))
            {
                // A table dropped by another session while the catalog was read (outside a transaction): read again, without it.
            }
        }
    }

    // Row shapes for Dapper; names match the quoted column aliases above.
    private sealed class TableRow
    {
        public string Schema { get; set; } = "";
        public string Name { get; set; } = "";
        public string? Comment { get; set; }
    }

    private sealed class ColumnRow
    {
        public string Schema { get; set; } = "";
        public string Table { get; set; } = "";
        public string Name { get; set; } = "";
        public int Ordinal { get; set; }
        public string DataType { get; set; } = "";
        public bool IsNullable { get; set; }
        public string? Default { get; set; }
        public bool IsGenerated { get; set; }
        public string? Identity { get; set; }
        public string? Comment { get; set; }
    }

    private sealed class ConstraintRow
    {
        public string Schema { get; set; } = "";
        public string Table { get; set; } = "";
        public string Name { get; set; } = "";
        public string Kind { get; set; } = "";
        public bool IsValidated { get; set; }
        public string[] Columns { get; set; } = [];
        public string? ReferencedSchema { get; set; }
        public string? ReferencedTable { get; set; }
        public string[] ReferencedColumns { get; set; } = [];
        public string? OnDelete { get; set; }
        public string? OnUpdate { get; set; }
        public bool IsEnforced { get; set; }
        public string? Expression { get; set; }
    }

    private sealed class IndexRow
    {
        public string Schema { get; set; } = "";
        public string Table { get; set; } = "";
        public string Name { get; set; } = "";
        public bool IsUnique { get; set; }
        public bool IsPrimaryKey { get; set; }
        public bool IsValid { get; set; }
        public bool IsPartial { get; set; }
        public string? ConstraintName { get; set; }
        public string Definition { get; set; } = "";
        public string[] Columns { get; set; } = [];
    }
}
