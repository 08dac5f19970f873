using System.Diagnostics;

namespace DbOps.PowerShell.Tests;

/// <summary>The examples and the README's main command, run as a user runs them: pwsh -File in its own process.</summary>
public sealed class ExampleTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void The_quickstart_builds_the_sample_backs_it_up_and_verifies_it()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(Path.Combine(RepoRoot, "examples", "quickstart.ps1"), "-Folder", _folder.Path);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Matches(@"activity_instances\s+6000", stdout);
        Assert.Matches(@"goals\s+200", stdout);
        Assert.Contains("Backup verified:", stdout);
        Assert.Single(Directory.GetFiles(Path.Combine(_folder.Path, "backups"), "*.manifest.json"));
        // The sample's messy data: 25 activity rows break a declared foreign key, as documented (pwsh shows warnings on stdout).
        Assert.Contains("WARNING: The backup holds 25 row(s) that break foreign keys", stdout);
    }

    [Fact]
    public void The_index_tuning_example_adds_the_missing_foreign_key_indexes_and_prints_the_speed_ups()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(Path.Combine(RepoRoot, "examples", "index-tuning.ps1"), "-Folder", _folder.Path, "-Iterations", "10");

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Matches(@"Created\s+ix_activity_instances_group_id", stdout);
        Assert.Matches(@"Created\s+ix_sessions_goal_id", stdout);
        Assert.Contains("full scan of sessions (2,000 rows)", stdout);
        Assert.Matches(@"\d+\.\dx\s+[0-9.]+ ms ->\s+[0-9.]+ ms  SELECT count\(\*\) FROM sessions", stdout);
        Assert.Contains("plan changed: index ix_sessions_goal_id", stdout);
        Assert.True(File.Exists(Path.Combine(_folder.Path, "goals.db")));
    }

    [Fact]
    public void The_verify_cleanup_example_proves_no_data_was_lost_and_documents_the_result()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(Path.Combine(RepoRoot, "examples", "verify-cleanup.ps1"), "-Folder", _folder.Path);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        var run = Assert.Single(Directory.GetDirectories(_folder.Path, "cleanup-*"));
        Assert.True(File.Exists(Path.Combine(run, "before.json")) && File.Exists(Path.Combine(run, "after.json")));
        Assert.Matches(@"Index\s+Added\s+False\s+sessions\s+ix_sessions_goal_id", stdout);
        // The empty table was archived, then dropped: removed on purpose, not lost.
        Assert.Matches(@"tmp_migration_2019\s+Dropped\s+0\s", stdout);
        Assert.Matches(@"\s6\s+5\s+0\s+1\s+0\s+8594\s+8594\s+False", stdout);
        Assert.Contains("No data lost: 6 tables before, 5 after, 8594 rows.", stdout);
        Assert.Contains("sessions", File.ReadAllText(Path.Combine(run, "docs", "goals.md")));
        // The backup, the archive of the empty table and its removal were recorded in the (test's) journal.
        var journal = File.ReadAllText(Environment.GetEnvironmentVariable(TestJournal.Variable)!);
        Assert.Contains(Path.Combine(run, "archive"), journal);
        Assert.Contains(journal.Split('\n'), line => line.Contains("\"TableRemoved\"", StringComparison.Ordinal)
                                                   && line.Contains(Path.Combine(run, "archive"), StringComparison.Ordinal));
    }

    [Fact]
    public void A_runbook_that_stops_on_errors_exits_1_when_a_cmdlet_fails_and_names_what_failed()
    {
        // pwsh -File exits non-zero only on `exit N` or a script-terminating error, hence the examples' first line.
        var script = _folder.File("fails.ps1");
        File.WriteAllText(script, "$ErrorActionPreference = 'Stop'\nConnect-Database -Path ./does-not-exist.db\nexit 0\n");

        var (exitCode, stdout, stderr) = PwshProcess.Run(script);

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Contains("Connect-Database:", stderr);
        Assert.Contains("does-not-exist.db", stderr);
    }

    [Fact]
    public void The_nightly_integrity_example_writes_JSON_and_JUnit_reports_and_exits_1_on_the_seeded_defects()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(Path.Combine(RepoRoot, "examples", "nightly-integrity.ps1"), "-ReportFolder", _folder.Path);

        Assert.True(exitCode == 1, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Matches(@"Error\s+OrphanedRows\s+activity_instances\s+session_id\s+25\s+Declared", stdout);
        Assert.Matches(@"Warning\s+OrphanedRows\s+sessions\s+goal_id\s+11\s+Inferred", stdout);
        Assert.Contains("FAILED: 4 error(s), 1 warning(s), 0 check(s) could not run, 0 table(s) not found", stdout);
        Assert.Contains("Export-IntegrityReport:", stderr); // -FailOn wrote its error, which $ErrorActionPreference = 'Stop' made the exit code
        Assert.Single(Directory.GetFiles(_folder.Path, "integrity-*.json"));
        var junit = System.Xml.Linq.XDocument.Load(Assert.Single(Directory.GetFiles(_folder.Path, "integrity-*.xml")));
        Assert.Equal("4", junit.Root!.Attribute("failures")!.Value);
    }

    [Fact]
    public void The_nightly_integrity_example_exits_0_on_clean_data()
    {
        var chinook = _folder.File("chinook.db");
        File.Copy(Datasets.File("chinook", "Chinook_Sqlite.sqlite"), chinook);
        File.SetAttributes(chinook, FileAttributes.Normal);

        var (exitCode, stdout, stderr) = PwshProcess.Run(Path.Combine(RepoRoot, "examples", "nightly-integrity.ps1"),
            "-Database", chinook, "-ReportFolder", _folder.File("reports"), "-Level", "Full");

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Contains("No integrity problems at or above Error.", stdout);
    }

    private static string RepoRoot => Datasets.RepoRoot;
}

/// <summary>examples/rename-table.ps1 on both engines: a rename behind a compatibility view that the comparison explains.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RenameExampleTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData("SQLite")]
    [InlineData("PostgreSQL")]
    public void The_rename_example_keeps_old_readers_working_and_the_comparison_finds_no_data_loss(string engine)
    {
        var arguments = new List<string> { "-Folder", _folder.Path };
        if (engine == "PostgreSQL")
        {
            arguments.AddRange(["-Database", cluster.ConnectionString(cluster.CreateGoalsTracker())]);
        }

        var (exitCode, stdout, stderr) = PwshProcess.Run(Path.Combine(Datasets.RepoRoot, "examples", "rename-table.ps1"), [.. arguments]);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Contains("Old readers still work: sessions (the view) has 2000 rows, focus_sessions has 2000.", stdout);
        Assert.Matches(@"Table\s+Renamed\s+False\s+sessions", stdout);
        Assert.DoesNotMatch(@"Table\s+Removed", stdout);
        Assert.Contains("no data lost", stdout);
        Assert.Matches(@"Rename-Table -Database '[^']+' -Table '""\w+"".""focus_sessions""' -NewName 'sessions' -ReplaceCompatibilityView", stdout);
        Assert.DoesNotContain(PostgresCluster.Password, stdout);
        var journal = File.ReadAllText(Environment.GetEnvironmentVariable(TestJournal.Variable)!);
        Assert.Contains(journal.Split('\n'), line => line.Contains("\"TableRenamed\"", StringComparison.Ordinal) && line.Contains("focus_sessions", StringComparison.Ordinal));
    }
}
