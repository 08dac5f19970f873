using System.Collections;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Errors;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Tests;

/// <summary>Reads schemas through the provider a cmdlet would use.</summary>
internal static class SchemaLoader
{
    public static async Task<DatabaseSchema> ReadAsync(DbOpsConnection connection)
    {
        var provider = DatabaseEngines.For(connection);
        await using var openSession = await provider.OpenReadOnlyAsync(connection, CancellationToken.None);
        var open = openSession.Connection;
        return await SchemaReader.ReadAsync(provider, open, CancellationToken.None);
    }
}

public sealed class SqliteSchemaTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Goals_tracker_schema_has_its_keys_foreign_keys_indexes_and_the_inferred_relationship()
    {
        var schema = await SchemaLoader.ReadAsync(await Sqlite.GoalsTrackerAsync(_folder));

        Assert.Equal(["activity_groups", "activity_instances", "goals", "legacy_imports", "sessions", "tmp_migration_2019"],
            schema.Tables.Select(t => t.Table.Name));
        var goals = schema.Resolve("goals");
        Assert.Equal(["id"], goals.PrimaryKey!.Columns);
        Assert.False(goals.GetColumn("id").IsNullable);
        Assert.True(goals.GetColumn("root_id").IsNullable);
        Assert.Equal("'active'", goals.GetColumn("status").Default);
        Assert.Contains("CREATE TABLE goals", goals.CreateSql);

        var instances = schema.Resolve("ACTIVITY_INSTANCES");
        Assert.Equal(
            ["session_id -> sessions(id)", "group_id -> activity_groups(id)"],
            instances.ForeignKeys.OrderByDescending(f => f.Columns[0]).Select(f => $"{f.Columns[0]} -> {f.ReferencedTable.Name}({f.ReferencedColumns[0]})"));
        Assert.All(instances.ForeignKeys, f => Assert.False(f.IsValidated));
        var index = Assert.Single(instances.Indexes);
        Assert.Equal(("ix_activity_instances_session", "session_id", false), (index.Name, index.Columns.Single(), index.IsUnique));

        var inferred = Assert.Single(RelationshipInference.Infer(schema));
        Assert.Equal("sessions(goal_id) -> goals(id)", inferred.ToString());
        Assert.Equal(RelationshipSource.Inferred, inferred.Source);
        Assert.Equal(3, RelationshipInference.All(schema).Count);
    }

    [Fact]
    public async Task Unique_constraints_composite_and_parentless_foreign_keys_and_expression_indexes_are_read()
    {
        var path = _folder.File("keys.db");
        var schema = await SchemaLoader.ReadAsync(await Sqlite.CreateAsync(path, """
            CREATE TABLE parent (a INTEGER, b TEXT, label TEXT UNIQUE, PRIMARY KEY (a, b));
            CREATE TABLE child (id INTEGER PRIMARY KEY, pa INTEGER, pb TEXT, note TEXT,
                                total INTEGER GENERATED ALWAYS AS (pa * 2) STORED,
                                FOREIGN KEY (pa, pb) REFERENCES parent ON DELETE CASCADE);
            CREATE UNIQUE INDEX ux_child_lower_note ON child (lower(note)) WHERE note IS NOT NULL;
            """));

        var parent = schema.Resolve("parent");
        Assert.Equal(["a", "b"], parent.PrimaryKey!.Columns);
        Assert.Equal(["label"], Assert.Single(parent.UniqueKeys).Columns);
        Assert.True(parent.HasUniqueKeyOn(["b", "a"]));
        Assert.False(parent.HasUniqueKeyOn(["a"]));
        Assert.All(parent.Indexes, i => Assert.NotNull(i.ConstraintName));

        var child = schema.Resolve("main.child");
        var fk = Assert.Single(child.ForeignKeys);
        Assert.Equal(["pa", "pb"], fk.Columns);
        Assert.Equal(["a", "b"], fk.ReferencedColumns);
        Assert.Equal("CASCADE", fk.OnDelete);
        Assert.True(child.GetColumn("total").IsGenerated);
        var expression = Assert.Single(child.Indexes);
        Assert.True(expression.IsPartial && expression.IsUnique);
        Assert.Null(expression.ConstraintName);
        Assert.Contains("lower(note)", expression.Definition);
    }

    [Fact]
    public async Task Chinook_declared_foreign_keys_match_the_pragma_and_none_is_inferred_twice()
    {
        var schema = await SchemaLoader.ReadAsync(await Sqlite.ChinookAsync(_folder));

        Assert.Equal(11, schema.Tables.Count);
        Assert.Equal(11, schema.Tables.Sum(t => t.ForeignKeys.Count));
        var declared = RelationshipInference.Declared(schema).Select(r => (r.Child, r.ChildColumns[0].ToLowerInvariant())).ToHashSet();
        Assert.DoesNotContain(RelationshipInference.Infer(schema), r => declared.Contains((r.Child, r.ChildColumns[0].ToLowerInvariant())));
        // SQLite compares names without case, as the engine does.
        Assert.Equal("Track", schema.Resolve("track").Table.Name);
    }

    [Fact]
    public async Task Unknown_tables_columns_and_malformed_relationships_have_stable_ids()
    {
        var schema = await SchemaLoader.ReadAsync(await Sqlite.GoalsTrackerAsync(_folder));

        Assert.Equal(ErrorIds.TableNotFound, Assert.Throws<DbOpsException>(() => schema.Resolve("nope")).ErrorId);
        Assert.Equal(ErrorIds.ColumnNotFound, Assert.Throws<DbOpsException>(() => schema.Resolve("goals").GetColumn("nope")).ErrorId);
        Assert.Equal(ErrorIds.InvalidRelationship,
            Assert.Throws<DbOpsException>(() => RelationshipInference.ParseSpecified(schema, "sessions", "goals.id")).ErrorId);
        Assert.Equal(ErrorIds.InvalidRelationship,
            Assert.Throws<DbOpsException>(() => RelationshipInference.ParseSpecified(schema, "goals.id,root_id", "sessions.id")).ErrorId);
        Assert.Equal(ErrorIds.ColumnNotFound,
            Assert.Throws<DbOpsException>(() => RelationshipInference.ParseSpecified(schema, "sessions.goal", "goals.id")).ErrorId);
        Assert.Equal(ErrorIds.TableNotFound,
            Assert.Throws<DbOpsException>(() => RelationshipInference.ParseSpecified(schema, "session.goal_id", "goals.id")).ErrorId);

        var specified = RelationshipInference.ParseSpecified(schema, "activity_instances.session_id", "sessions(id)");
        Assert.Equal((RelationshipSource.Specified, "activity_instances(session_id) -> sessions(id)"), (specified.Source, specified.ToString()));
        var composite = RelationshipInference.ParseSpecified(schema, "activity_groups.root_id,name", "goals(id, title)");
        Assert.Equal(["root_id", "name"], composite.ChildColumns);
    }

    [Fact]
    public async Task Names_that_differ_only_in_non_ascii_case_stay_two_tables_as_in_sqlite()
    {
        // SQLite folds ASCII letters only: "CAFÉ" and "café" are two tables, "Café" is "café".
        var schema = await SchemaLoader.ReadAsync(await Sqlite.CreateAsync(_folder.File("cafe.db"), """
            CREATE TABLE "CAFÉ" (id INTEGER PRIMARY KEY, name TEXT);
            CREATE TABLE "café" (code TEXT PRIMARY KEY, label TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, cafe TEXT REFERENCES "Café", big INTEGER REFERENCES "CAFÉ");
            """));

        Assert.Equal("café", schema.Resolve("\"café\"").Table.Name);
        Assert.Equal("café", schema.Resolve("Café").Table.Name);
        Assert.Equal("CAFÉ", schema.Resolve("main.CAFÉ").Table.Name);
        Assert.Equal("CAFÉ", schema.Resolve("cafÉ").Table.Name);
        Assert.Equal(ErrorIds.TableNotFound, Assert.Throws<DbOpsException>(() => schema.Resolve("cafe")).ErrorId);
        Assert.Equal(["code", "label"], schema.Resolve("café").Columns.Select(c => c.Name));
        Assert.Equal(["id", "name"], schema.Resolve("CAFÉ").Columns.Select(c => c.Name));
        var keys = schema.Resolve("orders").ForeignKeys.OrderBy(k => k.Columns[0]).Select(k => $"{k.ReferencedTable.Name}({string.Join(",", k.ReferencedColumns)})");
        Assert.Equal(["CAFÉ(id)", "café(code)"], keys);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresSchemaTests(PostgresCluster cluster)
{
    [Fact]
    public async Task Goals_tracker_on_postgres_reads_like_sqlite_with_the_foreign_key_not_valid()
    {
        var schema = await SchemaLoader.ReadAsync(await DatabaseConnector.ConnectPostgresAsync(
            cluster.ConnectionString(cluster.CreateGoalsTracker()), null, null, CancellationToken.None));

        Assert.Equal(["activity_groups", "activity_instances", "goals", "legacy_imports", "sessions", "tmp_migration_2019"],
            schema.Tables.Select(t => t.Table.Name));
        Assert.All(schema.Tables, t => Assert.Equal("public", t.Table.Schema));
        var fks = schema.Resolve("public.activity_instances").ForeignKeys.ToDictionary(f => f.Columns.Single());
        Assert.False(fks["session_id"].IsValidated);
        Assert.True(fks["group_id"].IsValidated);
        Assert.All(fks.Values, f => Assert.True(f.IsEnforced));
        Assert.Equal("public.sessions(goal_id) -> public.goals(id)", Assert.Single(RelationshipInference.Infer(schema)).ToString());
        Assert.Equal("date", schema.Resolve("goals").GetColumn("deadline").DataType);
    }

    [Fact]
    public async Task Unquoted_names_fold_to_lower_case_as_psql_reads_them_and_quoted_ones_do_not()
    {
        var schema = await SchemaLoader.ReadAsync(await cluster.CreateConnectedAsync("""
            CREATE TABLE "CaseTab" (id int); CREATE TABLE casetab (id int); CREATE TABLE "OnlyMixed" (id int);
            CREATE SCHEMA "Sch"; CREATE TABLE "Sch"."T" (id int); CREATE SCHEMA sch; CREATE TABLE sch.t (id int);
            """));

        Assert.Equal("casetab", schema.Resolve("CaseTab").Table.Name);
        Assert.Equal("CaseTab", schema.Resolve("\"CaseTab\"").Table.Name);
        Assert.Equal("casetab", schema.Resolve("public.CaseTab").Table.Name);
        Assert.Equal("CaseTab", schema.Resolve("public.\"CaseTab\"").Table.Name);
        Assert.Equal(("sch", "t"), (schema.Resolve("Sch.T").Table.Schema, schema.Resolve("Sch.T").Table.Name));
        Assert.Equal(("Sch", "T"), (schema.Resolve("\"Sch\".\"T\"").Table.Schema, schema.Resolve("\"Sch\".\"T\"").Table.Name));
        // With no folded match, the name as typed still finds the table (a convenience psql does not offer).
        Assert.Equal("OnlyMixed", schema.Resolve("OnlyMixed").Table.Name);
    }

    [Fact]
    public async Task Checks_identity_comments_disabled_triggers_expression_indexes_and_odd_names_are_read()
    {
        var connection = await cluster.CreateConnectedAsync("""
            CREATE SCHEMA "Sales Dept";
            CREATE TABLE "Sales Dept"."Order Lines" (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                qty int NOT NULL DEFAULT 1,
                price numeric(10,2),
                total numeric GENERATED ALWAYS AS (qty * price) STORED,
                code text,
                CONSTRAINT qty_positive CHECK (qty > 0));
            ALTER TABLE "Sales Dept"."Order Lines" ADD CONSTRAINT price_set CHECK (price IS NOT NULL) NOT VALID;
            ALTER TABLE "Sales Dept"."Order Lines" ADD CONSTRAINT code_unique UNIQUE (code);
            COMMENT ON TABLE "Sales Dept"."Order Lines" IS 'one row per line';
            COMMENT ON COLUMN "Sales Dept"."Order Lines".qty IS 'how many';
            CREATE INDEX ix_lower_code ON "Sales Dept"."Order Lines" (lower(code), qty) INCLUDE (price) WHERE qty > 1;
            CREATE TABLE public.shipment (id int PRIMARY KEY, order_lines_id bigint REFERENCES "Sales Dept"."Order Lines");
            ALTER TABLE public.shipment DISABLE TRIGGER ALL;
            """);
        var schema = await SchemaLoader.ReadAsync(connection);

        var lines = schema.Resolve("\"Sales Dept\".\"Order Lines\"");
        Assert.Same(lines, schema.Resolve("Sales Dept.Order Lines"));
        Assert.Equal("one row per line", lines.Comment);
        Assert.Equal(("ALWAYS", false), (lines.GetColumn("id").Identity, lines.GetColumn("id").IsNullable));
        Assert.Equal(("how many", "1"), (lines.GetColumn("qty").Comment, lines.GetColumn("qty").Default));
        Assert.Equal("numeric(10,2)", lines.GetColumn("price").DataType);
        Assert.True(lines.GetColumn("total").IsGenerated);
        Assert.Equal([("price_set", false), ("qty_positive", true)], lines.Checks.Select(c => (c.Name, c.IsValidated)));
        Assert.Equal("qty > 0", lines.Checks.Single(c => c.Name == "qty_positive").Expression);
        Assert.Equal(["code"], Assert.Single(lines.UniqueKeys).Columns);
        var partial = lines.Indexes.Single(i => i.Name == "ix_lower_code");
        Assert.Equal(["lower(code)", "qty"], partial.Columns);
        Assert.True(partial.IsPartial);
        Assert.Null(partial.ConstraintName);
        Assert.Equal("code_unique", lines.Indexes.Single(i => i.Columns.SequenceEqual(["code"])).ConstraintName);
        Assert.True(lines.Indexes.Single(i => i.IsPrimaryKey).IsValid);

        var fk = Assert.Single(schema.Resolve("shipment").ForeignKeys);
        Assert.False(fk.IsEnforced);
        Assert.Equal((new TableRef("Sales Dept", "Order Lines"), "id"), (fk.ReferencedTable, fk.ReferencedColumns.Single()));
        Assert.Single(schema.ForeignKeysReferencing(lines.Table));
        // Unquoted names fold to lower case, as PostgreSQL folds them.
        Assert.Same(schema.Resolve("shipment"), schema.Resolve("SHIPMENT"));
        var missing = Assert.Throws<DbOpsException>(() => schema.Resolve("Order Lines"));
        Assert.Equal(ErrorIds.TableNotFound, missing.ErrorId);
        Assert.Contains("Sales Dept.Order Lines", missing.Message);
    }

    [Fact]
    public async Task Pagila_foreign_keys_match_the_catalog_and_partition_clones_are_not_repeated()
    {
        var database = cluster.CreatePagila();
        var schema = await SchemaLoader.ReadAsync(await DatabaseConnector.ConnectPostgresAsync(
            cluster.ConnectionString(database), null, null, CancellationToken.None));

        var catalogCount = cluster.Scalar<long>(database, """
            SELECT count(*) FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
            WHERE con.contype = 'f' AND c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
              AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.oid = con.conparentid AND p.conrelid = con.conrelid)
            """);
        Assert.Equal(catalogCount, schema.Tables.Sum(t => t.ForeignKeys.Count));
        var rental = schema.Resolve("rental");
        Assert.Contains(rental.ForeignKeys, f => f.Columns.SequenceEqual(["customer_id"]) && f.ReferencedTable.Name == "customer");
        Assert.Equal(schema.Tables.Count, (int)cluster.Scalar<long>(database, """
            SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace
            """));
        // Every inferred relationship points at a real key of a table in the schema.
        Assert.All(RelationshipInference.Infer(schema), r => Assert.True(schema.Find(r.Parent)!.HasUniqueKeyOn(r.ParentColumns)));
    }

    [Fact]
    public async Task Statistics_window_starts_at_the_last_reset_and_is_too_young_right_after_it()
    {
        var database = cluster.CreateDatabase("stats");
        cluster.Execute(database, "SELECT pg_stat_reset()");
        var connection = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);
        await using var openSession = await PostgresEngine.Instance.OpenReadOnlyAsync(connection, CancellationToken.None);
        var open = openSession.Connection;

        var window = await PostgresEngine.Instance.Inspection.UsageStatistics!.ReadWindowAsync(open, CancellationToken.None);

        Assert.Equal("last statistics reset", window.Source);
        Assert.InRange(window.Age!.Value, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        Assert.False(window.Covers(UsageStatistics.DefaultMinimumAge));
        Assert.True(window.Covers(TimeSpan.Zero));
        Assert.Contains("at least 7 days", window.TooYoungReason(UsageStatistics.DefaultMinimumAge));
    }
}

public sealed class ConstraintSpecTests
{
    [Fact]
    public void Plan_entries_become_specs_of_each_kind()
    {
        Assert.Equal("goals: CHECK (deadline >= created_at)",
            ConstraintSpec.FromDictionary(new Hashtable { ["table"] = "goals", ["Check"] = "deadline >= created_at" }).ToString());
        var unique = ConstraintSpec.FromDictionary(new Hashtable { ["Table"] = "activity_groups", ["Unique"] = "root_id, name", ["Name"] = "uq_groups" });
        Assert.Equal((ConstraintKind.Unique, "uq_groups"), (unique.Kind, unique.Name));
        Assert.Equal(["root_id", "name"], unique.Columns);
        Assert.Equal(["a", "b"], ConstraintSpec.FromDictionary(new Hashtable { ["Table"] = "t", ["Unique"] = new[] { "a", "b" } }).Columns);
        Assert.Equal("goals: NOT NULL (root_id)", ConstraintSpec.FromDictionary(new Hashtable { ["Table"] = "goals", ["NotNull"] = "root_id" }).ToString());
        var fk = ConstraintSpec.FromDictionary(new Hashtable { ["Table"] = "sessions", ["ForeignKey"] = "goal_id", ["References"] = "goals(id)" });
        Assert.Equal(("goals", "id"), (fk.ReferencedTable, fk.ReferencedColumns.Single()));
    }

    [Theory]
    [InlineData("Table", "t", "Check", "")]
    [InlineData("Table", "t", "Colour", "x")]
    [InlineData("Table", "t", "ForeignKey", "a")]
    [InlineData("Check", "x > 0", "Name", "n")]
    public void Malformed_plan_entries_are_invalid_specifications(string k1, string v1, string k2, string v2)
    {
        var error = Assert.Throws<DbOpsException>(() => ConstraintSpec.FromDictionary(new Hashtable { [k1] = v1, [k2] = v2 }));
        Assert.Equal(ErrorIds.InvalidSpecification, error.ErrorId);
    }

    [Fact]
    public void Foreign_keys_need_the_same_number_of_columns_on_both_sides()
    {
        Assert.Equal(ErrorIds.InvalidSpecification, Assert.Throws<DbOpsException>(
            () => ConstraintSpec.ForeignKeyFromReference("t", ["a", "b"], "p(id)")).ErrorId);
        Assert.Equal(ErrorIds.InvalidSpecification, Assert.Throws<DbOpsException>(
            () => ConstraintSpec.ForeignKeyFromReference("t", ["a"], "p")).ErrorId);
    }
}
