namespace DbOps.PowerShell.Tests;

/// <summary>examples/collapse-to-jsonb.ps1 on both engines, as a user runs it: gather, prove, archive, drop, no data lost.</summary>
[Collection(PostgresCollection.Name)]
public sealed class CollapseExampleTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string Script => Path.Combine(Datasets.RepoRoot, "examples", "collapse-to-jsonb.ps1");

    [Fact]
    public void On_SQLite_every_legacy_row_lands_in_its_parents_json_and_nothing_is_lost() =>
        AssertCollapsed(PwshProcess.Run(Script, "-Folder", _folder.Path));

    [Fact]
    public void On_PostgreSQL_every_legacy_row_lands_in_its_parents_jsonb_and_nothing_is_lost() =>
        AssertCollapsed(PwshProcess.Run(Script, "-Folder", _folder.Path, "-Database", cluster.ConnectionString(cluster.CreateDatabase("collapse"))));

    private static void AssertCollapsed((int ExitCode, string Stdout, string Stderr) run)
    {
        var (exitCode, stdout, stderr) = run;
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        // Before the gather no legacy row is in a parent's JSON; after it, every one is, with equal values.
        Assert.Matches(@"Missing\s+: 4", stdout);
        Assert.Matches(@"Verdict\s+: Equal\s+SourceRows\s+: 4\s+TargetRows\s+: 4\s+Matched\s+: 4", stdout);
        // The two parents' previous values were archived first, and the undo line names that archive.
        Assert.Matches(@"PriorImageRows : 2", stdout);
        Assert.Contains("-Mode Upsert", stdout, StringComparison.Ordinal);
        Assert.Contains("No data lost: 4 legacy rows live in 2 projects' analysis_results; analysis_results_legacy archived and dropped.", stdout);
    }
}
