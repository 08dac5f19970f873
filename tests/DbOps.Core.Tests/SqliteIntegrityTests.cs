using System.Security.Cryptography;
using DbOps.Core.Constraints;
using DbOps.Core.Errors;
using DbOps.Core.Integrity;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;
using static DbOps.Core.Tests.GoalsDefects;

namespace DbOps.Core.Tests;

public sealed class SqliteIntegrityTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Goals_tracker_findings_are_exactly_the_seeded_defects_with_their_keys()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var report = await RunAsync(Request(db));

        var sessions = Single(report, IntegrityCheck.OrphanedRows, "sessions");
        Assert.Equal((11L, RelationshipSource.Inferred, IntegritySeverity.Warning), (sessions.Count, sessions.Relationship!.Value, sessions.Severity));
        Assert.Equal(OrphanedSessions, sessions.Sample);
        Assert.Equal(["goal_id"], sessions.Columns);
        Assert.Equal("goals", sessions.ReferencedTable);
        Assert.Equal(["id"], sessions.ReferencedColumns);
        Assert.Equal(["id"], sessions.SampleKeyColumns);

        var activities = Single(report, IntegrityCheck.OrphanedRows, "activity_instances");
        Assert.Equal((25L, RelationshipSource.Declared, IntegritySeverity.Error), (activities.Count, activities.Relationship!.Value, activities.Severity));
        Assert.Equal(OrphanedActivities, activities.Sample);

        var roots = Single(report, IntegrityCheck.NullValues, "goals");
        Assert.Equal((7L, NullRoots.Length), (roots.Count, roots.Sample.Count));
        Assert.Equal(NullRoots, roots.Sample);
        var deadlines = Single(report, IntegrityCheck.CheckViolation, "goals");
        Assert.Equal(5L, deadlines.Count);
        Assert.Equal(EarlyDeadlines, deadlines.Sample);
        var groups = Single(report, IntegrityCheck.DuplicateKeys, "activity_groups");
        Assert.Equal(4L, groups.Count);
        Assert.Equal(DuplicateGroups, groups.Sample);
        Assert.Equal(5, report.Findings.Count);
        Assert.Equal(0, report.CouldNotRunCount);

        // Every check × table ran, including the ones that found nothing (the group_id foreign key, quick_check).
        Assert.Contains(report.Checks, c => c.Check == IntegrityCheck.OrphanedRows && c.Table == "activity_instances"
                                            && c.Columns.SequenceEqual(["group_id"]) && c.Status == IntegrityCheckStatus.Passed);
        Assert.Contains(report.Checks, c => c.Check == IntegrityCheck.StorageIntegrity && c.Status == IntegrityCheckStatus.Passed);
    }

    [Fact]
    public async Task Each_finding_suggests_the_constraint_that_would_have_prevented_it()
    {
        var report = await RunAsync(Request(await Sqlite.GoalsTrackerAsync(_folder)));

        Assert.Equal("sessions: FOREIGN KEY (goal_id) REFERENCES goals (id)", Single(report, IntegrityCheck.OrphanedRows, "sessions").SuggestedConstraint!.ToString());
        Assert.Equal("goals: NOT NULL (root_id)", Single(report, IntegrityCheck.NullValues, "goals").SuggestedConstraint!.ToString());
        Assert.Equal("goals: CHECK (deadline >= created_at)", Single(report, IntegrityCheck.CheckViolation, "goals").SuggestedConstraint!.ToString());
        Assert.Equal("activity_groups: UNIQUE (root_id, name)", Single(report, IntegrityCheck.DuplicateKeys, "activity_groups").SuggestedConstraint!.ToString());
    }

    [Fact]
    public async Task Each_findings_Query_lists_the_same_rows_it_counted_and_sampled()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var report = await RunAsync(Request(db, IntegrityLevel.Full));

        await AssertQueriesListTheSameRowsAsync(report, async () => await Engines.SqliteEngine.OpenFileAsync(db.Database, SqliteOpenMode.ReadOnly, default));
    }

    [Fact]
    public async Task A_run_that_finds_problems_leaves_the_database_file_byte_for_byte_unchanged()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var before = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(db.Database)));
        var files = Directory.GetFiles(_folder.Path).Order().ToList();

        var report = await RunAsync(Request(db, IntegrityLevel.Full));

        Assert.NotEmpty(report.Findings);
        Assert.Equal(before, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(db.Database))));
        Assert.Equal(files, Directory.GetFiles(_folder.Path).Order().ToList());
    }

    [Fact]
    public async Task A_specified_relationship_is_an_error_and_replaces_the_inferred_one()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var report = await RunAsync(new IntegrityRequest(db) { Relationships = [new RelationshipSpec("sessions.goal_id", "goals.id")] });

        var orphan = Single(report, IntegrityCheck.OrphanedRows, "sessions");
        Assert.Equal((RelationshipSource.Specified, IntegritySeverity.Error, 11L), (orphan.Relationship!.Value, orphan.Severity, orphan.Count));
    }

    [Fact]
    public async Task Composite_relationships_and_keys_are_checked_as_a_whole()
    {
        var db = await Sqlite.CreateAsync(_folder.File("c.db"), """
            CREATE TABLE orders (region TEXT, number INTEGER, PRIMARY KEY (region, number));
            CREATE TABLE lines (id INTEGER PRIMARY KEY, region TEXT, number INTEGER, sku TEXT);
            INSERT INTO orders VALUES ('eu', 1), ('eu', 2), ('us', 1);
            INSERT INTO lines VALUES (1, 'eu', 1, 'a'), (2, 'us', 2, 'b'), (3, 'eu', 2, 'c'), (4, NULL, 9, 'd'), (5, 'us', 9, 'e'), (6, 'eu', 1, 'a');
            """);

        var report = await RunAsync(new IntegrityRequest(db)
        {
            Relationships = [new RelationshipSpec("lines.region,number", "orders(region, number)")],
            UniqueKeys = [new ColumnSpec("lines", ["region", "number", "sku"])],
        });

        var orphans = Single(report, IntegrityCheck.OrphanedRows, "lines");
        Assert.Equal(2L, orphans.Count);
        Assert.Equal(["2", "5"], orphans.Sample); // row 4 has a NULL: MATCH SIMPLE skips it
        Assert.Equal(["6"], Single(report, IntegrityCheck.DuplicateKeys, "lines").Sample);
    }

    [Fact]
    public async Task The_clean_Chinook_sample_has_no_findings_at_any_level_but_not_null_candidates()
    {
        var db = await Sqlite.ChinookAsync(_folder);

        var standard = await RunAsync(new IntegrityRequest(db));
        var full = await RunAsync(new IntegrityRequest(db) { Level = IntegrityLevel.Full });

        Assert.Empty(standard.Findings);
        Assert.True(standard.Checks.Count(c => c.Check == IntegrityCheck.OrphanedRows) >= 11, "every declared foreign key is checked");
        Assert.All(full.Findings, f => Assert.Equal((IntegrityCheck.NotNullCandidate, IntegritySeverity.Info), (f.Check, f.Severity)));
        Assert.Equal(0, full.CouldNotRunCount);
    }

    [Fact]
    public async Task Full_lists_nullable_columns_without_NULLs_as_not_null_candidates()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var report = await RunAsync(new IntegrityRequest(db) { Checks = [IntegrityCheck.NotNullCandidate] });

        Assert.Equal(
            ["activity_instances.group_id", "goals.deadline", "legacy_imports.imported_at", "legacy_imports.payload", "legacy_imports.source", "sessions.goal_id"],
            report.Findings.Select(f => $"{f.Table}.{f.Columns[0]}").Order());
        Assert.All(report.Findings, f => Assert.Equal((IntegritySeverity.Info, 0L, ConstraintKind.NotNull), (f.Severity, f.Count, f.SuggestedConstraint!.Kind)));
    }

    [Fact]
    public async Task Quick_check_passes_an_index_that_disagrees_with_its_table_but_Full_integrity_check_finds_it()
    {
        var path = _folder.File("broken.db");
        var db = await Sqlite.CreateAsync(path, """
            CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) INSERT INTO t SELECT i, 'a' || i, 'b' || i FROM n;
            CREATE INDEX ix_t_a ON t(a);
            PRAGMA writable_schema = ON;
            UPDATE sqlite_schema SET sql = 'CREATE INDEX ix_t_a ON t(b)' WHERE name = 'ix_t_a';
            """);

        var quick = await RunAsync(new IntegrityRequest(db) { Level = IntegrityLevel.Quick });
        var full = await RunAsync(new IntegrityRequest(db) { Level = IntegrityLevel.Full, Checks = [IntegrityCheck.StorageIntegrity] });

        Assert.DoesNotContain(quick.Findings, f => f.Check == IntegrityCheck.StorageIntegrity);
        var storage = Assert.Single(full.Findings);
        Assert.Equal((IntegrityCheck.StorageIntegrity, IntegritySeverity.Error, "PRAGMA integrity_check"), (storage.Check, storage.Severity, storage.Query));
        Assert.True(storage.Count > 0);
        Assert.Contains(storage.Sample, m => m.Contains("ix_t_a", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_check_that_cannot_run_on_one_table_is_reported_and_the_others_go_on()
    {
        var db = await Sqlite.CreateAsync(_folder.File("ghost.db"), """
            PRAGMA foreign_keys = OFF;
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), ghost_id INTEGER REFERENCES ghost(id));
            INSERT INTO parent VALUES (1);
            INSERT INTO child VALUES (1, 1, 5), (2, 7, 5);
            """);

        var report = await RunAsync(new IntegrityRequest(db));

        var failed = Assert.Single(report.Checks, c => c.Status == IntegrityCheckStatus.CouldNotRun);
        Assert.Equal((ErrorIds.TableNotFound, "child"), (failed.ErrorId, failed.Table));
        Assert.Contains("ghost", failed.ErrorMessage);
        Assert.Equal(["2"], Single(report, IntegrityCheck.OrphanedRows, "child").Sample);
    }

    [Fact]
    public async Task Only_the_named_tables_are_checked()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var report = await RunAsync(new IntegrityRequest(db) { Tables = ["SESSIONS"] });

        Assert.All(report.Checks, c => Assert.Equal("sessions", c.Table));
        Assert.Equal(11, Assert.Single(report.Findings).Count);
    }

    [Theory]
    [InlineData("required", "goals", "no_such_column", ErrorIds.ColumnNotFound)]
    [InlineData("required", "no_such_table", "id", ErrorIds.TableNotFound)]
    [InlineData("required", "goals", " , ", ErrorIds.InvalidSpecification)]
    [InlineData("unique", "activity_groups", "root_id,nam", ErrorIds.ColumnNotFound)]
    [InlineData("relationship", "sessions", "goals.id", ErrorIds.InvalidRelationship)]
    [InlineData("relationship", "sessions.goal_id,started_at", "goals.id", ErrorIds.InvalidRelationship)]
    [InlineData("relationship", "sessions.goal_idd", "goals.id", ErrorIds.ColumnNotFound)]
    [InlineData("condition", "goals", "deadline >= no_such_column", ErrorIds.InvalidSpecification)]
    [InlineData("condition", "goals", "1 = 1; DELETE FROM goals", ErrorIds.InvalidSpecification)]
    [InlineData("condition", "goals", "deadline >=", ErrorIds.InvalidSpecification)]
    public async Task An_invalid_specification_stops_the_run_before_any_check(string kind, string left, string right, string errorId)
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var observer = new RecordingObserver();
        var request = kind switch
        {
            "required" => new IntegrityRequest(db) { RequiredColumns = [new ColumnSpec(left, [right])] },
            "unique" => new IntegrityRequest(db) { UniqueKeys = [new ColumnSpec(left, [right])] },
            "relationship" => new IntegrityRequest(db) { Relationships = [new RelationshipSpec(left, right)] },
            _ => new IntegrityRequest(db) { Conditions = [new ConditionSpec(left, right)] },
        };

        await Assertions.ThrowsDbOps(errorId, () => IntegrityService.RunAsync(request, observer, CancellationToken.None));
        Assert.DoesNotContain(observer.ProgressReports, p => p.Status.Contains("/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_table_without_a_key_is_sampled_by_rowid()
    {
        var db = await Sqlite.CreateAsync(_folder.File("log.db"), "CREATE TABLE log (msg TEXT, level INTEGER); INSERT INTO log VALUES ('a', 1), ('b', NULL), ('c', 2), ('d', NULL);");

        var report = await RunAsync(new IntegrityRequest(db) { RequiredColumns = [new ColumnSpec("log", ["level"])] });

        var nulls = Single(report, IntegrityCheck.NullValues, "log");
        Assert.Equal(["rowid"], nulls.SampleKeyColumns);
        Assert.Equal(["2", "4"], nulls.Sample);
    }

    [Fact]
    public async Task Full_reports_a_foreign_key_that_SQLite_cannot_check_because_its_parent_key_is_not_unique()
    {
        var db = await Sqlite.CreateAsync(_folder.File("mismatch.db"), """
            PRAGMA foreign_keys = OFF;
            CREATE TABLE parent (id INTEGER PRIMARY KEY, code TEXT);
            CREATE TABLE child (id INTEGER PRIMARY KEY, code TEXT REFERENCES parent(code));
            INSERT INTO parent VALUES (1, 'a'), (2, 'a');
            INSERT INTO child VALUES (1, 'a'), (2, 'b');
            """);

        var report = await RunAsync(new IntegrityRequest(db) { Level = IntegrityLevel.Full });

        var mismatch = Assert.Single(report.Findings, f => f.Check == IntegrityCheck.StorageIntegrity);
        Assert.Equal((IntegritySeverity.Error, "PRAGMA foreign_key_check"), (mismatch.Severity, mismatch.Query));
        Assert.Contains("foreign key mismatch", mismatch.Sample[0]);
        Assert.Equal(["2"], Single(report, IntegrityCheck.OrphanedRows, "child").Sample);
    }

    [Fact]
    public async Task Quick_checks_declared_foreign_keys_and_stated_rules_but_not_inferred_relationships()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var report = await RunAsync(Request(db, IntegrityLevel.Quick));

        Assert.Equal(["activity_groups DuplicateKeys", "activity_instances OrphanedRows", "goals CheckViolation", "goals NullValues"],
            report.Findings.Select(f => $"{f.Table} {f.Check}").Order());
        Assert.Contains(report.Checks, c => c.Check == IntegrityCheck.StorageIntegrity && c.Description == "PRAGMA quick_check");
    }

    [Fact]
    public async Task A_named_table_that_does_not_exist_is_reported_and_the_others_are_checked()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);

        var report = await RunAsync(new IntegrityRequest(db) { Tables = ["sesions", "sessions"] });

        var missing = Assert.Single(report.MissingTables);
        Assert.Equal("sesions", missing.Name);
        Assert.Equal(11, Assert.Single(report.Findings).Count);
        Assert.True(report.ShouldFail(IntegritySeverity.Error));
        var junit = System.Xml.Linq.XDocument.Parse(IntegrityReportWriter.ToJUnit([report]));
        Assert.Contains(junit.Descendants("testcase"), c => (string)c.Attribute("classname")! == "sesions" && c.Element("error") is not null);
    }
}
