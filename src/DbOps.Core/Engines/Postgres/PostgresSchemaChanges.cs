using System.Data.Common;
using System.Text;
using Dapper;

namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's half of <see cref="ISchemaChangeDialect"/>.</summary>
internal sealed class PostgresSchemaChanges : ISchemaChangeDialect
{
    public static readonly PostgresSchemaChanges Instance = new();

    /// <summary>NAMEDATALEN - 1: the server truncates longer identifiers.</summary>
    private const int NameLimit = 63;

    public int? MaxNameBytes => NameLimit;

    public async Task<string?> NameHolderAsync(DbConnection connection, TableRef name, CancellationToken cancellationToken)
    {
        // Tables, views, indexes and sequences share one namespace per schema; a table's row type takes the name in pg_type.
        const string sql = """
            SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                  WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'relation' END
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = @schema AND c.relname = @name
            UNION ALL
            SELECT 'type' FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = @schema AND t.typname = @name AND t.typrelid = 0
            LIMIT 1
            """;
        return await connection.QueryFirstOrDefaultAsync<string>(new CommandDefinition(sql, new { schema = name.Schema, name = name.Name }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// The table's rename, then its owned sequences, constraints (a key's index follows its constraint), other indexes and
    /// triggers whose names start with "old_": they get "new_" instead. A name that would be too long or is taken keeps
    /// the old one, and so does any other name that holds the old table name.
    /// </summary>
    public async Task<RenameSteps> RenameStepsAsync(DbConnection connection, TableRef table, string newName, CancellationToken cancellationToken)
    {
        const string sql = """
            WITH t AS (SELECT to_regclass(@table)::oid AS oid)
            SELECT 'sequence' AS Kind, s.relname AS Name, true AS InRelationNamespace
              FROM t JOIN pg_catalog.pg_depend d ON d.refobjid = t.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
                                                 AND d.classid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
              JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
            UNION ALL
            SELECT 'constraint', c.conname, c.contype IN ('p', 'u', 'x')
              FROM t JOIN pg_catalog.pg_constraint c ON c.conrelid = t.oid
            UNION ALL
            SELECT 'index', i.relname, true
              FROM t JOIN pg_catalog.pg_index x ON x.indrelid = t.oid JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
             WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = t.oid)
            UNION ALL
            SELECT 'trigger', g.tgname, false
              FROM t JOIN pg_catalog.pg_trigger g ON g.tgrelid = t.oid AND NOT g.tgisinternal
            ORDER BY 1, 2
            """;
        const string takenSql = """
            SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = @schema
            """;
        var owned = (await connection.QueryAsync<OwnedObject>(new CommandDefinition(sql, new { table = table.ToQuotedName() }, cancellationToken: cancellationToken))).ToList();
        var relations = (await connection.QueryAsync<string>(new CommandDefinition(takenSql, new { schema = table.Schema }, cancellationToken: cancellationToken)))
            .ToHashSet(StringComparer.Ordinal);
        var perTable = owned.Where(o => !o.InRelationNamespace).Select(o => (o.Kind, o.Name)).ToHashSet();
        relations.Add(newName);

        var renamed = new TableRef(table.Schema, newName);
        var schema = TableRef.QuoteIdentifier(table.Schema);
        var statements = new List<string> { $"ALTER TABLE {table.ToQuotedName()} RENAME TO {TableRef.QuoteIdentifier(newName)}" };
        var moved = new List<string>();
        var kept = new List<string>();
        var prefix = table.Name + "_";
        foreach (var o in owned)
        {
            if (!o.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                if (o.Name.Contains(table.Name, StringComparison.Ordinal))
                {
                    kept.Add($"{o.Kind} {o.Name} (its name does not start with {prefix})");
                }
                continue;
            }
            var name = newName + "_" + o.Name[prefix.Length..];
            var taken = o.InRelationNamespace ? relations.Contains(name) : perTable.Contains((o.Kind, name));
            if (Encoding.UTF8.GetByteCount(name) > NameLimit || taken)
            {
                kept.Add($"{o.Kind} {o.Name} ({(taken ? $"{name} is taken" : $"{name} would be longer than {NameLimit} bytes")})");
                continue;
            }
            (o.InRelationNamespace ? relations : null)?.Add(name);
            perTable.Add((o.Kind, name));
            var (from, to) = (TableRef.QuoteIdentifier(o.Name), TableRef.QuoteIdentifier(name));
            statements.Add(o.Kind switch
            {
                "sequence" => $"ALTER SEQUENCE {schema}.{from} RENAME TO {to}",
                "constraint" => $"ALTER TABLE {renamed.ToQuotedName()} RENAME CONSTRAINT {from} TO {to}",
                "index" => $"ALTER INDEX {schema}.{from} RENAME TO {to}",
                _ => $"ALTER TRIGGER {from} ON {renamed.ToQuotedName()} RENAME TO {to}",
            });
            moved.Add($"{o.Kind} {o.Name} -> {name}");
        }
        return new RenameSteps(statements, moved, kept);
    }

    /// <summary>
    /// A view of every column (a simple view, so the server passes INSERT, UPDATE and DELETE through to the table and
    /// applies the table's defaults), granted to whoever held the same rights on the table, and marked by its comment so
    /// an undo can recognise it.
    /// </summary>
    public async Task<IReadOnlyList<string>> CompatibilityViewAsync(DbConnection connection, TableRef table, string newName, CancellationToken cancellationToken)
    {
        const string grantsSql = """
            SELECT a.privilege_type AS Privilege, CASE WHEN a.grantee = 0 THEN NULL ELSE r.rolname END AS Grantee
              FROM pg_catalog.pg_class c, LATERAL pg_catalog.aclexplode(c.relacl) a
              LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
             WHERE c.oid = to_regclass(@table) AND a.grantee <> c.relowner
               AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
             ORDER BY 2 NULLS FIRST, 1
            """;
        var view = table.ToQuotedName();
        var renamed = new TableRef(table.Schema, newName);
        var grants = await connection.QueryAsync<(string Privilege, string? Grantee)>(new CommandDefinition(grantsSql, new { table = view }, cancellationToken: cancellationToken));
        return
        [
            $"CREATE VIEW {view} AS SELECT * FROM {renamed.ToQuotedName()}",
            $"COMMENT ON VIEW {view} IS {Literal(Marker(renamed))}",
            .. grants.Select(g => $"GRANT {g.Privilege} ON {view} TO {(g.Grantee is null ? "PUBLIC" : TableRef.QuoteIdentifier(g.Grantee))}"),
        ];
    }

    public async Task<bool> IsCompatibilityViewAsync(DbConnection connection, TableRef view, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<bool>(new CommandDefinition("""
            SELECT coalesce((SELECT c.relkind = 'v' AND pg_catalog.obj_description(c.oid, 'pg_class') = @marker
                               FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(@view)), false)
            """, new { view = view.ToQuotedName(), marker = Marker(table) }, cancellationToken: cancellationToken));

    public string DropViewSql(TableRef view) => $"DROP VIEW {view.ToQuotedName()}";

    private static string Marker(TableRef renamed) =>
        $"DbOps compatibility view for {renamed.ToQuotedName()} (Rename-Table); drop it when nothing uses the old name.";

    private static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    private sealed record OwnedObject(string Kind, string Name, bool InRelationNamespace);

    /// <summary>
    /// Views (pg_get_viewdef, with their options), functions and procedures (pg_get_functiondef), and the triggers on other
    /// tables that call those functions (pg_get_triggerdef). The definitions are read with an empty search_path, so every
    /// name in them is schema-qualified and they mean the same wherever they run again.
    /// </summary>
    public async Task<IReadOnlyList<RetirableDependent>> RetirableDependentsAsync(DbConnection connection, TableRef table,
        IReadOnlyList<string> dependents, CancellationToken cancellationToken)
    {
        const string sql = """
            WITH t AS (SELECT to_regclass(@name)::oid AS oid),
            f AS (SELECT p.oid, n.nspname, p.proname, p.prokind,
                         CASE WHEN p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype THEN 'trigger function ' ELSE 'function ' END
                           || format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS description
                    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                   WHERE p.prokind IN ('f', 'p'))
            SELECT n.nspname AS "Schema", c.relname AS "Name", 'view ' || format('%I.%I', n.nspname, c.relname) AS "Description",
                   format('CREATE VIEW %I.%I%s AS %s', n.nspname, c.relname,
                          coalesce(' WITH (' || pg_catalog.array_to_string(c.reloptions, ', ') || ')', ''),
                          pg_catalog.rtrim(pg_catalog.pg_get_viewdef(c.oid), E'; \n')) AS "CreateSql",
                   format('DROP VIEW %I.%I', n.nspname, c.relname) AS "DropSql"
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'v' AND 'view ' || format('%I.%I', n.nspname, c.relname) = ANY(@dependents)
            UNION ALL
            SELECT f.nspname, f.proname, f.description, pg_catalog.pg_get_functiondef(f.oid),
                   format('DROP %s %I.%I(%s)', CASE f.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, f.nspname, f.proname,
                          pg_catalog.pg_get_function_identity_arguments(f.oid))
              FROM f WHERE f.description = ANY(@dependents)
            UNION ALL
            SELECT tn.nspname, g.tgname, 'trigger ' || quote_ident(g.tgname) || ' on ' || format('%I.%I', tn.nspname, tc.relname),
                   pg_catalog.pg_get_triggerdef(g.oid), format('DROP TRIGGER %I ON %I.%I', g.tgname, tn.nspname, tc.relname)
              FROM t, pg_catalog.pg_trigger g
              JOIN pg_catalog.pg_class tc ON tc.oid = g.tgrelid
              JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
             WHERE NOT g.tgisinternal AND g.tgrelid <> t.oid
               AND g.tgfoid IN (SELECT f.oid FROM f WHERE f.description = ANY(@dependents))
            ORDER BY 3
            """;
        var searchPath = await connection.ExecuteScalarAsync<string>(new CommandDefinition(
            "SELECT pg_catalog.current_setting('search_path')", cancellationToken: cancellationToken));
        await SetSearchPathAsync(connection, "", cancellationToken);
        try
        {
            var rows = await connection.QueryAsync<(string Schema, string Name, string Description, string CreateSql, string DropSql)>(new CommandDefinition(sql,
                new { name = table.ToQuotedName(), dependents = dependents.ToArray() }, cancellationToken: cancellationToken));
            return rows.Select(r => new RetirableDependent(new TableRef(r.Schema, r.Name), r.Description, r.CreateSql, r.DropSql)).ToList();
        }
        finally
        {
            await SetSearchPathAsync(connection, searchPath!, cancellationToken);
        }
    }

    /// <summary>Sets search_path for the session (a transaction that rolls back restores it by itself).</summary>
    private static Task SetSearchPathAsync(DbConnection connection, string searchPath, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("SELECT pg_catalog.set_config('search_path', @searchPath, false)",
            new { searchPath }, cancellationToken: cancellationToken));
}
