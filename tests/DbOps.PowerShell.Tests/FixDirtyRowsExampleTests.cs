namespace DbOps.PowerShell.Tests;

/// <summary>
/// examples/fix-dirty-rows.ps1 under pwsh -File: the goals tracker's defects fixed with prior images (rehearsed on a
/// staging copy first), the blocked constraints added, and no data lost, on both engines.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FixDirtyRowsExampleTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string Example => Path.Combine(Datasets.RepoRoot, "examples", "fix-dirty-rows.ps1");

    private string JournalPath => Path.Combine(_folder.Path, "journal.jsonl");

    private void AssertFixed(int exitCode, string stdout, string stderr)
    {
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Matches(@"What if: Blocked: 11 row\(s\) of \S*sessions violate FOREIGN KEY", stdout);
        // The orphaned sessions' 33 activities go first, then the 25 orphaned activities and the 11 orphaned sessions.
        Assert.Matches(@"activity_instances\s+Remove\s+Fixed\s+33", stdout);
        Assert.Matches(@"sessions\s+Remove\s+Fixed\s+11", stdout);
        Assert.Matches(@"activity_groups\s+Update\s+Fixed\s+4", stdout);
        Assert.Matches(@"sessions\s+ForeignKey\s+\S+\s+Added", stdout);
        // Rehearsal and production alike: 69 rows fewer, all of them in verified archives.
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(stdout, @"\s6\s+6\s+0\s+0\s+2\s+8594\s+8525\s+False").Count);
        Assert.Contains("Fixed 85 rows in 6 fixes, added 4 constraints, no data lost.", stdout);
        // Three removals and three updates each on staging and on production, each with its one journal entry.
        var journal = File.ReadAllLines(JournalPath);
        Assert.Equal(6, journal.Count(line => line.Contains("\"RowsRemoved\"", StringComparison.Ordinal)));
        Assert.Equal(6, journal.Count(line => line.Contains("\"RowsUpdated\"", StringComparison.Ordinal)));
        Assert.Contains(journal, line => line.Contains("\"DatabaseRemoved\"", StringComparison.Ordinal) && line.Contains("staging", StringComparison.Ordinal));
    }

    [Fact]
    public void The_fix_example_cleans_the_SQLite_sample_and_adds_its_constraints_without_data_loss()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(Example, "-Folder", _folder.Path, "-JournalPath", JournalPath);

        AssertFixed(exitCode, stdout, stderr);
        var run = Assert.Single(Directory.GetDirectories(_folder.Path, "fixes-*"));
        Assert.Empty(Directory.GetFiles(run, "staging.db*"));
        Assert.Equal(6, Directory.GetDirectories(Path.Combine(run, "fixes")).Length);
    }

    [Fact]
    public void The_fix_example_cleans_the_PostgreSQL_sample_and_adds_its_constraints_without_data_loss()
    {
        var production = cluster.CreateGoalsTracker();

        var (exitCode, stdout, stderr) = PwshProcess.Run(Example, "-Folder", _folder.Path, "-JournalPath", JournalPath, "-Database", cluster.ConnectionString(production));

        AssertFixed(exitCode, stdout, stderr);
        Assert.Equal(0L, cluster.Scalar<long>("postgres", $"SELECT count(*) FROM pg_database WHERE datname = '{production}_staging'"));
        Assert.Equal(0L, cluster.Scalar<long>(production, "SELECT count(*) FROM sessions WHERE goal_id NOT IN (SELECT id FROM goals)"));
        Assert.Equal(1L, cluster.Scalar<long>(production, "SELECT count(*) FROM pg_constraint WHERE conname = 'sessions_goal_id_fkey' AND convalidated"));
    }
}
