namespace DbOps.PowerShell.Tests;

/// <summary>examples/rehearse-on-staging.ps1 under pwsh -File: a staging copy made, proved, changed, compared and removed, on both engines.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RehearsalExampleTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string Example => Path.Combine(Datasets.RepoRoot, "examples", "rehearse-on-staging.ps1");

    private static void AssertRehearsed(int exitCode, string stdout, string stderr)
    {
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        // The copy compares cleanly with production; after the step, only the two new indexes differ.
        Assert.Matches(@"\s6\s+6\s+0\s+0\s+0\s+8594\s+8594\s+False", stdout);
        Assert.Matches(@"Index\s+Added\s+False\s+\S*sessions\s+ix_sessions_goal_id", stdout);
        Assert.Contains("Rehearsal passed: 8594 rows, no data lost", stdout);
        var journal = File.ReadAllLines(Environment.GetEnvironmentVariable(TestJournal.Variable)!);
        Assert.Contains(journal, line => line.Contains("\"DatabaseCreated\"", StringComparison.Ordinal) && line.Contains("staging", StringComparison.Ordinal));
        Assert.Contains(journal, line => line.Contains("\"DatabaseRemoved\"", StringComparison.Ordinal) && line.Contains("staging", StringComparison.Ordinal));
    }

    [Fact]
    public void The_rehearsal_example_runs_on_a_staging_copy_of_the_SQLite_sample_and_removes_it()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(Example, "-Folder", _folder.Path);

        AssertRehearsed(exitCode, stdout, stderr);
        var run = Assert.Single(Directory.GetDirectories(_folder.Path, "rehearsal-*"));
        Assert.Empty(Directory.GetFiles(run, "staging.db*"));
        Assert.True(File.Exists(Path.Combine(run, "staging-after.json")));
    }

    [Fact]
    public void The_rehearsal_example_runs_on_a_staging_copy_of_the_PostgreSQL_sample_and_removes_it()
    {
        var production = cluster.CreateGoalsTracker();

        var (exitCode, stdout, stderr) = PwshProcess.Run(Example, "-Folder", _folder.Path, "-Database", cluster.ConnectionString(production));

        AssertRehearsed(exitCode, stdout, stderr);
        Assert.Equal(0L, cluster.Scalar<long>("postgres", $"SELECT count(*) FROM pg_database WHERE datname = '{production}_staging'"));
        // Production itself was only read: the step's indexes went to the copy.
        Assert.Equal(0L, cluster.Scalar<long>(production, "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_sessions_goal_id'"));
    }
}
