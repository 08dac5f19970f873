namespace DbOps.PowerShell.Tests;

/// <summary>examples/add-constraints.ps1 run as a user runs it: pwsh -File in its own process.</summary>
public sealed class ConstraintRunbookTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void The_constraint_runbook_is_blocked_on_dirty_data_adds_after_cleaning_and_then_finds_everything_present()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(Path.Combine(Datasets.RepoRoot, "examples", "add-constraints.ps1"), "-Folder", _folder.Path);

        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Contains("What if:", stdout);
        Assert.Contains("ConstraintViolations: 5 row(s) of goals violate CHECK (deadline >= created_at); nothing was changed. First keys: 5, 44, 87, 132, 190.", stdout);
        Assert.Contains("ConstraintViolations: 11 row(s) of sessions violate FOREIGN KEY (\"goal_id\") REFERENCES \"goals\" (\"id\")", stdout);
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(stdout, @"ConstraintViolations: ").Count);
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(stdout, @"\sAdded\s").Count);
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Matches(stdout, @"\sAlreadyPresent\s").Count);
        Assert.Contains("All 4 constraints are in place.", stdout);
    }
}
