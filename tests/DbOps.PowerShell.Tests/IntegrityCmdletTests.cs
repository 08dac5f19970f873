using System.Management.Automation;
using System.Text.Json;
using System.Xml.Linq;

namespace DbOps.PowerShell.Tests;

public sealed class IntegrityCmdletTests : IDisposable
{
    private const string Rules = "-RequiredColumn @{ goals = 'root_id' } -UniqueKey @{ activity_groups = 'root_id,name' } -Condition @{ goals = 'deadline >= created_at' }";

    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    /// <summary>The goals tracker sample with its seeded defects, built by the example's own helper.</summary>
    private string GoalsDatabase()
    {
        var path = _folder.File("goals.db");
        _session.Run(". ([System.IO.Path]::Combine($examples, 'New-GoalsDatabase.ps1')); $null = New-GoalsDatabase -Path $path",
            new { path, examples = Path.Combine(Datasets.RepoRoot, "examples") });
        Assert.Empty(_session.Errors);
        return path;
    }

    private static object? Prop(PSObject o, string name) => o.Properties[name].Value;

    [Fact]
    public void Test_DataIntegrity_emits_typed_findings_whose_SuggestedConstraint_is_a_ConstraintSpec()
    {
        var path = GoalsDatabase();

        var findings = _session.Run($"Test-DataIntegrity -Database $path {Rules}", new { path });

        Assert.Empty(_session.Errors);
        Assert.Equal(5, findings.Count);
        Assert.All(findings, f => Assert.Equal("DbOps.Core.Integrity.IntegrityFinding", f.BaseObject.GetType().FullName));
        Assert.All(findings, f => Assert.Equal("DbOps.Core.Constraints.ConstraintSpec", Prop(f, "SuggestedConstraint")!.GetType().FullName));
        var errors = _session.Run($"Test-DataIntegrity -Database $path {Rules} | Where-Object Severity -eq 'Error' | ForEach-Object {{ '{{0}} {{1}} {{2}}' -f $_.Check, $_.Table, $_.Count }}", new { path });
        Assert.Equal(["CheckViolation goals 5", "DuplicateKeys activity_groups 4", "NullValues goals 7", "OrphanedRows activity_instances 25"],
            errors.Select(e => e.ToString()).Order());
    }

    [Fact]
    public void Table_names_bind_from_the_pipeline_by_property_name()
    {
        var path = GoalsDatabase();

        var findings = _session.Run("[pscustomobject]@{ Table = 'sessions' }, [pscustomobject]@{ Name = 'goals' } | Test-DataIntegrity -Database $path -RequiredColumn @{ goals = 'root_id' }",
            new { path });

        Assert.Empty(_session.Errors);
        Assert.Equal(["NullValues goals 7", "OrphanedRows sessions 11"],
            findings.Select(f => $"{Prop(f, "Check")} {Prop(f, "Table")} {Prop(f, "Count")}").Order());
    }

    [Theory]
    [InlineData("-RequiredColumn @{ goals = 'rootid' }", "ColumnNotFound")]
    [InlineData("-UniqueKey @{ nope = 'id' }", "TableNotFound")]
    [InlineData("-Relationship @{ 'sessions' = 'goals.id' }", "InvalidRelationship")]
    [InlineData("-Condition @{ goals = '' }", "InvalidSpecification")]
    public void An_invalid_specification_is_a_terminating_error_and_nothing_is_emitted(string parameters, string errorId)
    {
        var path = GoalsDatabase();

        var output = _session.Run($"Test-DataIntegrity -Database $path {parameters}; 'after'", new { path });

        Assert.Equal(["after"], output.Select(o => o.ToString())); // the statement stopped; nothing was emitted
        var error = Assert.Single(_session.Errors);
        Assert.StartsWith(errorId + ",", error.FullyQualifiedErrorId);
    }

    [Fact]
    public void FailOn_writes_IntegrityProblemsFound_after_the_findings()
    {
        var path = GoalsDatabase();

        var warnings = _session.Run("Test-DataIntegrity -Database $path -FailOn Warning", new { path });

        Assert.Equal(2, warnings.Count);
        var error = Assert.Single(_session.Errors);
        Assert.StartsWith("IntegrityProblemsFound,", error.FullyQualifiedErrorId);
    }

    [Fact]
    public void A_report_exports_as_JUnit_with_one_test_case_per_check_and_table_and_as_JSON()
    {
        var path = GoalsDatabase();
        var xml = _folder.File("reports/nightly.xml");
        var json = _folder.File("reports/nightly.json");

        _session.Run($"""
            $report = Test-DataIntegrity -Database $path -AsReport {Rules}
            $report | Export-IntegrityReport -Path $json
            $report | Export-IntegrityReport -Path $xml -FailOn Error
            """, new { path, xml, json });

        Assert.StartsWith("IntegrityProblemsFound,", Assert.Single(_session.Errors).FullyQualifiedErrorId);
        var suite = XDocument.Load(xml).Root!.Element("testsuite")!;
        var cases = suite.Elements("testcase").ToList();
        Assert.Equal(cases.Count, cases.Select(c => (string)c.Attribute("classname")! + "/" + (string)c.Attribute("name")!).Distinct().Count());
        Assert.Equal(["activity_groups/DuplicateKeys", "activity_instances/OrphanedRows", "goals/CheckViolation", "goals/NullValues"],
            cases.Where(c => c.Element("failure") is not null).Select(c => $"{c.Attribute("classname")!.Value}/{c.Attribute("name")!.Value}").Order());
        Assert.Equal(4, (int)suite.Attribute("failures")!);
        Assert.Contains(cases, c => c.Attribute("classname")!.Value == "(database)" && c.Attribute("name")!.Value == "StorageIntegrity" && !c.HasElements);

        using var report = JsonDocument.Parse(File.ReadAllText(json));
        var summary = report.RootElement.GetProperty("reports")[0].GetProperty("summary");
        Assert.Equal((4, 1), (summary.GetProperty("errors").GetInt32(), summary.GetProperty("warnings").GetInt32()));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(json));
    }

    [Fact]
    public void Findings_render_as_a_table_with_the_columns_a_person_scans_for()
    {
        var path = GoalsDatabase();

        _session.Run("Test-DataIntegrity -Database $path | Out-Default", new { path });

        Assert.Empty(_session.Errors);
        var text = System.Text.RegularExpressions.Regex.Replace(_session.Host.Output, @"\x1b\[[0-9;]*m", "");
        Assert.Matches(@"Severity\s+Check\s+Table\s+Columns\s+Count\s+Relationship\s+Sample", text);
        Assert.Matches(@"Error\s+OrphanedRows\s+activity_instances\s+session_id\s+25\s+Declared\s+240, 480", text);
    }

    [Fact]
    public void Table_completes_with_the_tables_of_the_database_given()
    {
        var path = GoalsDatabase();
        var line = $"Test-DataIntegrity -Database '{path}' -Table act";

        var matches = _session.Run("[System.Management.Automation.CommandCompletion]::CompleteInput($line, $line.Length, $null).CompletionMatches | ForEach-Object CompletionText",
            new { line });

        Assert.Equal(["activity_groups", "activity_instances"], matches.Select(m => m.ToString()).Order());
    }

    [Fact]
    public void A_check_that_cannot_run_writes_an_error_for_its_table_and_the_findings_still_come()
    {
        var path = _folder.File("ghost.db");
        _session.ExecuteSqlite(path, """
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), ghost_id INTEGER REFERENCES ghost(id));
            INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1, 5), (2, 7, 5);
            """);

        var findings = _session.Run("Test-DataIntegrity -Database $path", new { path });

        var finding = Assert.Single(findings);
        Assert.Equal("child", Prop(finding, "Table"));
        var error = Assert.Single(_session.Errors);
        Assert.StartsWith("TableNotFound,", error.FullyQualifiedErrorId);
        Assert.Equal("child", error.TargetObject);
    }

    [Fact]
    public void A_specified_relationship_is_checked_as_an_error_with_the_check_selected_by_name()
    {
        var path = GoalsDatabase();

        var findings = _session.Run("Test-DataIntegrity -Database $path -Check OrphanedRows -Relationship @{ 'sessions.goal_id' = 'goals.id' } | ForEach-Object { '{0} {1} {2} {3}' -f $_.Table, $_.Relationship, $_.Severity, $_.Count }",
            new { path });

        Assert.Empty(_session.Errors);
        Assert.Equal(["activity_instances Declared Error 25", "sessions Specified Error 11"], findings.Select(f => f.ToString()).Order());
    }

    [Fact]
    public void A_piped_table_name_that_does_not_exist_writes_TableNotFound_and_the_other_tables_are_checked()
    {
        var path = GoalsDatabase();

        var findings = _session.Run("'sessions', 'no_such_table' | ForEach-Object { [pscustomobject]@{ Table = $_ } } | Test-DataIntegrity -Database $path", new { path });

        Assert.Equal("sessions", Prop(Assert.Single(findings), "Table"));
        var error = Assert.Single(_session.Errors);
        Assert.StartsWith("TableNotFound,", error.FullyQualifiedErrorId);
        Assert.Equal("no_such_table", error.TargetObject);
    }
}
