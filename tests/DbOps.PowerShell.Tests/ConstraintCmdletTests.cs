using System.Management.Automation;
using System.Security.Cryptography;

namespace DbOps.PowerShell.Tests;

public sealed class ConstraintCmdletTests : IDisposable
{
    private const string ErrorSuffix = ",DbOps.PowerShell.Commands.AddSafeConstraintCommand";
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    /// <summary>The goals tracker sample, created by examples/New-GoalsDatabase.ps1 as a user would, then <paramref name="sql"/>.</summary>
    private string GoalsTracker(string? sql = null)
    {
        var path = _folder.File("goals.db");
        _session.Run("""
            . $script
            $null = New-GoalsDatabase -Path $path
            if ($sql) { $null = Invoke-DatabaseQuery $path $sql }
            """, new { script = Datasets.Example("New-GoalsDatabase.ps1"), path, sql });
        Assert.Empty(_session.Errors);
        return path;
    }

    private static object Prop(PSObject o, string name) => o.Properties[name].Value;

    /// <summary>Each part appears after the one before it.</summary>
    internal static void AssertInOrder(string text, IEnumerable<string> parts)
    {
        var at = 0;
        foreach (var part in parts)
        {
            var found = text.IndexOf(part, at, StringComparison.Ordinal);
            Assert.True(found >= 0, $"'{part}' not found after position {at} in:\n{text}");
            at = found + part.Length;
        }
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void Dirty_data_is_Blocked_with_samples_and_a_ConstraintViolations_error()
    {
        var path = GoalsTracker();
        var hash = Hash(path);

        var result = Assert.Single(_session.Run("Add-SafeConstraint -Database $path -Table goals -Check 'deadline >= created_at'", new { path }));

        Assert.Equal("Blocked", Prop(result, "Status").ToString());
        Assert.Equal(5L, Prop(result, "ViolationCount"));
        Assert.Equal(["5", "44", "87", "132", "190"], ((IEnumerable<string>)Prop(result, "Sample")).ToArray());
        var error = Assert.Single(_session.Errors);
        Assert.Equal("ConstraintViolations" + ErrorSuffix, error.FullyQualifiedErrorId);
        Assert.Contains("SELECT c.* FROM \"goals\" AS c WHERE NOT (deadline >= created_at)", error.ToString());
        Assert.Equal(hash, Hash(path));
    }

    [Fact]
    public void WhatIf_prints_the_rebuild_statements_in_order_and_changes_nothing()
    {
        var path = GoalsTracker("UPDATE goals SET root_id = id WHERE root_id IS NULL");
        var hash = Hash(path);

        var output = _session.Run("Add-SafeConstraint -Database $path -Table goals -NotNull root_id -WhatIf", new { path });

        Assert.Empty(output);
        Assert.Empty(_session.Errors);
        var text = _session.Host.Output;
        Assert.Contains("What if:", text);
        string[] order = ["PRAGMA foreign_keys = OFF", "BEGIN IMMEDIATE", "CREATE TABLE \"dbops_new_goals\"", "root_id     INTEGER NOT NULL,",
                          "INSERT INTO \"dbops_new_goals\" (rowid, \"id\", \"root_id\"", "DROP TABLE \"goals\"",
                          "ALTER TABLE \"dbops_new_goals\" RENAME TO \"goals\"", "PRAGMA foreign_key_check(\"goals\")",
                          "PRAGMA integrity_check(\"goals\")", "COMMIT"];
        AssertInOrder(text, order);
        Assert.Equal(hash, Hash(path));
    }

    [Fact]
    public void Specs_arrive_from_the_pipeline_as_plan_hashtables_spec_objects_and_findings()
    {
        var path = GoalsTracker("UPDATE sessions SET goal_id = NULL WHERE goal_id > 200");

        var results = _session.Run("""
            $plan = @(
                @{ Table = 'sessions'; ForeignKey = 'goal_id'; References = 'goals(id)' }
                [DbOps.Core.Constraints.ConstraintSpec]::NotNull('goals', 'root_id', $null)
                [pscustomobject]@{ Check = 'x'; SuggestedConstraint = [DbOps.Core.Constraints.ConstraintSpec]::Unique('activity_groups', [string[]]('root_id', 'name'), $null) }
                [pscustomobject]@{ Check = 'y'; SuggestedConstraint = $null }
            )
            $plan | Add-SafeConstraint -Database $path
            """, new { path });

        Assert.Equal(["Added", "Blocked", "Blocked"], results.Select(r => Prop(r, "Status").ToString()));
        Assert.Equal([0L, 7L, 4L], results.Select(r => (long)Prop(r, "ViolationCount")));
        Assert.Equal(["sessions", "goals", "activity_groups"], results.Select(r => Prop(r, "Table").ToString()));
        Assert.Equal(2, _session.Errors.Count(e => e.FullyQualifiedErrorId == "ConstraintViolations" + ErrorSuffix));
        Assert.Equal(2, _session.Errors.Count);
    }

    [Fact]
    public void Test_DataIntegrity_findings_pipe_their_suggested_constraints_in()
    {
        var path = GoalsTracker();

        var results = _session.Run("Test-DataIntegrity -Database $path | Add-SafeConstraint -Database $path", new { path });

        Assert.Equal(["activity_instances Blocked 25", "sessions Blocked 11"],
            results.Select(r => $"{Prop(r, "Table")} {Prop(r, "Status")} {Prop(r, "ViolationCount")}").Order());
        Assert.Equal(2, _session.Errors.Count(e => e.FullyQualifiedErrorId == "ConstraintViolations" + ErrorSuffix));
    }

    [Fact]
    public void An_added_constraint_shows_in_the_table_view_and_a_second_run_is_AlreadyPresent()
    {
        var path = GoalsTracker("UPDATE activity_groups SET name = name || ' (' || id || ')' WHERE id > 40");

        _session.Run("""
            Add-SafeConstraint $path activity_groups -Unique root_id, name -Name ux_groups | Out-Default
            Add-SafeConstraint $path activity_groups -Unique name, root_id | Out-Default
            """, new { path });

        Assert.Empty(_session.Errors);
        var text = _session.Host.Output;
        Assert.Contains("Violations", text);
        Assert.Matches(@"activity_groups\s+Unique\s+ux_groups\s+Added\s+0", text);
        Assert.Matches(@"activity_groups\s+Unique\s+\S+\s+AlreadyPresent", text);
    }

    [Fact]
    public void Confirm_asks_with_one_line_saying_what_goes_on_which_table_and_No_changes_nothing()
    {
        var path = GoalsTracker("UPDATE goals SET deadline = created_at WHERE deadline < created_at");
        var hash = Hash(path);
        _session.Host.Answers.Enqueue("&No");

        var output = _session.Run("Add-SafeConstraint $path goals -Check 'deadline >= created_at' -Name goals_dates -Confirm", new { path });

        Assert.Empty(output);
        Assert.Empty(_session.Errors);
        var prompt = Assert.Single(_session.Host.Prompts);
        Assert.Contains("Add CHECK (deadline >= created_at) to goals as goals_dates (TableRebuild,", prompt);
        // The rebuild's statements (about 35 lines) are for -WhatIf and -Verbose, not the question.
        Assert.DoesNotContain("BEGIN IMMEDIATE", prompt);
        Assert.True(prompt.Split('\n').Length <= 3, prompt);
        Assert.Equal(hash, Hash(path));
    }

    [Fact]
    public void WhatIf_on_dirty_data_reports_Blocked_without_an_error_so_a_rehearsal_under_Stop_goes_on()
    {
        var path = GoalsTracker();
        var hash = Hash(path);

        var output = _session.Run("""
            $ErrorActionPreference = 'Stop'
            Add-SafeConstraint $path goals -Check 'deadline >= created_at' -WhatIf
            'rehearsal finished'
            """, new { path });

        Assert.Empty(_session.Errors);
        Assert.Equal("rehearsal finished", Assert.Single(output).ToString());
        Assert.Contains("What if: Blocked: 5 row(s) of goals violate CHECK (deadline >= created_at); nothing would change. First keys: 5, 44, 87, 132, 190.",
            PowerShellSession.StripAnsi(_session.Host.Output).Replace(Environment.NewLine, " "));
        Assert.Equal(hash, Hash(path));
    }

    [Fact]
    public void Results_give_Export_Csv_their_list_properties_as_values_not_type_names()
    {
        var path = GoalsTracker();

        var results = _session.Run("""
            Add-SafeConstraint $path goals -Check 'deadline >= created_at' -ErrorAction SilentlyContinue
            Test-DataIntegrity $path
            Find-UnusedTable $path
            Backup-Database $path -Destination $backups
            Export-TableArchive $path -Table activity_instances -Destination $archives
            """, new { path, backups = _folder.File("backups"), archives = _folder.File("archives") });

        Assert.Equal(["BackupResult", "ConstraintResult", "IntegrityFinding", "TableArchive", "TableUsage"],
            results.Select(r => r.BaseObject.GetType().Name).Distinct().Order());
        // Export-Csv writes each property value's ToString(): a list must give its items, not its type name.
        var lists = results.SelectMany(r => r.Properties.Where(p => p.Value is System.Collections.IEnumerable and not string)
            .Select(p => (Name: $"{r.BaseObject.GetType().Name}.{p.Name}", Text: p.Value.ToString()!))).ToList();
        Assert.Contains(lists, l => l.Name == "IntegrityFinding.Sample");
        Assert.DoesNotContain(lists, l => l.Text.Contains("System.", StringComparison.Ordinal) || l.Text.Contains('`')
                                          || l.Text.Contains(" { ", StringComparison.Ordinal));
        Assert.Contains(lists, l => l.Name == "ConstraintResult.Sample" && l.Text == "5; 44; 87; 132; 190");
    }

    [Fact]
    public void Table_completes_from_the_database_named_by_Database()
    {
        var path = GoalsTracker();

        var completions = _session.Run("""
            $line = "Add-SafeConstraint -Database '$path' -Table act"
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches | ForEach-Object { $_.CompletionText }
            """, new { path });

        Assert.Empty(_session.Errors);
        Assert.Equal(["activity_groups", "activity_instances"], completions.Select(c => c.ToString()));
    }

    [Fact]
    public void Bad_input_gives_stable_error_ids()
    {
        var path = GoalsTracker();

        _session.Run("Add-SafeConstraint -Database $path -Table goals -NotNull nope", new { path });
        _session.Run("Add-SafeConstraint -Database $path -Table nope -NotNull id", new { path });
        _session.Run("Add-SafeConstraint -Database $path -Table goals -Check 'deadline >='", new { path });
        _session.Run("Add-SafeConstraint -Database $path -Table sessions -ForeignKey goal_id -References 'goals'", new { path });
        _session.Run("Add-SafeConstraint -Database $path -Table sessions -ForeignKey goal_id -References 'goals(title)'", new { path });
        _session.Run("@{ Table = 'goals'; Unique = 'id'; Colour = 'red' } | Add-SafeConstraint -Database $path", new { path });
        _session.Run("Add-SafeConstraint -Database $path -Table goals -NotNull root_id -LockTimeout 0", new { path });

        Assert.Equal(["ColumnNotFound", "TableNotFound", "InvalidConstraintExpression", "InvalidSpecification", "ReferencedKeyMissing", "InvalidSpecification", "InvalidSpecification"],
            _session.Errors.Select(e => e.FullyQualifiedErrorId.Split(',')[0]));
    }
}

[Collection(PostgresCollection.Name)]
public sealed class ConstraintPostgresCmdletTests(PostgresCluster cluster) : IDisposable
{
    private readonly PowerShellSession _session = new();

    public void Dispose() => _session.Dispose();

    [Fact]
    public void WhatIf_on_PostgreSQL_prints_the_lock_safe_statements_in_order_and_changes_nothing()
    {
        var database = cluster.CreateGoalsTracker();
        cluster.Execute(database, "UPDATE goals SET root_id = id WHERE root_id IS NULL");
        var constraints = cluster.Scalar<long>(database, "SELECT count(*) FROM pg_constraint");

        _session.Run("Add-SafeConstraint -Database $cs -Table goals -NotNull root_id -LockTimeout 0.5 -WhatIf", new { cs = cluster.ConnectionString(database) });

        Assert.Empty(_session.Errors);
        var text = _session.Host.Output;
        string[] order = ["SET lock_timeout = '500ms'", "ADD CONSTRAINT \"goals_root_id_not_null\" CHECK (\"root_id\" IS NOT NULL) NOT VALID",
                          "VALIDATE CONSTRAINT \"goals_root_id_not_null\"", "ALTER COLUMN \"root_id\" SET NOT NULL", "DROP CONSTRAINT \"goals_root_id_not_null\""];
        ConstraintCmdletTests.AssertInOrder(text, order);
        Assert.Equal(constraints, cluster.Scalar<long>(database, "SELECT count(*) FROM pg_constraint"));
        Assert.True(cluster.Scalar<bool>(database, "SELECT NOT attnotnull FROM pg_attribute WHERE attrelid = 'goals'::regclass AND attname = 'root_id'"));
    }

    [Fact]
    public void Test_DataIntegrity_findings_on_PostgreSQL_are_Blocked_then_Added_once_clean()
    {
        var database = cluster.CreateGoalsTracker();
        var cs = cluster.ConnectionString(database);

        var blocked = _session.Run("$findings = Test-DataIntegrity -Database $cs; $findings | Add-SafeConstraint -Database $cs", new { cs });
        cluster.Execute(database, "DELETE FROM activity_instances WHERE session_id > 2000; UPDATE sessions SET goal_id = NULL WHERE goal_id > 200");
        var added = _session.Run("$findings | Add-SafeConstraint -Database $cs", new { cs });

        Assert.Equal(["public.activity_instances Blocked 25", "public.sessions Blocked 11"],
            blocked.Select(r => $"{r.Properties["Table"].Value} {r.Properties["Status"].Value} {r.Properties["ViolationCount"].Value}").Order());
        // Test-DataIntegrity's own errors, if any, are its business: these are Add-SafeConstraint's.
        Assert.Equal(["ConstraintViolations", "ConstraintViolations"], _session.Errors
            .Where(e => e.FullyQualifiedErrorId.EndsWith("AddSafeConstraintCommand", StringComparison.Ordinal))
            .Select(e => e.FullyQualifiedErrorId.Split(',')[0]));
        Assert.Equal(["Added", "Added"], added.Select(r => r.Properties["Status"].Value.ToString()));
        Assert.Equal(2L, cluster.Scalar<long>(database,
            "SELECT count(*) FROM pg_constraint WHERE conname IN ('sessions_goal_id_fkey', 'activity_instances_session_id_fkey') AND convalidated"));
    }

    [Fact]
    public void A_held_lock_is_a_LockTimeout_error_and_a_foreign_key_without_an_index_warns()
    {
        var database = cluster.CreateGoalsTracker();
        cluster.Execute(database, "UPDATE sessions SET goal_id = NULL WHERE goal_id > 200");
        using var blocker = new Npgsql.NpgsqlConnection(cluster.ConnectionString(database));
        blocker.Open();
        using var transaction = blocker.BeginTransaction();
        // What a writer in the middle of its transaction holds.
        new Npgsql.NpgsqlCommand("LOCK TABLE sessions IN ROW EXCLUSIVE MODE", blocker, transaction).ExecuteNonQuery();

        var results = _session.Run("Add-SafeConstraint $cs sessions -ForeignKey goal_id -References 'goals(id)' -LockTimeout 0.1 -MaxRetries 1 -WarningVariable w; $w",
            new { cs = cluster.ConnectionString(database) });

        var error = Assert.Single(_session.Errors);
        Assert.Equal("LockTimeout,DbOps.PowerShell.Commands.AddSafeConstraintCommand", error.FullyQualifiedErrorId);
        Assert.Contains("(1 retries)", error.ToString());
        Assert.Contains("CREATE INDEX CONCURRENTLY \"sessions_goal_id_idx\"", Assert.Single(results).ToString());
        transaction.Rollback();
        Assert.Equal(0L, cluster.Scalar<long>(database, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'sessions'::regclass AND contype = 'f'"));
    }
}
