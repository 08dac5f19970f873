namespace DbOps.PowerShell.Tests;

/// <summary>examples/consolidate-tables.ps1 on both engines, as a user runs it: compare, copy, prove, archive, drop, no data lost.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ConsolidateExampleTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string Script => Path.Combine(Datasets.RepoRoot, "examples", "consolidate-tables.ps1");

    [Fact]
    public void On_SQLite_it_flags_the_conflict_and_the_orphan_copies_the_rest_and_loses_nothing() =>
        AssertConsolidated(PwshProcess.Run(Script, "-Folder", _folder.Path));

    [Fact]
    public void On_PostgreSQL_it_flags_the_conflict_and_the_orphan_copies_the_rest_and_loses_nothing() =>
        AssertConsolidated(PwshProcess.Run(Script, "-Folder", _folder.Path, "-Database", cluster.ConnectionString(cluster.CreateDatabase("consolidate"))));

    private static void AssertConsolidated((int ExitCode, string Stdout, string Stderr) run)
    {
        var (exitCode, stdout, stderr) = run;
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        // Before the copy: id 3 differs in file_size, id 99 is the target's own; 1, 2 and 4 are missing.
        Assert.Matches(@"MissingSamples : \{1, 2, 4\}", stdout);
        Assert.Matches(@"ExtraSamples\s+: \{99\}", stdout);
        Assert.Matches(@"3\s+\{file_size\}", stdout);
        Assert.Matches(@"Verdict : Contained", stdout);
        Assert.Contains("No data lost: 3 rows copied, 1 updated, v3_data_imports archived and dropped.", stdout);
    }
}
