using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;
using DbOps.Core.Progress;

namespace DbOps.Core.Tests;

/// <summary>Add-SafeIndex's index kinds on PostgreSQL: methods, expressions, INCLUDE, partial and composite indexes.</summary>
[Collection(PostgresCollection.Name)]
public sealed class IndexKindPostgresTests(PostgresCluster cluster)
{
    private const string Goals = """
        CREATE TABLE goals (id integer PRIMARY KEY, owner_id integer NOT NULL, title text NOT NULL, deleted_at timestamptz,
                            technology_stack jsonb NOT NULL DEFAULT '[]', phases jsonb, created_at timestamptz NOT NULL DEFAULT now());
        INSERT INTO goals (id, owner_id, title, technology_stack, phases, deleted_at)
        SELECT i, i % 50, 'goal ' || i, jsonb_build_array('pg', 'dotnet'), jsonb_build_object('status', CASE WHEN i % 3 = 0 THEN 'active' ELSE 'done' END),
               CASE WHEN i % 10 = 0 THEN now() END
        FROM generate_series(1, 2000) i;
        CREATE TABLE audit (n integer);
        CREATE FUNCTION noisy(t text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (1); RETURN true; END $$;
        CREATE FUNCTION liar(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN INSERT INTO audit VALUES (1); RETURN true; END $$;
        """;

    private static async Task<IndexChange> AddAsync(AddIndexRequest request)
    {
        var plan = await IndexMaintenance.PlanAddAsync(request, CancellationToken.None);
        return await IndexMaintenance.ApplyAsync(plan, NullObserver.Instance, CancellationToken.None);
    }

    private long Indexes(DbOpsConnection db) => cluster.Scalar<long>(db.Database, "SELECT count(*) FROM pg_index WHERE indrelid = 'goals'::regclass");

    [Fact]
    public async Task Gin_expression_partial_covering_and_composite_indexes_are_built_concurrently_as_asked()
    {
        var db = await cluster.CreateConnectedAsync(Goals);

        var gin = await AddAsync(new AddIndexRequest(db, "goals", ["technology_stack"]) { Method = IndexMethod.Gin });
        Assert.Equal("CREATE INDEX CONCURRENTLY \"ix_goals_technology_stack\" ON \"public\".\"goals\" USING gin (\"technology_stack\")", gin.Sql);
        Assert.Equal("gin", gin.Method);
        var path = await AddAsync(new AddIndexRequest(db, "goals", ["phases ->> 'status'"]));
        Assert.Equal("CREATE INDEX CONCURRENTLY \"ix_goals_phases_status\" ON \"public\".\"goals\" ((phases ->> 'status'))", path.Sql);
        var partial = await AddAsync(new AddIndexRequest(db, "goals", ["owner_id", "created_at"]) { Where = "deleted_at IS NULL", Include = ["title"] });
        Assert.Equal("CREATE INDEX CONCURRENTLY \"ix_goals_owner_id_created_at\" ON \"public\".\"goals\" (\"owner_id\", \"created_at\") " +
                     "INCLUDE (\"title\") WHERE deleted_at IS NULL", partial.Sql);
        var brin = await AddAsync(new AddIndexRequest(db, "goals", ["created_at"]) { Method = IndexMethod.Brin });
        var hash = await AddAsync(new AddIndexRequest(db, "goals", ["title"]) { Method = IndexMethod.Hash });
        Assert.All(new[] { gin, path, partial, brin, hash }, c => Assert.Equal(IndexChangeStatus.Created, c.Status));
        Assert.Equal(6, Indexes(db));
        Assert.Equal(0L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"));

        // The server's own rendering decides sameness: the same partial index under other spellings is not built again.
        var again = await IndexMaintenance.PlanAddAsync(
            new AddIndexRequest(db, "goals", ["OWNER_ID", "\"created_at\""], "ix_again") { Where = "(deleted_at is null)", Include = ["title"] },
            CancellationToken.None);
        Assert.Equal(IndexChangeStatus.Exists, again.Outcome);
        // ...but a plain index on the same columns is a different index.
        Assert.Equal(IndexChangeStatus.Created,
            (await IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["owner_id", "created_at"]), CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task Kinds_the_column_type_or_method_does_not_support_and_a_btree_on_jsonb_are_refused_before_anything_is_built()
    {
        var db = await cluster.CreateConnectedAsync(Goals);

        var jsonb = await Assertions.ThrowsDbOps(ErrorIds.IndexKindNotSupported,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["technology_stack"]), CancellationToken.None));
        Assert.Contains("-Using gin", jsonb.Message);
        await Assertions.ThrowsDbOps(ErrorIds.IndexKindNotSupported,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["phases -> 'status'"]), CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.IndexKindNotSupported, // integer has no GIN operator class
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["owner_id"]) { Method = IndexMethod.Gin }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.IndexKindNotSupported, // hash indexes have one column
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["owner_id", "title"]) { Method = IndexMethod.Hash }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.IndexKindNotSupported, // GIN has no INCLUDE
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["phases"]) { Method = IndexMethod.Gin, Include = ["title"] }, CancellationToken.None));

        Assert.Equal(1, Indexes(db));
    }

    [Fact]
    public async Task An_expression_with_a_second_statement_and_a_predicate_that_would_write_are_refused_and_change_nothing()
    {
        var db = await cluster.CreateConnectedAsync(Goals);

        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["lower(title)); DROP TABLE audit; --"]), CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["owner_id"]) { Where = "true; DELETE FROM audit" }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["owner_id"]) { Where = "$$x$$ = 'x'" }, CancellationToken.None));
        // A function that writes is caught evaluating it read-only; one (wrongly) marked IMMUTABLE fails there too.
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["owner_id"]) { Where = "liar(title)" }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.QueryWouldWrite,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["owner_id"]) { Where = "noisy(title)" }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.QueryWouldWrite,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["noisy(title)"]), CancellationToken.None));
        // A volatile function: the server refuses it in an index.
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["owner_id"]) { Where = "created_at > now()" }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "goals", ["no_such_column + 1"]), CancellationToken.None));

        Assert.Equal(1, Indexes(db));
        Assert.Equal(0L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM audit"));
        Assert.Equal(0L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM pg_class WHERE relname LIKE 'dbops_index_probe%'"));
    }

    [Fact]
    public async Task Duplicate_detection_and_Find_MissingIndex_understand_index_kinds()
    {
        var db = await cluster.CreateConnectedAsync("""
            CREATE TABLE parent (id integer PRIMARY KEY);
            CREATE TABLE t (id integer PRIMARY KEY, parent_id integer REFERENCES parent, a text, b integer, doc jsonb);
            CREATE INDEX ix_a ON t (a);
            CREATE INDEX ix_a_partial ON t (a) WHERE b > 0;
            CREATE INDEX ix_a_lower ON t (lower(a));
            CREATE INDEX ix_a_hash ON t USING hash (a);
            CREATE INDEX ix_a_include ON t (a) INCLUDE (b);
            CREATE INDEX ix_doc ON t USING gin (doc);
            CREATE INDEX ix_doc_path ON t USING gin (doc jsonb_path_ops);
            CREATE INDEX ix_a_same ON t (a);
            CREATE INDEX ix_parent_partial ON t (parent_id) WHERE b IS NULL;
            CREATE INDEX ix_parent_brin ON t USING brin (parent_id);
            """);

        var findings = await IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(db, TimeSpan.Zero), NullObserver.Instance, CancellationToken.None);
        Assert.Equal(["ix_a_same Duplicate ix_a"], findings.Where(f => f.Reason != IndexFindingReason.Unused).Select(f => $"{f.Index} {f.Reason} {f.CoveredBy}"));

        var missing = Assert.Single(await IndexAdvisor.FindMissingAsync(db, NullObserver.Instance, CancellationToken.None));
        Assert.Equal(["parent_id"], missing.Columns);
    }
}
