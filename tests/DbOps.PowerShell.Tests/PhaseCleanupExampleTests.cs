namespace DbOps.PowerShell.Tests;

/// <summary>examples/phase-cleanup.ps1 under pwsh -File: on the sample SQLite database and on PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PhaseCleanupExampleTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string Example => Path.Combine(Path.GetDirectoryName(PowerShellSession.ModuleManifest)!, "..", "..", "examples", "phase-cleanup.ps1");

    [Fact]
    public void The_phase_cleanup_example_drops_the_unused_tables_and_proves_the_survivors_on_SQLite()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(Example, "-Folder", _folder.Path);

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("Dropped 2 table(s) (legacy_imports, tmp_migration_2019); 4 table(s) kept", stdout, StringComparison.Ordinal);
        Assert.Contains("kept     activity_instances           6000 rows", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void The_phase_cleanup_example_runs_against_PostgreSQL()
    {
        var database = cluster.CreateGoalsTracker();
        // Building the sample scanned and wrote every table: start the usage statistics afresh, as after a quiet week.
        cluster.Execute(database, "SELECT pg_stat_reset()");

        var (exitCode, stdout, stderr) = PwshProcess.Run(Example, "-Folder", _folder.Path, "-Database", cluster.ConnectionString(database),
            "-MinimumStatsAge", "00:00:00");

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("kept     public.goals", stdout, StringComparison.Ordinal);
        var summary = stdout.Split('\n').Single(l => l.StartsWith("Dropped ", StringComparison.Ordinal));
        Assert.True(summary.StartsWith("Dropped 2 table(s) (public.legacy_imports, public.tmp_migration_2019)", StringComparison.Ordinal), stdout);
    }
}
