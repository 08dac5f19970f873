using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Integrity;
using DbOps.Core.Schema;
using Npgsql;
using static DbOps.Core.Tests.GoalsDefects;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class PostgresIntegrityTests(PostgresCluster cluster)
{
    private Task<DbOpsConnection> ConnectAsync(string database, string? user = null, string? password = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database));
        if (user is not null)
        {
            (builder.Username, builder.Password) = (user, password);
        }
        return DatabaseConnector.ConnectPostgresAsync(builder.ConnectionString, null, null, CancellationToken.None);
    }

    /// <summary>The goals tracker with one more seeded defect PostgreSQL can hold: the deadline rule as a NOT VALID check.</summary>
    private string CreateGoals()
    {
        var database = cluster.CreateGoalsTracker();
        cluster.Execute(database, "ALTER TABLE goals ADD CONSTRAINT goals_deadline_check CHECK (deadline >= created_at) NOT VALID");
        return database;
    }

    /// <summary>Every user table's full contents as one hash per table.</summary>
    private Dictionary<string, string> Contents(string database)
    {
        using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
        connection.Open();
        var tables = new List<string>();
        using (var list = new NpgsqlCommand(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')", connection))
        using (var reader = list.ExecuteReader())
        {
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }
        return tables.ToDictionary(t => t, t =>
        {
            using var hash = new NpgsqlCommand($"SELECT md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) || count(*) FROM ONLY {t} x", connection);
            return (string)hash.ExecuteScalar()!;
        });
    }

    [Fact]
    public async Task Goals_tracker_findings_are_the_seeded_defects_with_the_same_keys_as_on_sqlite()
    {
        var db = await ConnectAsync(CreateGoals());

        var report = await RunAsync(Request(db));

        var sessions = Single(report, IntegrityCheck.OrphanedRows, "sessions");
        Assert.Equal((11L, RelationshipSource.Inferred), (sessions.Count, sessions.Relationship!.Value));
        Assert.Equal(OrphanedSessions, sessions.Sample);
        var activities = Single(report, IntegrityCheck.OrphanedRows, "activity_instances");
        Assert.Equal((25L, RelationshipSource.Declared, "activity_instances_session_id_fkey"), (activities.Count, activities.Relationship!.Value, activities.ConstraintName));
        Assert.Equal(OrphanedActivities, activities.Sample);
        Assert.Equal("public.activity_instances: FOREIGN KEY (session_id) REFERENCES public.sessions (id)", activities.SuggestedConstraint!.ToString());
        Assert.Equal(NullRoots, Single(report, IntegrityCheck.NullValues, "goals").Sample);
        var deadlines = Single(report, IntegrityCheck.CheckViolation, "goals");
        Assert.Equal((5L, "goals_deadline_check"), (deadlines.Count, deadlines.ConstraintName));
        Assert.Equal(EarlyDeadlines, deadlines.Sample);
        Assert.Equal(DuplicateGroups, Single(report, IntegrityCheck.DuplicateKeys, "activity_groups").Sample);
        Assert.Equal(5, report.Findings.Count);
        Assert.Equal(0, report.CouldNotRunCount);
    }

    [Fact]
    public async Task Each_findings_Query_lists_the_same_rows_and_the_run_changes_no_table()
    {
        var database = CreateGoals();
        var before = Contents(database);

        var report = await RunAsync(Request(await ConnectAsync(database), IntegrityLevel.Full));

        Assert.Equal(4, report.Findings.Count(f => f.Severity == IntegritySeverity.Error)); // the inferred orphans are a Warning
        await AssertQueriesListTheSameRowsAsync(report, async () =>
        {
            var connection = new NpgsqlConnection(cluster.ConnectionString(database));
            await connection.OpenAsync();
            return connection;
        });
        Assert.Equal(before, Contents(database));
    }

    [Fact]
    public async Task A_condition_that_would_write_is_stopped_by_the_read_only_transaction()
    {
        var database = cluster.CreateGoalsTracker();
        cluster.Execute(database, "CREATE SEQUENCE s");
        var db = await ConnectAsync(database);

        var report = await RunAsync(new IntegrityRequest(db) { Conditions = [new ConditionSpec("goals", "nextval('s') < 0")] });

        var failed = Assert.Single(report.Checks, c => c.Status == IntegrityCheckStatus.CouldNotRun);
        Assert.Equal(IntegrityCheck.CheckViolation, failed.Check);
        Assert.Contains("read-only transaction", failed.ErrorMessage);
        Assert.Equal(2, report.Findings.Count(f => f.Check == IntegrityCheck.OrphanedRows)); // the other checks went on
        Assert.False(cluster.Scalar<bool>(database, "SELECT is_called FROM s"));
    }

    [Fact]
    public async Task A_table_the_user_may_not_read_is_reported_and_the_others_are_checked()
    {
        var database = cluster.CreateGoalsTracker();
        var role = "auditor_" + Guid.NewGuid().ToString("N")[..8];
        cluster.Execute(database, $"""
            CREATE ROLE {role} LOGIN PASSWORD 'pw';
            GRANT SELECT ON goals, activity_instances, activity_groups, legacy_imports, tmp_migration_2019 TO {role};
            """);
        var db = await ConnectAsync(database, role, "pw");

        var report = await RunAsync(new IntegrityRequest(db));

        var denied = report.Checks.Where(c => c.Status == IntegrityCheckStatus.CouldNotRun).ToList();
        Assert.Equal(["activity_instances", "sessions"], denied.Select(c => c.Table!.Replace("public.", "")).Order());
        Assert.All(denied, c => Assert.Equal(ErrorIds.InsufficientPrivilege, c.ErrorId));
        Assert.Contains(report.Checks, c => c.Table == "public.activity_instances" && c.Status == IntegrityCheckStatus.Passed); // group_id -> activity_groups
    }

    [Fact]
    public async Task Quick_trusts_validated_foreign_keys_but_Standard_finds_rows_loaded_with_triggers_disabled()
    {
        var database = cluster.CreateDatabase();
        cluster.Execute(database, """
            CREATE TABLE parent (id int PRIMARY KEY);
            CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent(id));
            INSERT INTO parent VALUES (1);
            ALTER TABLE child DISABLE TRIGGER ALL;
            INSERT INTO child VALUES (1, 1), (2, 2), (3, 3);
            ALTER TABLE child ENABLE TRIGGER ALL;
            """);
        var db = await ConnectAsync(database);

        var quick = await RunAsync(new IntegrityRequest(db) { Level = IntegrityLevel.Quick });
        var standard = await RunAsync(new IntegrityRequest(db));

        Assert.DoesNotContain(quick.Checks, c => c.Check == IntegrityCheck.OrphanedRows);
        Assert.Equal(["2", "3"], Single(standard, IntegrityCheck.OrphanedRows, "child").Sample);
    }

    [Fact]
    public async Task Full_warns_when_amcheck_is_missing_and_checks_every_btree_index_when_it_is_there()
    {
        var database = cluster.CreateGoalsTracker();
        var db = await ConnectAsync(database);

        var without = await RunAsync(new IntegrityRequest(db) { Level = IntegrityLevel.Full, Checks = [IntegrityCheck.StorageIntegrity] });
        cluster.Execute(database, "CREATE EXTENSION amcheck");
        var with = await RunAsync(new IntegrityRequest(db) { Level = IntegrityLevel.Full, Checks = [IntegrityCheck.StorageIntegrity] });

        var warning = Assert.Single(without.Findings);
        Assert.Equal((IntegrityCheck.StorageIntegrity, IntegritySeverity.Warning, null), (warning.Check, warning.Severity, warning.Table));
        Assert.Contains("CREATE EXTENSION amcheck", warning.Message);
        Assert.Empty(with.Findings);
        Assert.Equal(6, with.Checks.Count(c => c.Status == IntegrityCheckStatus.Passed));
    }

    [Fact]
    public async Task The_clean_Pagila_sample_has_no_findings()
    {
        var db = await ConnectAsync(cluster.CreatePagila());

        var report = await RunAsync(new IntegrityRequest(db));

        Assert.Empty(report.Findings);
        Assert.Equal(0, report.CouldNotRunCount);
        Assert.True(report.Checks.Count(c => c.Check == IntegrityCheck.OrphanedRows) > 20, "every declared foreign key, partitions included");
    }

    [Fact]
    public async Task An_unknown_column_stops_the_run_with_ColumnNotFound()
    {
        var db = await ConnectAsync(cluster.CreateGoalsTracker());

        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound, () => RunAsync(new IntegrityRequest(db) { RequiredColumns = [new ColumnSpec("goals", ["rootid"])] }));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidSpecification, () => RunAsync(new IntegrityRequest(db) { Conditions = [new ConditionSpec("goals", "deadline >")] }));
    }

    [Fact]
    public async Task A_table_without_a_key_is_sampled_by_ctid_and_its_Query_lists_the_same_rows()
    {
        var database = cluster.CreateDatabase();
        cluster.Execute(database, "CREATE TABLE log (msg text, level int); INSERT INTO log VALUES ('a', 1), ('b', NULL), ('c', 2), ('d', NULL)");
        var db = await ConnectAsync(database);

        var report = await RunAsync(new IntegrityRequest(db) { RequiredColumns = [new ColumnSpec("log", ["level"])] });

        var nulls = Single(report, IntegrityCheck.NullValues, "log");
        Assert.Equal(["ctid"], nulls.SampleKeyColumns);
        Assert.Equal(["(0,2)", "(0,4)"], nulls.Sample);
        await AssertQueriesListTheSameRowsAsync(report, async () =>
        {
            var connection = new NpgsqlConnection(cluster.ConnectionString(database));
            await connection.OpenAsync();
            return connection;
        });
    }
}
