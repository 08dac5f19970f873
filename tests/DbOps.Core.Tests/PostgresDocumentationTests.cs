using DbOps.Core.Connections;
using DbOps.Core.Documentation;
using Npgsql;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class PostgresDocumentationTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>Ordinary tables (partitions included) outside the system schemas, as pg_class lists them.</summary>
    private const string TablesSql = """
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
        ORDER BY 1, 2
        """;

    private const string ColumnsSql = """
        SELECT column_name::text FROM information_schema.columns WHERE table_schema = @s AND table_name = @t ORDER BY ordinal_position
        """;

    /// <summary>Foreign keys between two ordinary tables, with the referencing columns in key order.</summary>
    private const string ForeignKeysSql = """
        SELECT cn.nspname || '.' || cc.relname, pn.nspname || '.' || pc.relname,
               ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord)
        FROM pg_constraint con
        JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
        JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
        WHERE con.contype = 'f' AND cc.relkind = 'r' AND pc.relkind = 'r'
        """;

    private (List<CatalogTable> Tables, List<CatalogForeignKey> ForeignKeys) Catalog(string database)
    {
        using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
        connection.Open();
        var names = new List<(string Schema, string Name)>();
        using (var command = new NpgsqlCommand(TablesSql, connection))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                names.Add((reader.GetString(0), reader.GetString(1)));
            }
        }
        var tables = new List<CatalogTable>();
        foreach (var (schema, name) in names)
        {
            using var command = new NpgsqlCommand(ColumnsSql, connection);
            command.Parameters.AddWithValue("s", schema);
            command.Parameters.AddWithValue("t", name);
            using var reader = command.ExecuteReader();
            var columns = new List<string>();
            while (reader.Read())
            {
                columns.Add(reader.GetString(0));
            }
            tables.Add(new CatalogTable($"{schema}.{name}", columns));
        }
        var keys = new List<CatalogForeignKey>();
        using (var command = new NpgsqlCommand(ForeignKeysSql, connection))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                keys.Add(new CatalogForeignKey(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<string[]>(2)));
            }
        }
        return (tables, keys);
    }

    private Task<DbOpsConnection> ConnectAsync(string database) =>
        DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);

    [Fact]
    public async Task Chinook_documentation_holds_every_table_column_and_foreign_key_checked_against_the_catalog()
    {
        var database = cluster.CreateChinook();

        var result = await DocumentationChecks.ExportAsync(await ConnectAsync(database), _folder);

        var (tables, keys) = Catalog(database);
        Assert.Equal(11, tables.Count);
        Assert.Equal(11, keys.Count);
        DocumentationChecks.AssertDocumentsCatalog(result, tables, keys);
        var markdown = await File.ReadAllTextAsync(result.MarkdownPath);
        Assert.Contains("Rows: **3,503** (exact count)", DocumentationChecks.Section(markdown, "public.track"));
        Assert.Contains("| `character varying(200)` |", DocumentationChecks.Section(markdown, "public.track"));
    }

    [Fact]
    public async Task Pagila_documentation_holds_every_table_partition_column_and_foreign_key()
    {
        var database = cluster.CreatePagila();

        var result = await DocumentationChecks.ExportAsync(await ConnectAsync(database), _folder);

        var (tables, keys) = Catalog(database);
        Assert.Contains(tables, t => t.Name == "public.payment_p2022_01");
        Assert.True(keys.Count >= 20, $"only {keys.Count} foreign keys");
        DocumentationChecks.AssertDocumentsCatalog(result, tables, keys);
        var film = DocumentationChecks.Section(await File.ReadAllTextAsync(result.MarkdownPath), "public.film");
        Assert.Contains("`mpaa_rating`", film);
        Assert.Contains("| `fulltext` | `tsvector` |", film);
    }

    [Fact]
    public async Task Goals_tracker_shows_the_inferred_relationship_dashed_and_the_NOT_VALID_foreign_key_as_unvalidated()
    {
        var database = cluster.CreateGoalsTracker();

        var result = await DocumentationChecks.ExportAsync(await ConnectAsync(database), _folder);

        var (tables, keys) = Catalog(database);
        var diagram = DocumentationChecks.AssertDocumentsCatalog(result, tables, keys);
        var inferred = Assert.Single(diagram.Relationships, r => !r.Identifying);
        Assert.Equal(("goals", "sessions", "goal_id (inferred)"), (inferred.Left, inferred.Right, inferred.Role));
        var edge = Assert.Single(GraphvizCli.Edges(result.DotPath), e => e.Style == "dashed");
        Assert.Equal(("public.sessions", "public.goals"), (edge.Tail, edge.Head));
        var instances = DocumentationChecks.Section(await File.ReadAllTextAsync(result.MarkdownPath), "public.activity_instances");
        Assert.Contains("| **no** (NOT VALID) | yes |", instances);
    }

    [Fact]
    public async Task A_table_the_user_may_not_read_is_documented_from_the_catalog_with_a_warning()
    {
        var database = cluster.CreateGoalsTracker();
        var role = "reader_" + Guid.NewGuid().ToString("N")[..8];
        cluster.Execute(database, $"CREATE ROLE {role} LOGIN PASSWORD 'reader-pw'; GRANT USAGE ON SCHEMA public TO {role}; " +
                                  $"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}; REVOKE SELECT ON sessions FROM {role};");
        var connectionString = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database)) { Username = role, Password = "reader-pw" }.ConnectionString;
        var observer = new RecordingObserver();

        var result = await DocumentationChecks.ExportAsync(
            await DatabaseConnector.ConnectPostgresAsync(connectionString, null, null, CancellationToken.None), _folder, observer: observer);

        Assert.Equal(6, result.TableCount);
        Assert.Contains(observer.Warnings, w => w.Contains("public.sessions", StringComparison.Ordinal) && w.Contains("permission denied", StringComparison.Ordinal));
        var markdown = await File.ReadAllTextAsync(result.MarkdownPath);
        Assert.Contains("Rows: **unknown**: the table could not be read", DocumentationChecks.Section(markdown, "public.sessions"));
        Assert.Contains("Rows: **200** (exact count)", DocumentationChecks.Section(markdown, "public.goals"));
        // Read after the failed one: the snapshot transaction survived the error.
        Assert.Contains("Rows: **0** (exact count)", DocumentationChecks.Section(markdown, "public.tmp_migration_2019"));
    }

    [Fact]
    public async Task Hostile_names_and_comments_give_valid_diagrams_and_analysed_tables_are_profiled_from_pg_stats()
    {
        var database = cluster.CreateDatabase("hostile");
        cluster.Execute(database, """"
            CREATE SCHEMA "odd schema";
            CREATE TABLE "odd schema"."my ""table""" (id int PRIMARY KEY, "class" text, "PK" int, "direction LR" text,
                                                     doc json, spot point, "pipe|col" text);
            CREATE TABLE public."end" (id int PRIMARY KEY, "my table_id" int REFERENCES "odd schema"."my ""table"""(id),
                                       amount numeric(10,2) CHECK (amount > 0), "to" timestamp with time zone)
                                       WITH (autovacuum_enabled = false); -- stays unanalysed: autoanalyze must not race the profile
            ALTER TABLE public."end" ADD CONSTRAINT end_amount_small CHECK (amount < 1000) NOT VALID;
            COMMENT ON TABLE "odd schema"."my ""table""" IS 'Has "quotes", a %%{init: {''theme'':''dark''}}%% directive,
            a direction LR statement, `backticks`, a | pipe and <b>html</b>';
            COMMENT ON COLUMN public."end".amount IS 'direction TB ~tilde~ 50% "quoted"';
            INSERT INTO "odd schema"."my ""table""" SELECT i, 'c' || (i % 7), i, NULL, '{"a": 1}', point(i, i), NULL FROM generate_series(1, 500) i;
            INSERT INTO public."end" SELECT i, i, i % 900 + 1, now() FROM generate_series(1, 300) i;
            ANALYZE "odd schema"."my ""table""";
            """");

        var result = await DocumentationChecks.ExportAsync(await ConnectAsync(database), _folder);

        var mermaid = MermaidErValidator.Parse(await File.ReadAllTextAsync(result.MermaidPath));
        Assert.Equal(["odd schema.my \"table\"", "public.end"], mermaid.Entities.Values.Select(e => e.Alias).Order(StringComparer.Ordinal).Cast<string>()
            .Select(a => a.Replace('\'', '"')));
        Assert.Single(mermaid.Relationships, r => r.Identifying);
        var (exit, _, error) = GraphvizCli.Run(result.DotPath, "svg");
        Assert.True(exit == 0, error);
        Assert.Contains(GraphvizCli.Edges(result.DotPath), e => e.Tail == "public.end" && e.Head == "odd schema.my \"table\"");
        var dot = await File.ReadAllTextAsync(result.DotPath);
        Assert.Contains("subgraph cluster_1 {", dot); // two schemas, each boxed
        Assert.Contains("label=<odd schema>", dot);

        var markdown = await File.ReadAllTextAsync(result.MarkdownPath);
        var odd = DocumentationChecks.Section(markdown, "odd schema.my \"table\"");
        Assert.Contains("pg_stats", odd);
        Assert.Contains("| `direction LR` | `text` | yes |  |  | 100% | 0 |", odd);
        Assert.Contains("| `doc` | `json` | yes |  |  | 0% |  |", odd); // ANALYZE cannot count distinct json values: unknown, not 0
        Assert.Contains("| `class` | `text` | yes |  |  | 0% | 7 |", odd);
        var end = DocumentationChecks.Section(markdown, "public.end");
        Assert.Contains("one aggregate query", end);
        Assert.Contains("| `end_amount_small` | check | `amount < 1000::numeric` | **no** (NOT VALID) | yes |", end);
        Assert.Contains("| `to` | `timestamp with time zone` |", end);
    }
}
