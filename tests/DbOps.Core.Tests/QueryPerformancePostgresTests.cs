using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Indexes;
using DbOps.Core.Performance;
using DbOps.Core.Schema;
using Npgsql;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class QueryPerformancePostgresTests(PostgresCluster cluster)
{
    private async Task<DbOpsConnection> GoalsAsync()
    {
        var database = cluster.CreateGoalsTracker();
        cluster.Execute(database, "VACUUM ANALYZE");
        return await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);
    }

    private static Task<QueryBenchmark> Measure(DbOpsConnection db, string sql, Dictionary<string, object?>? parameters = null,
                                                QueryBenchmark? baseline = null, bool allowWrite = false) =>
        QueryMeasurement.MeasureAsync(new QueryMeasurementRequest(db, sql, parameters, 15, 2, allowWrite, baseline), NullObserver.Instance, CancellationToken.None);

    [Fact]
    public async Task The_plan_shows_a_seq_scan_before_the_index_and_the_index_after_with_the_speed_up_from_the_baseline()
    {
        var db = await GoalsAsync();
        const string sql = "SELECT s.id, s.started_at FROM sessions s WHERE s.goal_id = @goal";
        var parameters = new Dictionary<string, object?> { ["goal"] = 42 };

        var before = await Measure(db, sql, parameters);
        Assert.Equal(QueryExecutionMode.ReadOnly, before.Mode);
        Assert.Equal(10, before.Rows);
        var scan = Assert.Single(before.Plan.SequentialScans);
        Assert.Equal("public.sessions", scan.Relation);
        Assert.Equal(2000, scan.Rows);
        Assert.True(scan.SizeBytes > 0);
        Assert.Contains("Seq Scan", before.Plan.NodeTypes);
        Assert.Equal(10, before.Plan.ActualRows);
        Assert.NotNull(before.Plan.EstimatedRows);
        Assert.NotNull(before.Plan.ExecutionMs);
        Assert.True(before.Plan.SharedBlocksHit + before.Plan.SharedBlocksRead > 0);

        var plan = await IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "sessions", ["goal_id"]), CancellationToken.None);
        Assert.Equal(["CREATE INDEX CONCURRENTLY \"ix_sessions_goal_id\" ON \"public\".\"sessions\" (\"goal_id\")"], plan.Statements);
        await IndexMaintenance.ApplyAsync(plan, NullObserver.Instance, CancellationToken.None);

        var after = await Measure(db, sql, parameters, before);
        Assert.Empty(after.Plan.SequentialScans);
        Assert.Contains("ix_sessions_goal_id", after.Plan.IndexesUsed);
        Assert.True(after.PlanChanged);
        Assert.Equal(before.MedianMs / after.MedianMs, after.SpeedUp!.Value, 9);

        var lookup = await Measure(db, "SELECT kind FROM activity_instances WHERE id = @goal", parameters);
        Assert.True(lookup.Plan.IndexesUsed.SequenceEqual(["activity_instances_pkey"]), lookup.Plan.Text);
        Assert.Equal(1, lookup.Rows);
    }

    [Fact]
    public async Task A_DELETE_measured_without_AllowWrite_leaves_the_table_unchanged_and_so_does_its_EXPLAIN_ANALYZE()
    {
        var db = await GoalsAsync();

        const string delete = "DELETE FROM activity_instances WHERE group_id = @goal";
        var matching = cluster.Scalar<long>(db.Database, "SELECT count(*) FROM activity_instances WHERE group_id = 7");

        var result = await Measure(db, delete, new() { ["goal"] = 7 });

        Assert.Equal(QueryExecutionMode.RolledBack, result.Mode);
        Assert.Equal(matching, result.Rows); // every execution saw the same rows: each was rolled back
        Assert.Contains("ModifyTable", result.Plan.NodeTypes);
        Assert.Equal(6000L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM activity_instances"));

        // A write hidden in a CTE is a write too.
        var cte = await Measure(db, "WITH d AS (DELETE FROM activity_instances WHERE group_id = @goal RETURNING id) SELECT count(*) FROM d",
                                new() { ["goal"] = 7 });
        Assert.Equal(QueryExecutionMode.RolledBack, cte.Mode);
        Assert.Equal(6000L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM activity_instances"));

        await Measure(db, delete, new() { ["goal"] = 7 }, allowWrite: true);
        // The timed executions committed (the first deleted the rows); the analysed run was rolled back either way.
        Assert.Equal(6000L - matching, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM activity_instances"));
    }

    [Fact]
    public async Task A_SELECT_that_writes_through_a_function_is_refused_as_QueryWouldWrite()
    {
        var db = await GoalsAsync();
        cluster.Execute(db.Database, "CREATE SEQUENCE s");
        await Assertions.ThrowsDbOps(ErrorIds.QueryWouldWrite, () => Measure(db, "SELECT nextval('s')"));
        await Assertions.ThrowsDbOps(ErrorIds.QueryNeedsParameters, () => Measure(db, "SELECT * FROM goals WHERE id = $1"));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidQuery, () => Measure(db, "SELECT 1; SELECT 2"));
        // A second statement is refused before anything is sent, however it is hidden: after a COMMIT that would end the
        // read-only transaction, behind an escape string or a dollar-quoted one. A ';' inside a literal is no separator.
        foreach (var hidden in new[]
        {
            "SELECT 1; DELETE FROM activity_instances",
            "SELECT 1; COMMIT; BEGIN READ WRITE; DELETE FROM activity_instances; COMMIT",
            "SELECT E'\\''; DELETE FROM activity_instances; --'",
            "SELECT $x$;$x$; DELETE FROM activity_instances",
            "SELECT 1 /* nested /* ; */ still a comment ; */; DELETE FROM activity_instances",
        })
        {
            await Assertions.ThrowsDbOps(ErrorIds.InvalidQuery, () => Measure(db, hidden));
        }
        Assert.Equal(6000L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM activity_instances"));
        Assert.Equal(1, (await Measure(db, "SELECT 'a;b', $$;$$, E'\\';' ;")).Rows);
        var positional = await Measure(db, "SELECT * FROM goals WHERE id = $1", new() { ["1"] = 5 });
        Assert.Equal(1, positional.Rows);
        // Text values take the type the statement gives them, as they would in a script.
        var typed = await Measure(db, "SELECT * FROM goals WHERE created_at >= @d AND id = @id", new() { ["d"] = "2023-01-01", ["id"] = "7" });
        Assert.Equal(1, typed.Rows);
    }

    [Fact]
    public async Task Find_MissingIndex_reports_exactly_the_declared_and_the_inferred_foreign_keys_without_an_index()
    {
        var db = await GoalsAsync();

        var missing = await IndexAdvisor.FindMissingAsync(db, NullObserver.Instance, CancellationToken.None);

        Assert.Equal(
            ["public.activity_instances(group_id) Declared", "public.sessions(goal_id) Inferred"],
            missing.Select(m => $"{m.Table}({string.Join(",", m.Columns)}) {m.RelationshipSource}").Order());
    }

    [Fact]
    public async Task Find_UnusedIndex_reports_exactly_the_unused_duplicate_and_overlapping_indexes_and_nothing_backing_a_constraint()
    {
        var db = await cluster.CreateConnectedAsync("""
            CREATE TABLE t (id integer PRIMARY KEY, a integer, b integer, c integer, d integer UNIQUE, r int4range,
                            EXCLUDE USING gist (r WITH &&));
            INSERT INTO t SELECT i, i % 100, i % 7, i % 1000, i, int4range(i * 10, i * 10 + 5) FROM generate_series(1, 20000) i;
            CREATE INDEX ix_unused ON t (b);
            CREATE INDEX ix_c_1 ON t (c);
            CREATE INDEX ix_prefix ON t (a);
            CREATE INDEX ix_wide ON t (a, c);
            CREATE UNIQUE INDEX ux_id_c ON t (id, c);
            """);
        cluster.Execute(db.Database, "VACUUM ANALYZE t");
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString(db.Database)))
        {
            await connection.OpenAsync();
            foreach (var sql in new[]
            {
                "SET enable_seqscan = off", "SET enable_bitmapscan = off",
                "SELECT count(*) FROM t WHERE c = 5", "SELECT count(*) FROM t WHERE a = 5 AND c = 5",
                "SELECT pg_stat_force_next_flush()", "SELECT 1",
            })
            {
                await new NpgsqlCommand(sql, connection).ExecuteNonQueryAsync();
            }
        }
        // Created after the queries, so it has no scans: the duplicate of ix_c_1, which has.
        cluster.Execute(db.Database, "CREATE INDEX ix_c_2 ON t (c)");

        var findings = await IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(db, TimeSpan.Zero), NullObserver.Instance, CancellationToken.None);

        Assert.Equal(
            ["ix_c_2 Duplicate Redundant ix_c_1", "ix_prefix Overlapping Redundant ix_wide", "ix_unused Unused Unused "],
            findings.Select(f => $"{f.Index} {f.Reason} {f.Verdict} {f.CoveredBy}").Order());
        Assert.All(findings, f => Assert.True(f.StatsAge >= TimeSpan.Zero));

        // With the default 7-day rule a fresh cluster's statistics prove nothing: Unknown, and no drop without -Force.
        var young = await IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(db), NullObserver.Instance, CancellationToken.None);
        var unknown = Assert.Single(young, f => f.Reason == IndexFindingReason.Unused);
        Assert.Equal(IndexVerdict.Unknown, unknown.Verdict);
        Assert.Contains("at least 7 days", unknown.Evidence);
        await Assertions.ThrowsDbOps(ErrorIds.IndexInUse,
            () => IndexMaintenance.PlanRemoveAsync(new RemoveIndexRequest(db, unknown.Index, unknown), CancellationToken.None));

        foreach (var name in new[] { "t_pkey", "t_d_key", "t_r_excl", "ux_id_c" })
        {
            await Assertions.ThrowsDbOps(ErrorIds.IndexBacksConstraint,
                () => IndexMaintenance.PlanRemoveAsync(new RemoveIndexRequest(db, "public." + name), CancellationToken.None));
        }

        var unused = findings.Single(f => f.Index == "ix_unused");
        var drop = await IndexMaintenance.PlanRemoveAsync(new RemoveIndexRequest(db, unused.Index, unused), CancellationToken.None);
        Assert.Equal(["DROP INDEX CONCURRENTLY \"public\".\"ix_unused\""], drop.Statements);
        Assert.Equal(IndexChangeStatus.Dropped, (await IndexMaintenance.ApplyAsync(drop, NullObserver.Instance, CancellationToken.None)).Status);
        Assert.Equal(0L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_unused'"));
    }

    [Fact]
    public async Task An_unused_index_scanned_after_it_was_reported_is_not_dropped()
    {
        var db = await cluster.CreateConnectedAsync("""
            CREATE TABLE t (id integer PRIMARY KEY, b integer);
            INSERT INTO t SELECT i, i FROM generate_series(1, 5000) i;
            CREATE INDEX ix_b ON t (b);
            """);
        cluster.Execute(db.Database, "VACUUM ANALYZE t");
        var finding = Assert.Single(await IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(db, TimeSpan.Zero), NullObserver.Instance, CancellationToken.None));
        cluster.Execute(db.Database, "SET enable_seqscan = off; SELECT count(*) FROM t WHERE b = 7; SELECT pg_stat_force_next_flush();");
        cluster.Execute(db.Database, "SELECT 1");

        await Assertions.ThrowsDbOps(ErrorIds.IndexInUse,
            () => IndexMaintenance.PlanRemoveAsync(new RemoveIndexRequest(db, finding.Index, finding), CancellationToken.None));
    }

    [Fact]
    public async Task Add_SafeIndex_drops_the_INVALID_leftover_of_a_failed_concurrent_build_and_builds_it_again()
    {
        var db = await cluster.CreateConnectedAsync("""
            CREATE TABLE t (id integer PRIMARY KEY, b integer);
            INSERT INTO t SELECT i, i % 10 FROM generate_series(1, 1000) i;
            """);
        // A unique build over duplicates fails and leaves an INVALID index behind, as an interrupted build does.
        Assert.ThrowsAny<PostgresException>(() => cluster.Execute(db.Database, "CREATE UNIQUE INDEX CONCURRENTLY ix_t_b ON t (b)"));
        Assert.False(cluster.Scalar<bool>(db.Database, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_t_b'::regclass"));

        var plan = await IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "t", ["b"], "ix_t_b"), CancellationToken.None);
        Assert.Equal(["DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"ix_t_b\"", "CREATE INDEX CONCURRENTLY \"ix_t_b\" ON \"public\".\"t\" (\"b\")"], plan.Statements);
        var change = await IndexMaintenance.ApplyAsync(plan, NullObserver.Instance, CancellationToken.None);

        Assert.True(change.ReplacedInvalid);
        Assert.True(cluster.Scalar<bool>(db.Database, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_t_b'::regclass"));
    }

    [Fact]
    public async Task A_failed_build_is_IndexBuildFailed_and_its_cleanup_never_touches_another_relation_of_that_name()
    {
        var db = await cluster.CreateConnectedAsync("""
            CREATE TABLE t (id integer PRIMARY KEY, b integer);
            CREATE VIEW v AS SELECT 1 AS x;
            """);
        var plan = await IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "t", ["b"], "v"), CancellationToken.None);

        await Assertions.ThrowsDbOps(ErrorIds.IndexBuildFailed, () => IndexMaintenance.ApplyAsync(plan, NullObserver.Instance, CancellationToken.None));
        Assert.Equal(1L, cluster.Scalar<long>(db.Database, "SELECT count(*) FROM pg_views WHERE viewname = 'v'"));
    }

    [Fact]
    public async Task Get_SlowQuery_flags_the_N_plus_1_loop_and_says_clearly_when_pg_stat_statements_is_missing()
    {
        var db = await GoalsAsync();
        await Assertions.ThrowsDbOps(ErrorIds.StatStatementsUnavailable,
            () => SlowQueries.GetAsync(new SlowQueryRequest(db), NullObserver.Instance, CancellationToken.None));

        cluster.Execute(db.Database, "CREATE EXTENSION pg_stat_statements");
        cluster.Execute(db.Database, "SELECT pg_stat_statements_reset()");
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString(db.Database)))
        {
            await connection.OpenAsync();
            for (var id = 1; id <= 1200; id++)
            {
                await using var command = new NpgsqlCommand("SELECT title FROM goals WHERE id = $1", connection) { Parameters = { new() { Value = id % 200 + 1 } } };
                await command.ExecuteScalarAsync();
            }
            await new NpgsqlCommand("SELECT count(*) FROM sessions a CROSS JOIN goals b WHERE a.notes IS NOT NULL", connection).ExecuteScalarAsync();
        }

        var slow = await SlowQueries.GetAsync(new SlowQueryRequest(db, Top: 5), NullObserver.Instance, CancellationToken.None);

        var loop = Assert.Single(slow, s => s.Query.Contains("FROM goals WHERE id = $1", StringComparison.Ordinal));
        Assert.True(loop.LikelyNPlusOne);
        Assert.Equal(1, loop.ParameterCount);
        Assert.True(loop.Calls >= 1200);
        var cross = Assert.Single(slow, s => s.Query.Contains("CROSS JOIN", StringComparison.Ordinal));
        Assert.False(cross.LikelyNPlusOne);
        Assert.Equal(0, cross.ParameterCount);
        // Other statements of this database (Npgsql's type loading on connect) may rank first by mean on a busy machine.
        Assert.True(cross.RankByMean < loop.RankByMean, $"cross join ranked {cross.RankByMean} by mean, the loop {loop.RankByMean}");
        Assert.All(slow, s => Assert.Equal(db.Database, s.Database));
    }
}
