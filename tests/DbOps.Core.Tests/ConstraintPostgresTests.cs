using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using Npgsql;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class ConstraintPostgresTests(PostgresCluster cluster)
{
    private static readonly ConstraintOptions Options = ConstraintOptions.Default;

    private async Task<(string Database, DbOpsConnection Connection)> GoalsAsync(string? cleanUp = null)
    {
        var database = cluster.CreateGoalsTracker();
        if (cleanUp is not null)
        {
            cluster.Execute(database, cleanUp);
        }
        return (database, await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None));
    }

    private static Task<ConstraintResult> AddAsync(DbOpsConnection db, ConstraintSpec spec, IOperationObserver? observer = null, ConstraintOptions? options = null) =>
        ConstraintService.AddAsync(db, spec, options ?? Options, observer ?? NullObserver.Instance, CancellationToken.None);

    [Theory]
    [MemberData(nameof(ConstraintSqliteTests.DirtyGoalsTracker), MemberType = typeof(ConstraintSqliteTests))]
    public async Task Dirty_data_blocks_each_kind_with_exact_counts_and_samples_and_runs_no_DDL(string kind, long count, string[] sample)
    {
        var (database, db) = await GoalsAsync();
        var before = Snapshot(database);

        var result = await AddAsync(db, ConstraintSqliteTests.GoalsSpec(kind));

        Assert.Equal(ConstraintStatus.Blocked, result.Status);
        Assert.Equal(count, result.ViolationCount);
        Assert.Equal(sample, result.Sample);
        Assert.Empty(result.Statements);
        Assert.Equal(before, Snapshot(database));
        Assert.Equal(count, cluster.Scalar<long>(database, $"SELECT count(*) FROM ({result.ViolationQuery}) AS v"));
    }

    [Theory]
    [InlineData("check", "NotValidThenValidate")]
    [InlineData("unique", "ConcurrentUniqueIndex")]
    [InlineData("notnull", "ValidatedCheckThenSetNotNull")]
    [InlineData("fk", "NotValidThenValidate")]
    public async Task Clean_data_gets_each_kind_validated_without_changing_rows(string kind, string method)
    {
        var (database, db) = await GoalsAsync(ConstraintSqliteTests.CleanUp(kind));
        var spec = ConstraintSqliteTests.GoalsSpec(kind);
        var rows = Checksum(database, spec.Table);
        var indexes = Indexes(database);

        var result = await AddAsync(db, spec);

        Assert.Equal(ConstraintStatus.Added, result.Status);
        Assert.Equal(method, result.Method);
        Assert.Equal(0, result.LockWaitRetries);
        Assert.StartsWith("SET lock_timeout = '2000ms'", result.Statements[0]);
        Assert.Equal(rows, Checksum(database, spec.Table));
        switch (kind)
        {
            case "notnull":
                Assert.True(cluster.Scalar<bool>(database, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 'goals'::regclass AND attname = 'root_id'"));
                // The helper check is gone again.
                Assert.Equal(0L, cluster.Scalar<long>(database, "SELECT count(*) FROM pg_constraint WHERE conname = 'goals_root_id_not_null'"));
                Assert.Equal(indexes, Indexes(database));
                break;
            case "unique":
                Assert.Equal("activity_groups_root_id_name_key", result.Name);
                Assert.Equal("u", cluster.Scalar<string>(database, "SELECT contype::text FROM pg_constraint WHERE conname = 'activity_groups_root_id_name_key'"));
                Assert.True(cluster.Scalar<bool>(database, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'activity_groups_root_id_name_key'::regclass"));
                Assert.Equal((indexes + "activity_groups_root_id_name_key;").Split(';').Order(), Indexes(database).Split(';').Order());
                break;
            default:
                Assert.True(cluster.Scalar<bool>(database, $"SELECT convalidated FROM pg_constraint WHERE conname = '{result.Name}'"));
                Assert.Equal(indexes, Indexes(database));
                break;
        }
        Assert.Equal(ConstraintStatus.AlreadyPresent, (await AddAsync(db, spec)).Status);
    }

    [Fact]
    public async Task The_statements_are_the_documented_safe_sequence_for_each_kind()
    {
        var (_, db) = await GoalsAsync();
        async Task<IReadOnlyList<string>> Statements(ConstraintSpec spec) =>
            (await ConstraintService.PlanAsync(db, spec, Options, NullObserver.Instance, CancellationToken.None)) is var plan && plan.Outcome is null
                ? plan.Statements : plan.Steps.Select(s => s.Sql).ToList();

        Assert.Equal([
            "SET lock_timeout = '2000ms'",
            "ALTER TABLE \"public\".\"goals\" ADD CONSTRAINT \"goals_dates\" CHECK (deadline >= created_at) NOT VALID",
            "ALTER TABLE \"public\".\"goals\" VALIDATE CONSTRAINT \"goals_dates\""],
            await Statements(ConstraintSpec.Check("goals", "deadline >= created_at", "goals_dates")));
        Assert.Equal([
            "SET lock_timeout = '2000ms'",
            "CREATE UNIQUE INDEX CONCURRENTLY \"activity_groups_root_id_name_key\" ON \"public\".\"activity_groups\" (\"root_id\", \"name\")",
            "ALTER TABLE \"public\".\"activity_groups\" ADD CONSTRAINT \"activity_groups_root_id_name_key\" UNIQUE USING INDEX \"activity_groups_root_id_name_key\""],
            await Statements(ConstraintSpec.Unique("activity_groups", ["root_id", "name"])));
        Assert.Equal([
            "SET lock_timeout = '2000ms'",
            "ALTER TABLE \"public\".\"goals\" ADD CONSTRAINT \"goals_root_id_not_null\" CHECK (\"root_id\" IS NOT NULL) NOT VALID",
            "ALTER TABLE \"public\".\"goals\" VALIDATE CONSTRAINT \"goals_root_id_not_null\"",
            "ALTER TABLE \"public\".\"goals\" ALTER COLUMN \"root_id\" SET NOT NULL",
            "ALTER TABLE \"public\".\"goals\" DROP CONSTRAINT \"goals_root_id_not_null\""],
            await Statements(ConstraintSpec.NotNull("goals", "root_id")));
        Assert.Equal([
            "SET lock_timeout = '2000ms'",
            "ALTER TABLE \"public\".\"sessions\" ADD CONSTRAINT \"sessions_goal_id_fkey\" FOREIGN KEY (\"goal_id\") REFERENCES \"public\".\"goals\" (\"id\") NOT VALID",
            "ALTER TABLE \"public\".\"sessions\" VALIDATE CONSTRAINT \"sessions_goal_id_fkey\""],
            await Statements(ConstraintSpec.ForeignKey("sessions", ["goal_id"], "goals", ["id"])));
    }

    [Fact]
    public async Task A_foreign_key_without_an_index_on_its_columns_warns_with_the_index_to_add()
    {
        var (_, db) = await GoalsAsync(ConstraintSqliteTests.CleanUp("fk"));
        var observer = new RecordingObserver();

        await AddAsync(db, ConstraintSqliteTests.GoalsSpec("fk"), observer);

        var warning = Assert.Single(observer.Warnings);
        Assert.Contains("CREATE INDEX CONCURRENTLY \"sessions_goal_id_idx\" ON \"public\".\"sessions\" (\"goal_id\")", warning);
    }

    [Fact]
    public async Task The_not_valid_foreign_key_of_the_sample_is_validated_once_its_orphans_are_gone()
    {
        var (database, db) = await GoalsAsync();
        var spec = ConstraintSpec.ForeignKey("activity_instances", ["session_id"], "sessions", ["id"]);
        var blocked = await AddAsync(db, spec);
        Assert.Equal((ConstraintStatus.Blocked, 25L), (blocked.Status, blocked.ViolationCount));

        cluster.Execute(database, "DELETE FROM activity_instances WHERE session_id > 2000");
        var result = await AddAsync(db, spec);

        Assert.Equal(ConstraintStatus.Added, result.Status);
        Assert.Equal(["SET lock_timeout = '2000ms'", $"ALTER TABLE \"public\".\"activity_instances\" VALIDATE CONSTRAINT \"{result.Name}\""], result.Statements);
        Assert.True(cluster.Scalar<bool>(database, $"SELECT convalidated FROM pg_constraint WHERE conname = '{result.Name}'"));
    }

    [Fact]
    public async Task An_equivalent_NOT_VALID_check_under_another_name_is_validated_not_duplicated()
    {
        var (database, db) = await GoalsAsync("CREATE TABLE t(q int); INSERT INTO t VALUES (1), (2); " +
                                              "ALTER TABLE t ADD CONSTRAINT t_q_check CHECK (q > 0) NOT VALID");

        var result = await AddAsync(db, ConstraintSpec.Check("t", "q > 0"));

        Assert.Equal((ConstraintStatus.Added, "t_q_check"), (result.Status, result.Name));
        Assert.Equal(["SET lock_timeout = '2000ms'", "ALTER TABLE \"public\".\"t\" VALIDATE CONSTRAINT \"t_q_check\""], result.Statements);
        Assert.Equal(1L, cluster.Scalar<long>(database, "SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass"));
        Assert.True(cluster.Scalar<bool>(database, "SELECT convalidated FROM pg_constraint WHERE conname = 't_q_check'"));

        var again = await AddAsync(db, ConstraintSpec.Check("t", "q > 0"));
        Assert.Equal((ConstraintStatus.AlreadyPresent, "t_q_check"), (again.Status, again.Name));
    }

    [Fact]
    public async Task An_invalid_index_left_by_a_failed_concurrent_build_is_dropped_and_rebuilt()
    {
        var (database, db) = await GoalsAsync();
        Assert.Throws<PostgresException>(() => cluster.Execute(database,
            "CREATE UNIQUE INDEX CONCURRENTLY activity_groups_root_id_name_key ON activity_groups (root_id, name)"));
        Assert.False(cluster.Scalar<bool>(database, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'activity_groups_root_id_name_key'::regclass"));
        cluster.Execute(database, ConstraintSqliteTests.CleanUp("unique"));

        var result = await AddAsync(db, ConstraintSqliteTests.GoalsSpec("unique"));

        Assert.Equal(ConstraintStatus.Added, result.Status);
        Assert.Equal("DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"activity_groups_root_id_name_key\"", result.Statements[1]);
        Assert.True(cluster.Scalar<bool>(database, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'activity_groups_root_id_name_key'::regclass"));
    }

    [Fact]
    public async Task A_lock_held_by_another_session_is_waited_out_with_counted_retries()
    {
        var (database, db) = await GoalsAsync(ConstraintSqliteTests.CleanUp("check"));
        await using var blocker = new NpgsqlConnection(cluster.ConnectionString(database));
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await new NpgsqlCommand("LOCK TABLE goals IN ACCESS SHARE MODE", blocker, transaction).ExecuteNonQueryAsync();
        // Released once the constraint's session has waited for the lock (not after a fixed delay: on a loaded machine
        // planning can outlast any delay, and then nothing ever waits).
        var release = Task.Run(async () =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(60)
                   && cluster.Scalar<long>("postgres", $"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND wait_event_type = 'Lock'") == 0)
            {
                await Task.Delay(20);
            }
            await Task.Delay(300); // past the first 200 ms try
            await transaction.RollbackAsync();
        });

        // Each try waits 200 ms (not the default 30 ms), long enough for the poll above to see it waiting on a loaded machine.
        var options = new ConstraintOptions(TimeSpan.FromMilliseconds(200), 10) { BlockingTryTimeout = TimeSpan.FromMilliseconds(200) };
        var result = await AddAsync(db, ConstraintSqliteTests.GoalsSpec("check"), options: options);
        await release;

        Assert.Equal(ConstraintStatus.Added, result.Status);
        Assert.InRange(result.LockWaitRetries, 1, 10);
    }

    [Fact]
    public async Task A_lock_held_throughout_gives_LockTimeout_after_the_retries_and_leaves_nothing_behind()
    {
        var (database, db) = await GoalsAsync(ConstraintSqliteTests.CleanUp("notnull"));
        var before = Snapshot(database);
        await using var blocker = new NpgsqlConnection(cluster.ConnectionString(database));
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await new NpgsqlCommand("LOCK TABLE goals IN ACCESS SHARE MODE", blocker, transaction).ExecuteNonQueryAsync();
        var observer = new RecordingObserver();

        var error = await Assertions.ThrowsDbOps(ErrorIds.LockTimeout, () =>
            AddAsync(db, ConstraintSqliteTests.GoalsSpec("notnull"), observer, new ConstraintOptions(TimeSpan.FromMilliseconds(100), 2)));

        Assert.Contains("(2 retries)", error.Message);
        Assert.Equal(2, observer.VerboseMessages.Count(m => m.Contains("retry", StringComparison.Ordinal)));
        await transaction.RollbackAsync();
        Assert.Equal(before, Snapshot(database));
    }

    [Fact]
    public async Task Bad_input_fails_with_stable_ids_and_changes_nothing()
    {
        var (database, db) = await GoalsAsync();
        var before = Snapshot(database);

        var parser = await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => AddAsync(db, ConstraintSpec.Check("goals", "deadline >= ")));
        Assert.Contains("syntax error", parser.Message);
        await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => AddAsync(db, ConstraintSpec.Check("goals", "deadline + 1")));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => AddAsync(db, ConstraintSpec.Check("goals", "true); DROP TABLE goals; --")));
        // Escape strings and dollar quoting could hide a ';' or ')' from the lexer; they are refused outright.
        await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => AddAsync(db, ConstraintSpec.Check("goals",
            "title <> E'\\'' ) NOT VALID; COMMIT; DROP TABLE sessions; ALTER TABLE goals ADD CONSTRAINT k CHECK (1 <> E'\\''")));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => AddAsync(db, ConstraintSpec.Check("goals", "title <> $$;$$")));
        Assert.Equal(2000L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM sessions"));
        await Assertions.ThrowsDbOps(ErrorIds.TableNotFound, () => AddAsync(db, ConstraintSpec.NotNull("nope.goals", "root_id")));
        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound, () => AddAsync(db, ConstraintSpec.Unique("goals", ["id", "nope"])));
        await Assertions.ThrowsDbOps(ErrorIds.ReferencedKeyMissing, () => AddAsync(db, ConstraintSpec.ForeignKey("goals", ["parent_id"], "sessions", ["goal_id"])));
        await Assertions.ThrowsDbOps(ErrorIds.ConstraintNameTaken, () => AddAsync(db, ConstraintSpec.Check("goals", "id > 0", "goals_pkey")));
        Assert.Equal(before, Snapshot(database));
    }

    [Fact]
    public async Task An_existing_check_counts_as_present_only_when_the_server_prints_it_the_same()
    {
        var (database, db) = await GoalsAsync("ALTER TABLE goals ADD CONSTRAINT goals_shape CHECK ((status = 'done' OR id > 0) AND title <> '')");

        var respelled = await AddAsync(db, ConstraintSpec.Check("goals", "(( STATUS = 'done' or ID > 0 )) AND (title <> '')"));
        var regrouped = await ConstraintService.PlanAsync(db, ConstraintSpec.Check("goals", "status = 'done' OR id > 0 AND title <> ''"),
            Options, NullObserver.Instance, CancellationToken.None);

        Assert.Equal((ConstraintStatus.AlreadyPresent, "goals_shape"), (respelled.Status, respelled.Name));
        Assert.Null(regrouped.Outcome);
        Assert.Equal(0L, cluster.Scalar<long>(database, "SELECT count(*) FROM pg_class WHERE relname = 'dbops_probe'"));
    }

    [Theory]
    [InlineData("check", "UPDATE goals SET deadline = created_at - 1 WHERE id IN (7, 8)")]
    [InlineData("unique", "INSERT INTO activity_groups VALUES (90, 1, 'Study 1 (41)')")]
    [InlineData("notnull", "UPDATE goals SET root_id = NULL WHERE id = 7")]
    [InlineData("fk", "UPDATE sessions SET goal_id = 999 WHERE id = 1")]
    public async Task Rows_that_appear_after_the_preflight_fail_the_change_and_everything_done_is_undone(string kind, string dirty)
    {
        var (database, db) = await GoalsAsync(ConstraintSqliteTests.CleanUp(kind));
        var plan = await ConstraintService.PlanAsync(db, ConstraintSqliteTests.GoalsSpec(kind), Options, NullObserver.Instance, CancellationToken.None);
        Assert.Null(plan.Outcome);
        cluster.Execute(database, dirty);
        var before = Snapshot(database);

        var error = await Assertions.ThrowsDbOps(ErrorIds.ConstraintViolations, () =>
            ConstraintService.ApplyAsync(plan, Options, NullObserver.Instance, CancellationToken.None));

        Assert.Contains("Everything done before it was undone", error.Message);
        Assert.Equal(before, Snapshot(database));
        Assert.Equal(0L, cluster.Scalar<long>(database, "SELECT count(*) FROM pg_index WHERE NOT indisvalid"));
    }

    [Fact]
    public async Task Hostile_schema_table_and_column_names_are_quoted_in_every_statement()
    {
        var database = cluster.CreateDatabase();
        // One statement per call: the setup itself must not depend on how a client splits a script at ';'.
        foreach (var sql in new[]
        {
            "CREATE SCHEMA \"Odd \"\"Schema\"\"\"",
            "CREATE TABLE \"Odd \"\"Schema\"\"\".parents (\"Key; DROP\" int PRIMARY KEY)",
            "CREATE TABLE \"Odd \"\"Schema\"\"\".\"Tab'le\" (\"We ird\" int, \"p\"\"k\" int, id int PRIMARY KEY)",
            "INSERT INTO \"Odd \"\"Schema\"\"\".parents VALUES (1), (2)",
            "INSERT INTO \"Odd \"\"Schema\"\"\".\"Tab'le\" VALUES (1, 1, 1), (2, 2, 2)",
        })
        {
            cluster.Execute(database, sql);
        }
        var db = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);
        const string table = "\"Odd \"\"Schema\"\"\".\"Tab'le\"";

        var results = new[]
        {
            await AddAsync(db, ConstraintSpec.Check(table, "\"We ird\" > 0")),
            await AddAsync(db, ConstraintSpec.Unique(table, ["We ird"])),
            await AddAsync(db, ConstraintSpec.NotNull(table, "We ird")),
            await AddAsync(db, ConstraintSpec.ForeignKey(table, ["We ird"], "\"Odd \"\"Schema\"\"\".parents", ["Key; DROP"])),
        };

        Assert.All(results, r => Assert.Equal(ConstraintStatus.Added, r.Status));
        Assert.Equal("Odd \"Schema\"", results[0].Schema);
        Assert.Equal("Tab'le_We ird_key", results[1].Name);
    }

    [Fact]
    public async Task A_connection_lost_during_VALIDATE_is_ConnectionLost_and_leaves_no_NOT_VALID_constraint()
    {
        var db = await cluster.CreateConnectedAsync("CREATE TABLE big AS SELECT g AS v, md5(g::text) AS s FROM generate_series(1, 3000000) g");

        var add = AddAsync(db, ConstraintSpec.Check("big", "v >= 0 AND length(s) = 32", "big_v_check"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (cluster.Scalar<long>("postgres", $"SELECT count(*) FROM pg_stat_activity WHERE datname = '{db.Database}' AND state = 'active' AND query ILIKE '%VALIDATE CONSTRAINT%'") == 0)
        {
            Assert.False(add.IsCompleted, "the run ended before VALIDATE could be interrupted");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "VALIDATE never ran");
            await Task.Delay(5);
        }
        cluster.Execute("postgres", $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db.Database}' AND query ILIKE '%VALIDATE CONSTRAINT%'");

        var error = await Assertions.ThrowsDbOps(ErrorIds.ConnectionLost, () => add);
        Assert.Equal(0L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM pg_constraint WHERE conname = 'big_v_check'"));
    }

    [Fact]
    public async Task A_NOT_NULL_run_stopped_before_dropping_its_helper_check_is_finished_by_the_rerun()
    {
        // What a run killed just before its last step leaves: the column NOT NULL and the validated helper check.
        var db = await cluster.CreateConnectedAsync("""
            CREATE TABLE tags (name text, n int); INSERT INTO tags VALUES ('a', 1);
            ALTER TABLE tags ADD CONSTRAINT tags_n_not_null CHECK (n IS NOT NULL);
            ALTER TABLE tags ALTER COLUMN n SET NOT NULL;
            """);

        var rerun = await AddAsync(db, ConstraintSpec.NotNull("tags", "n"));

        Assert.Equal(ConstraintStatus.Added, rerun.Status);
        Assert.Equal(0L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM pg_constraint WHERE conname = 'tags_n_not_null'"));
        Assert.Equal(ConstraintStatus.AlreadyPresent, (await AddAsync(db, ConstraintSpec.NotNull("tags", "n"))).Status);
    }

    [Fact]
    public async Task A_table_without_a_primary_key_samples_rows_by_ctid()
    {
        var db = await cluster.CreateConnectedAsync("CREATE TABLE tags (name text, n int); INSERT INTO tags VALUES ('a', 1), ('b', NULL), ('a', 2), ('a', NULL)");

        var unique = await AddAsync(db, ConstraintSpec.Unique("tags", ["name"]));
        var notNull = await AddAsync(db, ConstraintSpec.NotNull("tags", "n"));

        Assert.Equal((ConstraintStatus.Blocked, 2L), (unique.Status, unique.ViolationCount));
        Assert.Equal(["(0,3)", "(0,4)"], unique.Sample);
        Assert.Equal(["(0,2)", "(0,4)"], notNull.Sample);
        Assert.StartsWith("SELECT c.ctid, c.*", notNull.ViolationQuery);
    }

    [Fact]
    public async Task A_user_who_may_read_but_not_alter_the_table_gets_InsufficientPrivilege_and_nothing_changes()
    {
        var (database, _) = await GoalsAsync(ConstraintSqliteTests.CleanUp("check"));
        var user = "reader_" + Guid.NewGuid().ToString("N")[..8];
        cluster.Execute(database, $"CREATE ROLE {user} LOGIN PASSWORD 'pw-{user}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {user}");
        var before = Snapshot(database);
        var reader = await DatabaseConnector.ConnectPostgresAsync(
            new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database)) { Username = user, Password = $"pw-{user}" }.ConnectionString,
            null, null, CancellationToken.None);

        await Assertions.ThrowsDbOps(ErrorIds.InsufficientPrivilege, () => AddAsync(reader, ConstraintSqliteTests.GoalsSpec("check")));

        Assert.Equal(before, Snapshot(database));
    }

    /// <summary>Constraints, indexes and the rows of every table, to prove that nothing changed.</summary>
    private string Snapshot(string database) => cluster.Scalar<string>(database, """
        SELECT (SELECT string_agg(conname || ':' || pg_get_constraintdef(oid) || convalidated, ';' ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace)
            || (SELECT string_agg(indexname || ':' || indexdef, ';' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public')
            || (SELECT string_agg(attrelid::regclass || '.' || attname || attnotnull, ';' ORDER BY attrelid, attnum) FROM pg_attribute WHERE attrelid IN ('goals'::regclass, 'sessions'::regclass, 'activity_groups'::regclass) AND attnum > 0)
            || (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM goals t) || (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM sessions t)
            || (SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM activity_groups t)
        """);

    private string Checksum(string database, string table) =>
        cluster.Scalar<string>(database, $"SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM {table} t");

    private string Indexes(string database) =>
        cluster.Scalar<string>(database, "SELECT string_agg(indexname, ';' ORDER BY indexname) || ';' FROM pg_indexes WHERE schemaname = 'public'");
}
