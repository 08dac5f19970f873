using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Indexes;
using DbOps.Core.Performance;
using DbOps.Core.Schema;

namespace DbOps.Core.Tests;

/// <summary>Measure-QueryPerformance and the index finders on the goals tracker (examples/goals-tracker.sql).</summary>
public sealed class QueryPerformanceSqliteTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static Task<QueryBenchmark> Measure(DbOpsConnection db, string sql, object? goal = null, QueryBenchmark? baseline = null, bool allowWrite = false) =>
        QueryMeasurement.MeasureAsync(
            new QueryMeasurementRequest(db, sql, goal is null ? null : new Dictionary<string, object?> { ["goal"] = goal }, 15, 2, allowWrite, baseline),
            NullObserver.Instance, CancellationToken.None);

    [Fact]
    public async Task The_plan_shows_a_full_scan_before_the_index_and_the_index_after_with_the_speed_up_from_the_baseline()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        const string sql = "SELECT s.id FROM sessions AS s WHERE s.goal_id = @goal";

        var before = await Measure(db, sql, 17);
        Assert.Equal(QueryExecutionMode.ReadOnly, before.Mode);
        Assert.Equal(10, before.Rows);
        Assert.Equal(15, before.Iterations);
        var scan = Assert.Single(before.Plan.SequentialScans);
        Assert.Equal("sessions", scan.Relation);
        Assert.Equal(2000, scan.Rows);
        Assert.Empty(before.Plan.IndexesUsed);
        Assert.True(before.MinMs <= before.MedianMs && before.MedianMs <= before.P95Ms && before.P95Ms <= before.MaxMs);

        var plan = await IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "sessions", ["goal_id"]), CancellationToken.None);
        Assert.Equal(["CREATE INDEX \"ix_sessions_goal_id\" ON \"sessions\" (\"goal_id\")"], plan.Statements);
        Assert.Equal(IndexChangeStatus.Created, (await IndexMaintenance.ApplyAsync(plan, NullObserver.Instance, CancellationToken.None)).Status);

        var after = await Measure(db, sql, 17, before);
        Assert.Empty(after.Plan.SequentialScans);
        Assert.Equal(["ix_sessions_goal_id"], after.Plan.IndexesUsed);
        Assert.Equal("SEARCH", after.Plan.NodeTypes[0]);
        Assert.True(after.PlanChanged);
        Assert.Equal(before.MedianMs, after.BaselineMedianMs);
        Assert.Equal(before.MedianMs / after.MedianMs, after.SpeedUp!.Value, 9);
    }

    [Fact]
    public async Task A_DELETE_measured_without_AllowWrite_leaves_the_table_unchanged()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        const string delete = "DELETE FROM activity_instances WHERE group_id = @goal";
        var matching = (await Measure(db, "SELECT * FROM activity_instances WHERE group_id = @goal", 7)).Rows;

        var result = await Measure(db, delete, 7);

        Assert.Equal(QueryExecutionMode.RolledBack, result.Mode);
        Assert.True(matching > 0);
        Assert.Equal(matching, result.Rows); // every execution saw the same rows: each was rolled back
        Assert.Equal(6000, Sqlite.Count(db.Database, "activity_instances"));

        var committed = await Measure(db, delete, 7, allowWrite: true);
        Assert.Equal(QueryExecutionMode.Committed, committed.Mode);
        Assert.Equal(6000 - matching, Sqlite.Count(db.Database, "activity_instances"));
    }

    [Fact]
    public async Task More_than_one_statement_is_InvalidQuery_and_a_hidden_write_cannot_happen()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        await Assertions.ThrowsDbOps(ErrorIds.InvalidQuery, () => Measure(db, "SELECT 1; DELETE FROM sessions"));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidQuery, () => Measure(db, "-- nothing but a comment"));
        Assert.Equal(1, (await Measure(db, "SELECT 1; -- a trailing comment\n;")).Rows);
        await Assertions.ThrowsDbOps(ErrorIds.QueryFailed, () => Measure(db, "SELECT * FROM no_such_table"));
        Assert.Equal(2000, Sqlite.Count(db.Database, "sessions"));
    }

    [Fact]
    public async Task A_set_of_baselines_is_matched_by_query_text()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var one = await Measure(db, "SELECT count(*) FROM goals");
        var two = await Measure(db, "SELECT count(*) FROM sessions");

        Assert.Same(two, QueryMeasurement.SelectBaseline([one, two], "SELECT  count(*)\n FROM sessions;"));
        Assert.Null(QueryMeasurement.SelectBaseline([one, two], "SELECT 1"));
        Assert.Same(one, QueryMeasurement.SelectBaseline([one], "SELECT 1"));
    }

    [Fact]
    public async Task Find_MissingIndex_reports_exactly_the_declared_and_the_inferred_foreign_keys_without_an_index()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var missing = await IndexAdvisor.FindMissingAsync(db, NullObserver.Instance, CancellationToken.None);

        Assert.Equal(
            ["activity_instances(group_id) Declared ix_activity_instances_group_id", "sessions(goal_id) Inferred ix_sessions_goal_id"],
            missing.Select(m => $"{m.Table}({string.Join(",", m.Columns)}) {m.RelationshipSource} {m.SuggestedName}").Order());
        // activity_instances.session_id has ix_activity_instances_session: not reported.
        Assert.DoesNotContain(missing, m => m.Columns.Contains("session_id"));
    }

    [Fact]
    public async Task Suggested_index_names_never_collide_within_one_run()
    {
        var db = await Sqlite.CreateAsync(_folder.File("names.db"), """
            CREATE TABLE p (x INTEGER, y INTEGER, x_y INTEGER UNIQUE, PRIMARY KEY (x, y));
            CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER, y INTEGER, x_y INTEGER,
                            FOREIGN KEY (x, y) REFERENCES p (x, y), FOREIGN KEY (x_y) REFERENCES p (x_y));
            """);

        var missing = await IndexAdvisor.FindMissingAsync(db, NullObserver.Instance, CancellationToken.None);

        Assert.Equal(["ix_t_x_y", "ix_t_x_y_2"], missing.Select(m => m.SuggestedName).Order());
    }

    [Fact]
    public async Task Find_UnusedIndex_on_SQLite_reports_exactly_the_duplicate_and_overlapping_indexes_and_nothing_backing_a_constraint()
    {
        var path = _folder.File("idx.db");
        var db = await Sqlite.CreateAsync(path, """
            CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, c TEXT UNIQUE, d INTEGER, e INTEGER);
            CREATE INDEX ix_a ON t(a);
            CREATE INDEX ix_a_again ON t (a);
            CREATE INDEX ix_a_b ON t(a, b);
            CREATE INDEX ix_c ON t(c);
            CREATE INDEX ix_c_d ON t(c, d);
            CREATE UNIQUE INDEX ux_d ON t(d);
            CREATE INDEX ix_d_e ON t(d, e);
            CREATE INDEX ix_e_partial ON t(e) WHERE e > 0;
            CREATE INDEX ix_e ON t(e);
            """);

        var findings = await IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(db), NullObserver.Instance, CancellationToken.None);

        Assert.Equal(
            ["ix_a Overlapping ix_a_b", "ix_a_again Duplicate ix_a_b", "ix_c Duplicate sqlite_autoindex_t_1"],
            findings.Select(f => $"{f.Index} {f.Reason} {f.CoveredBy}").Order());
        Assert.All(findings, f => Assert.Equal(IndexVerdict.Redundant, f.Verdict));
        Assert.DoesNotContain(findings, f => f.Index.StartsWith("sqlite_autoindex", StringComparison.Ordinal) || f.Index == "ux_d");

        // The drops go in any order: each redundant index still has the one that stays.
        foreach (var finding in findings)
        {
            var plan = await IndexMaintenance.PlanRemoveAsync(new RemoveIndexRequest(db, finding.Index, finding), CancellationToken.None);
            Assert.Equal($"DROP INDEX \"main\".\"{finding.Index}\"", Assert.Single(plan.Statements));
            await IndexMaintenance.ApplyAsync(plan, NullObserver.Instance, CancellationToken.None);
        }
        Assert.Empty(await IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(db), NullObserver.Instance, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.IndexBacksConstraint,
            () => IndexMaintenance.PlanRemoveAsync(new RemoveIndexRequest(db, "sqlite_autoindex_t_1"), CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.IndexBacksConstraint,
            () => IndexMaintenance.PlanRemoveAsync(new RemoveIndexRequest(db, "ux_d"), CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.IndexNotFound,
            () => IndexMaintenance.PlanRemoveAsync(new RemoveIndexRequest(db, "ix_a"), CancellationToken.None));
    }

    [Fact]
    public async Task Add_SafeIndex_skips_an_index_that_exists_or_whose_columns_an_index_already_leads()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var covered = await IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "activity_instances", ["session_id"]), CancellationToken.None);
        Assert.Equal(IndexChangeStatus.AlreadyCovered, covered.Outcome);
        Assert.Empty(covered.Statements);

        var exists = await IndexMaintenance.PlanAddAsync(
            new AddIndexRequest(db, "activity_instances", ["group_id"], "ix_activity_instances_session"), CancellationToken.None);
        Assert.Equal(IndexChangeStatus.Exists, exists.Outcome);

        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "sessions", ["nope"]), CancellationToken.None));
    }
}
