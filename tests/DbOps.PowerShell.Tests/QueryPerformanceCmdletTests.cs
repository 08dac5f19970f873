using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

/// <summary>Measure-QueryPerformance and the index cmdlets as a runbook uses them: piped, with -WhatIf and prompts.</summary>
public sealed class QueryPerformanceCmdletTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    /// <summary>The goals tracker, built by the examples' own helper.</summary>
    private string GoalsDatabase()
    {
        var path = _folder.File("goals.db");
        _session.Run(". ([System.IO.Path]::Combine($examples, 'New-GoalsDatabase.ps1')); $null = New-GoalsDatabase -Path $path",
            new { examples = Path.Combine(Datasets.RepoRoot, "examples"), path });
        Assert.Empty(_session.Errors);
        return path;
    }

    private static object Prop(PSObject o, string name) => o.Properties[name].Value;

    private long IndexCount(string path) =>
        (long)_session.SqliteScalar(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name LIKE 'ix_%'");

    [Fact]
    public void Find_MissingIndex_piped_to_Add_SafeIndex_WhatIf_shows_the_exact_SQL_and_creates_nothing_then_creates_both()
    {
        var path = GoalsDatabase();
        Assert.Equal(1, IndexCount(path));

        var whatIf = _session.Run("Find-MissingIndex -Database $path | Add-SafeIndex -WhatIf", new { path });
        Assert.Empty(_session.Errors);
        Assert.Empty(whatIf);
        Assert.Contains("CREATE INDEX \"ix_sessions_goal_id\" ON \"sessions\" (\"goal_id\")", _session.Host.Output);
        Assert.Contains("CREATE INDEX \"ix_activity_instances_group_id\" ON \"activity_instances\" (\"group_id\")", _session.Host.Output);
        Assert.Equal(1, IndexCount(path));

        var created = _session.Run("Find-MissingIndex -Database $path | Add-SafeIndex", new { path });
        Assert.Empty(_session.Errors);
        Assert.Equal(["Created", "Created"], created.Select(c => Prop(c, "Status").ToString()));
        Assert.Equal(3, IndexCount(path));
        Assert.Empty(_session.Run("Find-MissingIndex -Database $path", new { path }));
    }

    [Fact]
    public void Add_SafeIndex_builds_expression_and_partial_indexes_and_refuses_a_kind_SQLite_lacks_with_its_error_id()
    {
        var path = GoalsDatabase();

        var whatIf = _session.Run("Add-SafeIndex $path goals 'lower(title)', id -Where 'deadline IS NOT NULL' -WhatIf", new { path });
        Assert.Empty(_session.Errors);
        Assert.Empty(whatIf);
        Assert.Contains("CREATE INDEX \"ix_goals_lower_title_id\" ON \"goals\" ((lower(title)), \"id\") WHERE deadline IS NOT NULL", _session.Host.Output);
        Assert.Equal(1, IndexCount(path));

        var created = Assert.Single(_session.Run("Add-SafeIndex $path goals 'lower(title)', id -Where 'deadline IS NOT NULL'", new { path }));
        Assert.Equal("Created", Prop(created, "Status").ToString());
        Assert.Equal(2, IndexCount(path));

        Assert.Empty(_session.Run("Add-SafeIndex $path goals title -Using Gin", new { path }));
        var error = Assert.Single(_session.Errors);
        Assert.Equal("IndexKindNotSupported,DbOps.PowerShell.Commands.AddSafeIndexCommand", error.FullyQualifiedErrorId);
        Assert.Equal(2, IndexCount(path));
    }

    [Fact]
    public void Remove_UnusedIndex_asks_first_and_WhatIf_shows_the_DROP()
    {
        var path = GoalsDatabase();
        _session.Run("Add-SafeIndex -Database $path -Table sessions -Column goal_id -Name ix_dup | Out-Null; Add-SafeIndex $path sessions goal_id, started_at | Out-Null",
            new { path });
        Assert.Empty(_session.Errors);

        _session.Run("Find-UnusedIndex -Database $path | Remove-UnusedIndex -WhatIf", new { path });
        Assert.Contains("DROP INDEX \"main\".\"ix_dup\"", _session.Host.Output);
        Assert.Equal(3, IndexCount(path));

        _session.Host.Answers.Enqueue("&No");
        _session.Run("Find-UnusedIndex -Database $path | Remove-UnusedIndex", new { path });
        Assert.Single(_session.Host.Prompts);
        Assert.Equal(3, IndexCount(path));

        _session.Host.Answers.Enqueue("&Yes");
        var dropped = Assert.Single(_session.Run("Find-UnusedIndex -Database $path | Remove-UnusedIndex", new { path }));
        Assert.Empty(_session.Errors);
        Assert.Equal("Dropped", Prop(dropped, "Status").ToString());
        Assert.Equal(2, IndexCount(path));
    }

    [Fact]
    public void Measure_QueryPerformance_takes_queries_from_the_pipeline_and_a_set_of_baselines_matched_by_text()
    {
        var path = GoalsDatabase();
        var results = _session.Run("""
            $queries = 'SELECT count(*) FROM sessions WHERE goal_id = 17', 'SELECT count(*) FROM goals'
            $before = $queries | Measure-QueryPerformance -Database $path -Iterations 5
            Add-SafeIndex -Database $path -Table sessions -Column goal_id | Out-Null
            $before | Measure-QueryPerformance -Database $path -Iterations 5 -Baseline $before
            """, new { path });

        Assert.Empty(_session.Errors);
        Assert.Equal(2, results.Count);
        Assert.True((bool)Prop(results[0], "PlanChanged"));
        Assert.False((bool)Prop(results[1], "PlanChanged"));
        Assert.All(results, r => Assert.True((double)Prop(r, "SpeedUp") > 0));
        _session.Run("$r | Out-Default", new { r = results });
        Assert.Contains("MedianMs", _session.Host.Output);
    }

    [Fact]
    public void A_DELETE_measured_without_AllowWrite_leaves_the_table_unchanged()
    {
        var path = GoalsDatabase();
        var result = Assert.Single(_session.Run(
            "Measure-QueryPerformance -Database $path -Query 'DELETE FROM activity_instances WHERE group_id = @g' -Parameters @{ g = 7 } -Iterations 3",
            new { path }));

        Assert.Empty(_session.Errors);
        Assert.Equal("RolledBack", Prop(result, "Mode").ToString());
        Assert.True((long)Prop(result, "Rows") > 0);
        var count = _session.Run("(Measure-QueryPerformance -Database $path -Query 'SELECT * FROM activity_instances' -Iterations 1).Rows", new { path });
        Assert.Equal(6000L, count[0].BaseObject);
    }

    [Fact]
    public void Measure_QueryPerformance_reads_the_statement_from_a_file_and_needs_a_database()
    {
        var path = GoalsDatabase();
        File.WriteAllText(_folder.File("q.sql"), "SELECT *\nFROM goals\nWHERE status = 'done';\n");

        var result = Assert.Single(_session.Run("Measure-QueryPerformance -Database $path -Path $file -Iterations 2", new { path, file = _folder.File("q.sql") }));
        Assert.Empty(_session.Errors);
        Assert.Equal(28L, Prop(result, "Rows"));

        _session.Run("Measure-QueryPerformance -Query 'SELECT 1'");
        Assert.StartsWith("InvalidQuery,", Assert.Single(_session.Errors).FullyQualifiedErrorId, StringComparison.Ordinal);
    }

    [Fact]
    public void Get_SlowQuery_on_SQLite_is_ProviderNotSupported()
    {
        var path = GoalsDatabase();
        _session.Run("Get-SlowQuery -Database $path", new { path });
        Assert.Equal("ProviderNotSupported,DbOps.PowerShell.Commands.GetSlowQueryCommand", Assert.Single(_session.Errors).FullyQualifiedErrorId);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class QueryPerformancePostgresCmdletTests(PostgresCluster cluster) : IDisposable
{
    private readonly PowerShellSession _session = new();

    public void Dispose() => _session.Dispose();

    [Fact]
    public void Get_SlowQuery_pipes_into_Measure_QueryPerformance_on_the_database_it_came_from()
    {
        var database = cluster.CreateGoalsTracker();
        var cs = cluster.ConnectionString(database);
        _session.Run("Get-SlowQuery -Database $cs", new { cs });
        Assert.Equal("StatStatementsUnavailable,DbOps.PowerShell.Commands.GetSlowQueryCommand", Assert.Single(_session.Errors).FullyQualifiedErrorId);
        _session.Errors.Clear();

        cluster.Execute(database, "CREATE EXTENSION pg_stat_statements");
        cluster.Execute(database, "SELECT pg_stat_statements_reset()");
        cluster.Execute(database, "SELECT count(*) FROM sessions s JOIN goals g ON g.id = s.goal_id");
        var results = _session.Run("""
            Get-SlowQuery -Database $cs -Top 50 |
                Where-Object { $_.Query -like '*JOIN goals*' } |
                Measure-QueryPerformance -Iterations 3
            """, new { cs });

        Assert.Empty(_session.Errors);
        var result = Assert.Single(results);
        Assert.Equal(1L, result.Properties["Rows"].Value);
        Assert.Equal(database, result.Properties["Database"].Value);
    }

    [Fact]
    public void A_cmdlets_sessions_carry_its_name_in_application_name()
    {
        var database = cluster.CreateGoalsTracker();
        var cs = cluster.ConnectionString(database);

        // A condition holds on every row exactly when the session reading them is named after the cmdlet.
        var named = _session.Run("""
            Test-DataIntegrity -Database $cs -Table goals -Condition @{ goals = "current_setting('application_name') LIKE 'DbOps/%Test-DataIntegrity'" } |
                Where-Object Check -eq 'CheckViolation'
            """, new { cs });
        Assert.Empty(_session.Errors);
        Assert.Empty(named);
        var other = _session.Run("""
            Test-DataIntegrity -Database $cs -Table goals -Condition @{ goals = "current_setting('application_name') LIKE 'DbOps/%Get-SlowQuery'" } |
                Where-Object Check -eq 'CheckViolation'
            """, new { cs });
        Assert.NotEmpty(other);
    }

    [Fact]
    public void The_index_tuning_example_runs_against_PostgreSQL_and_prints_the_speed_ups()
    {
        var database = cluster.CreateGoalsTracker();
        cluster.Execute(database, "VACUUM ANALYZE");

        var (exitCode, stdout, stderr) = PwshProcess.Run(
            Path.Combine(Datasets.RepoRoot, "examples", "index-tuning.ps1"), "-Database", cluster.ConnectionString(database), "-Iterations", "10");

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Contains("ix_sessions_goal_id", stdout);
        Assert.Contains("ix_activity_instances_group_id", stdout);
        Assert.Contains("plan changed", stdout);
        Assert.Equal(1L, cluster.Scalar<long>(database, "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_sessions_goal_id'"));
        Assert.DoesNotContain(PostgresCluster.Password, stdout);
    }
}
