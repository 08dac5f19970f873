namespace DbOps.PowerShell.Tests;

/// <summary>examples/add-constraints.ps1 run as a user runs it: DbOps.Runner in its own process.</summary>
public sealed class ConstraintRunbookTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void The_constraint_runbook_is_blocked_on_dirty_data_adds_after_cleaning_and_then_finds_everything_present()
    {
        var (exitCode, stdout, stderr) = RunnerTests.RunRunner(Path.Combine(Datasets.RepoRoot, "examples", "add-constraints.ps1"), "-Folder", _folder.Path);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Contains("What if:", stdout);
        Assert.Matches(@"goals\s+Check\s+goals_deadline_after_start\s+Blocked\s+5\s+5, 44, 87, 132, 190", stdout);
        Assert.Matches(@"sessions\s+ForeignKey\s+sessions_goal_id_fkey\s+Blocked\s+11", stdout);
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(stdout, @"ConstraintViolations: ").Count);
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(stdout, @"\sAdded\s").Count);
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(stdout, @"\sAlreadyPresent\s").Count);
        Assert.Contains("All 4 constraints are in place.", stdout);
    }
}
