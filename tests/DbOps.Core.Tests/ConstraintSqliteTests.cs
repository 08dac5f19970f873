using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

public sealed class ConstraintSqliteTests : IDisposable
{
    private static readonly ConstraintOptions Options = ConstraintOptions.Default;
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static Task<ConstraintResult> AddAsync(DbOpsConnection db, ConstraintSpec spec, IOperationObserver? observer = null) =>
        ConstraintService.AddAsync(db, spec, Options, observer ?? NullObserver.Instance, CancellationToken.None);

    public static TheoryData<string, long, string[]> DirtyGoalsTracker => new()
    {
        { "check", 5, ["5", "44", "87", "132", "190"] },
        { "unique", 4, ["41", "42", "43", "44"] },
        { "notnull", 7, ["13", "27", "58", "99", "120", "151", "177"] },
        { "fk", 11, ["167", "334", "501", "668", "835", "1002", "1169", "1336", "1503", "1670"] },
    };

    internal static ConstraintSpec GoalsSpec(string kind) => kind switch
    {
        "check" => ConstraintSpec.Check("goals", "deadline >= created_at"),
        "unique" => ConstraintSpec.Unique("activity_groups", ["root_id", "name"]),
        "notnull" => ConstraintSpec.NotNull("goals", "root_id"),
        _ => ConstraintSpec.ForeignKey("sessions", ["goal_id"], "goals", ["id"]),
    };

    /// <summary>SQL that removes the seeded defect a spec trips over (same text on both engines).</summary>
    internal static string CleanUp(string kind) => kind switch
    {
        "check" => "UPDATE goals SET deadline = created_at WHERE deadline < created_at",
        "unique" => "UPDATE activity_groups SET name = name || ' (' || id || ')' WHERE id > 40",
        "notnull" => "UPDATE goals SET root_id = id WHERE root_id IS NULL",
        _ => "UPDATE sessions SET goal_id = NULL WHERE goal_id > 200",
    };

    [Theory]
    [MemberData(nameof(DirtyGoalsTracker))]
    public async Task Dirty_data_blocks_each_kind_with_exact_counts_and_samples_and_changes_nothing(string kind, long count, string[] sample)
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var before = Snapshot(db.Database);

        var result = await AddAsync(db, GoalsSpec(kind));

        Assert.Equal(ConstraintStatus.Blocked, result.Status);
        Assert.Equal(count, result.ViolationCount);
        Assert.Equal(sample, result.Sample);
        Assert.Empty(result.Statements);
        Assert.Equal(before, Snapshot(db.Database));
        // The listing query finds exactly the rows counted.
        Assert.Equal(count, Query(db.Database, $"SELECT count(*) FROM ({result.ViolationQuery})"));
    }

    [Theory]
    [InlineData("check")]
    [InlineData("unique")]
    [InlineData("notnull")]
    [InlineData("fk")]
    public async Task Clean_data_gets_each_kind_by_a_verified_rebuild_that_keeps_rows_rowids_and_indexes(string kind)
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, CleanUp(kind));
        var spec = GoalsSpec(kind);
        var rows = Dump(db.Database, spec.Table);
        var indexes = Query<string>(db.Database, "SELECT group_concat(name || ':' || sql, ';') FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL");

        var result = await AddAsync(db, spec);

        Assert.Equal(ConstraintStatus.Added, result.Status);
        Assert.Equal("TableRebuild", result.Method);
        Assert.Equal(0, result.ViolationCount);
        Assert.Contains("PRAGMA integrity_check(\"" + spec.Table + "\")", result.Statements);
        Assert.Equal(rows, Dump(db.Database, spec.Table));
        Assert.Equal(indexes, Query<string>(db.Database, "SELECT group_concat(name || ':' || sql, ';') FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"));
        Assert.Equal("ok", Query<string>(db.Database, "PRAGMA integrity_check"));

        // The constraint is now enforced, and a second run finds it.
        var again = await AddAsync(db, spec);
        Assert.Equal(ConstraintStatus.AlreadyPresent, again.Status);
        Assert.Empty(again.Statements);
        var violation = kind switch
        {
            "check" => "UPDATE goals SET deadline = '2000-01-01' WHERE id = 1",
            "unique" => "INSERT INTO activity_groups (id, root_id, name) VALUES (99, 1, 'Study 1')",
            "notnull" => "UPDATE goals SET root_id = NULL WHERE id = 2",
            _ => "PRAGMA foreign_keys = ON; UPDATE sessions SET goal_id = 5000 WHERE id = 1",
        };
        Assert.Throws<SqliteException>(() => Sqlite.Execute(db.Database, violation));
    }

    [Fact]
    public async Task The_rebuild_keeps_triggers_views_indexes_rowids_and_the_autoincrement_sequence()
    {
        var path = _folder.File("shapes.db");
        var db = await Sqlite.CreateAsync(path, """
            CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);
            -- No INTEGER PRIMARY KEY: rowids are implicit and get gaps below.
            CREATE TABLE items (
                sku   TEXT NOT NULL, -- the shop's code
                qty   INTEGER DEFAULT 0 CHECK (qty >= -100),
                price REAL,
                "odd name" TEXT COLLATE NOCASE,
                total REAL GENERATED ALWAYS AS (qty * price) VIRTUAL
            );
            CREATE INDEX ix_items_sku ON items (sku);
            CREATE UNIQUE INDEX ux_items_odd ON items ("odd name") WHERE "odd name" IS NOT NULL;
            CREATE TRIGGER items_audit AFTER INSERT ON items BEGIN INSERT INTO audit (what) VALUES ('added ' || new.sku); END;
            -- A trigger on another table that reads and writes items: the rebuild must leave it working.
            CREATE TRIGGER audit_touch AFTER DELETE ON audit BEGIN UPDATE items SET qty = qty + 0 WHERE sku = old.what; END;
            CREATE VIEW big_items AS SELECT sku, qty FROM items WHERE qty > 10;
            CREATE VIEW very_big_items AS SELECT sku FROM big_items WHERE qty > 50;
            CREATE TRIGGER big_items_insert INSTEAD OF INSERT ON big_items BEGIN INSERT INTO items (sku, qty, price) VALUES (new.sku, new.qty, 9.0); END;
            INSERT INTO items (sku, qty, price, "odd name") VALUES ('a', 5, 1.5, 'x'), ('b', 20, 2.0, NULL), ('c', 60, 3.0, 'y'), ('d', 70, 1.0, NULL);
            DELETE FROM items WHERE sku = 'b';
            INSERT INTO items (sku, qty, price) VALUES ('e', 1, 1.0);
            DELETE FROM audit WHERE id = 5;
            ANALYZE;
            """);
        var rows = Dump(path, "items", "rowid, *");
        const string statistics = "SELECT group_concat(tbl || '.' || coalesce(idx, '') || '=' || stat, ';') FROM (SELECT * FROM sqlite_stat1 ORDER BY tbl, idx)";
        var analyzed = Query<string>(path, statistics);
        var triggersAndViews = Query<string>(path, "SELECT group_concat(type || ' ' || name || ': ' || sql, ';') FROM (SELECT * FROM sqlite_schema WHERE type IN ('trigger', 'view') ORDER BY name)");

        var result = await AddAsync(db, ConstraintSpec.Check("items", "price > 0", "items_price_positive"));

        Assert.Equal(ConstraintStatus.Added, result.Status);
        Assert.Equal(rows, Dump(path, "items", "rowid, *"));
        Assert.Equal(triggersAndViews, Query<string>(path, "SELECT group_concat(type || ' ' || name || ': ' || sql, ';') FROM (SELECT * FROM sqlite_schema WHERE type IN ('trigger', 'view') ORDER BY name)"));
        Assert.Equal(2L, Query(path, "SELECT count(*) FROM very_big_items"));
        Assert.Contains("items.ix_items_sku=", analyzed);
        Assert.Equal(analyzed, Query<string>(path, statistics));
        Assert.Equal(5L, Query(path, "SELECT seq FROM sqlite_sequence WHERE name = 'audit'"));
        Assert.Equal(["ix_items_sku", "ux_items_odd"], Query<string>(path, "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'items' AND sql IS NOT NULL ORDER BY name)")!.Split(','));
        var create = Query<string>(path, "SELECT sql FROM sqlite_schema WHERE name = 'items'")!;
        Assert.Contains("sku   TEXT NOT NULL, -- the shop's code", create);
        Assert.Contains("total REAL GENERATED ALWAYS AS (qty * price) VIRTUAL,\n    CONSTRAINT \"items_price_positive\" CHECK (price > 0)", create);

        // The trigger still fires, and the sequence continues where it was.
        Sqlite.Execute(path, "INSERT INTO items (sku, qty, price) VALUES ('f', 1, 1.0)");
        Assert.Equal(6L, Query(path, "SELECT max(id) FROM audit"));
        Assert.Throws<SqliteException>(() => Sqlite.Execute(path, "INSERT INTO items (sku, price) VALUES ('g', -1)"));
        Sqlite.Execute(path, "DELETE FROM audit WHERE id = 6");
        Sqlite.Execute(path, "INSERT INTO big_items (sku, qty) VALUES ('h', 99)");
        Assert.Equal(3L, Query(path, "SELECT count(*) FROM very_big_items"));
        Assert.Equal("ok", Query<string>(path, "PRAGMA integrity_check"));
    }

    [Fact]
    public async Task A_table_with_an_integer_primary_key_keeps_its_ids_and_a_not_null_column_definition_keeps_its_spelling()
    {
        var path = _folder.File("ipk.db");
        var db = await Sqlite.CreateAsync(path, """
            CREATE TABLE "Tasks" ("Id" INTEGER PRIMARY KEY, "Title" TEXT DEFAULT 'x' /* shown */, done INTEGER) WITHOUT ROWID;
            CREATE TABLE notes (id INTEGER PRIMARY KEY, task_id INTEGER REFERENCES "Tasks"("Id"), body TEXT);
            INSERT INTO "Tasks" VALUES (10, 'a', 0), (20, 'b', 1), (35, 'c', 0);
            INSERT INTO notes VALUES (3, 10, 'n1'), (9, 35, 'n2'), (1000, 20, 'n3');
            """);

        var tasks = await AddAsync(db, ConstraintSpec.NotNull("tasks", "title"));
        var notes = await AddAsync(db, ConstraintSpec.Unique("notes", ["task_id", "body"]));

        Assert.Equal(ConstraintStatus.Added, tasks.Status);
        Assert.Equal(ConstraintStatus.Added, notes.Status);
        Assert.Contains("\"Title\" TEXT DEFAULT 'x' NOT NULL /* shown */", Query<string>(path, "SELECT sql FROM sqlite_schema WHERE name = 'Tasks'"));
        Assert.EndsWith("WITHOUT ROWID", Query<string>(path, "SELECT sql FROM sqlite_schema WHERE name = 'Tasks'"));
        Assert.Equal("3,9,1000", Query<string>(path, "SELECT group_concat(rowid, ',') FROM (SELECT rowid FROM notes ORDER BY rowid)"));
        Assert.Equal("10,20,35", Query<string>(path, "SELECT group_concat(\"Id\", ',') FROM (SELECT \"Id\" FROM \"Tasks\" ORDER BY 1)"));
        Assert.Equal(1L, Query(path, "SELECT \"notnull\" FROM pragma_table_info('Tasks') WHERE name = 'Title'"));
    }

    [Fact]
    public async Task A_declared_foreign_key_that_rows_break_is_Blocked_not_AlreadyPresent()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var spec = ConstraintSpec.ForeignKey("activity_instances", ["session_id"], "sessions", ["id"]);

        var blocked = await AddAsync(db, spec);
        Sqlite.Execute(db.Database, "PRAGMA foreign_keys = OFF; DELETE FROM activity_instances WHERE session_id > 2000");
        var present = await AddAsync(db, spec);

        Assert.Equal((ConstraintStatus.Blocked, 25L), (blocked.Status, blocked.ViolationCount));
        Assert.Equal(["240", "480", "720", "960", "1200", "1440", "1680", "1920", "2160", "2400"], blocked.Sample);
        Assert.Empty(blocked.Statements);
        Assert.Equal((ConstraintStatus.AlreadyPresent, 0L), (present.Status, present.ViolationCount));
    }

    [Fact]
    public async Task Rows_that_appear_after_the_plan_block_the_rebuild_inside_its_transaction()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, CleanUp("notnull"));
        var plan = await ConstraintService.PlanAsync(db, GoalsSpec("notnull"), Options, NullObserver.Instance, CancellationToken.None);
        Assert.Null(plan.Outcome);
        Sqlite.Execute(db.Database, "UPDATE goals SET root_id = NULL WHERE id IN (3, 4)");
        var create = Query<string>(db.Database, "SELECT sql FROM sqlite_schema WHERE name = 'goals'");

        var result = await ConstraintService.ApplyAsync(plan, Options, NullObserver.Instance, CancellationToken.None);

        Assert.Equal(ConstraintStatus.Blocked, result.Status);
        Assert.Equal(2, result.ViolationCount);
        Assert.Equal(["3", "4"], result.Sample);
        Assert.Equal(create, Query<string>(db.Database, "SELECT sql FROM sqlite_schema WHERE name = 'goals'"));
    }

    [Fact]
    public async Task Bad_input_fails_with_stable_ids_and_changes_nothing()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var before = Snapshot(db.Database);

        await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => AddAsync(db, ConstraintSpec.Check("goals", "deadline >=")));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => AddAsync(db, ConstraintSpec.Check("goals", "1) ; DROP TABLE goals; --")));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => AddAsync(db, ConstraintSpec.Check("goals", "no_such_column > 1")));
        await Assertions.ThrowsDbOps(ErrorIds.TableNotFound, () => AddAsync(db, ConstraintSpec.NotNull("goal", "root_id")));
        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound, () => AddAsync(db, ConstraintSpec.NotNull("goals", "root")));
        await Assertions.ThrowsDbOps(ErrorIds.ReferencedKeyMissing, () => AddAsync(db, ConstraintSpec.ForeignKey("sessions", ["goal_id"], "goals", ["root_id"])));
        await Assertions.ThrowsDbOps(ErrorIds.TableNotFound, () => AddAsync(db, ConstraintSpec.ForeignKey("sessions", ["goal_id"], "goal", ["id"])));
        await Assertions.ThrowsDbOps(ErrorIds.ConstraintNameTaken, () => AddAsync(db, ConstraintSpec.Unique("sessions", ["started_at"], "ix_activity_instances_session")));
        Sqlite.Execute(db.Database, "CREATE VIRTUAL TABLE notes_fts USING fts5(body)");
        await Assertions.ThrowsDbOps(ErrorIds.ConstraintFailed, () => AddAsync(db, ConstraintSpec.NotNull("notes_fts", "body")));
        Sqlite.Execute(db.Database, "DROP TABLE notes_fts");
        Assert.Equal(before, Snapshot(db.Database));

        Sqlite.Execute(db.Database, CleanUp("check"));
        Assert.Equal(ConstraintStatus.Added, (await AddAsync(db, ConstraintSpec.Check("goals", "deadline >= created_at", "goals_dates"))).Status);
        await Assertions.ThrowsDbOps(ErrorIds.ConstraintNameTaken, () => AddAsync(db, ConstraintSpec.Check("goals", "length(title) > 0", "goals_dates")));
        // The same expression, spelled differently, is the constraint already there.
        var same = await AddAsync(db, ConstraintSpec.Check("goals", "(DEADLINE >=  \"created_at\")"));
        Assert.Equal(ConstraintStatus.AlreadyPresent, same.Status);
        Assert.Equal("goals_dates", same.Name);
        var regrouped = await ConstraintService.PlanAsync(db, ConstraintSpec.Check("goals", "deadline >= created_at OR id > 0 AND title <> ''"),
            Options, NullObserver.Instance, CancellationToken.None);
        var grouped = await ConstraintService.PlanAsync(db, ConstraintSpec.Check("goals", "(deadline >= created_at OR id > 0) AND title <> ''"),
            Options, NullObserver.Instance, CancellationToken.None);
        Assert.NotEqual(regrouped.Name, grouped.Name);
    }

    [Fact]
    public async Task A_writer_holding_the_lock_gives_LockTimeout_after_the_retries_and_changes_nothing()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, CleanUp("notnull"));
        var before = Snapshot(db.Database);
        await using var writer = new SqliteConnection($"Data Source={db.Database};Pooling=False");
        writer.Open();
        using (var begin = writer.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE; UPDATE goals SET title = title WHERE id = 1";
            begin.ExecuteNonQuery();
        }
        var observer = new RecordingObserver();

        var error = await Assertions.ThrowsDbOps(ErrorIds.LockTimeout, () => ConstraintService.AddAsync(
            db, GoalsSpec("notnull"), new ConstraintOptions(TimeSpan.FromMilliseconds(100), 2), observer, CancellationToken.None));

        Assert.Contains("(2 retries)", error.Message);
        Assert.Equal(2, observer.VerboseMessages.Count(m => m.Contains("retry", StringComparison.Ordinal)));
        using (var rollback = writer.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }
        Assert.Equal(before, Snapshot(db.Database));
    }

    [Fact]
    public async Task Hostile_table_and_column_names_are_quoted_in_the_rebuild()
    {
        var path = _folder.File("odd.db");
        var db = await Sqlite.CreateAsync(path, """"
            CREATE TABLE "Par""ents" ("Key; DROP" INTEGER PRIMARY KEY);
            CREATE TABLE [Tab'le] ("We ird" INTEGER, `p"k` INTEGER, [x]);
            CREATE INDEX "ix ""odd""" ON [Tab'le] ("We ird");
            INSERT INTO "Par""ents" VALUES (1), (2);
            INSERT INTO [Tab'le] VALUES (1, 1, 'a'), (2, 2, 'b');
            """");

        var results = new[]
        {
            await AddAsync(db, ConstraintSpec.Check("Tab'le", "\"We ird\" > 0")),
            await AddAsync(db, ConstraintSpec.Unique("Tab'le", ["We ird", "p\"k"])),
            await AddAsync(db, ConstraintSpec.NotNull("Tab'le", "p\"k")),
            await AddAsync(db, ConstraintSpec.ForeignKey("Tab'le", ["p\"k"], "Par\"ents", ["Key; DROP"])),
        };

        Assert.All(results, r => Assert.Equal(ConstraintStatus.Added, r.Status));
        Assert.Equal("1|1|a|\n2|2|b|\n", Dump(path, "Tab'le"));
        Assert.Equal(1L, Query(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'ix \"odd\"'"));
        Assert.Equal("ok", Query<string>(path, "PRAGMA integrity_check"));
    }

    /// <summary>The schema text and every table's rows, to prove that nothing changed.</summary>
    internal static string Snapshot(string path)
    {
        var schema = Query<string>(path, "SELECT group_concat(type || name || coalesce(sql, ''), ';') FROM (SELECT * FROM sqlite_schema ORDER BY name)");
        var tables = Query<string>(path, "SELECT group_concat(name, ',') FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'")!.Split(',');
        return schema + string.Concat(tables.Select(t => Dump(path, t)));
    }

    private static string Dump(string path, string table, string columns = "*")
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {columns} FROM \"{table}\" ORDER BY rowid";
        using var reader = command.ExecuteReader();
        var text = new System.Text.StringBuilder();
        while (reader.Read())
        {
            for (var i = 0; i < reader.FieldCount; i++)
            {
                text.Append(reader.GetValue(i)).Append('|');
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    private static long Query(string path, string sql) => Convert.ToInt64(Query<object>(path, sql));

    private static T? Query<T>(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T?)command.ExecuteScalar();
    }
}
