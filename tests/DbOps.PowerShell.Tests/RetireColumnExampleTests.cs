namespace DbOps.PowerShell.Tests;

/// <summary>examples/retire-column.ps1 under pwsh -File: on the sample SQLite database and on PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RetireColumnExampleTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string Example => Path.Combine(Path.GetDirectoryName(PowerShellSession.ModuleManifest)!, "..", "..", "examples", "retire-column.ps1");

    [Fact]
    public void The_retire_column_example_drops_is_mock_and_the_archive_explains_every_value_on_SQLite()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(Example, "-Folder", _folder.Path);

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("No data lost: the values of sessions.is_mock (2000 rows)", stdout, StringComparison.Ordinal);
        Assert.Contains("the values of sessions.is_mock (2000 rows with their key) are in", stdout.Replace("\n              ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public void The_retire_column_example_runs_against_PostgreSQL()
    {
        var database = cluster.CreateGoalsTracker();

        var (exitCode, stdout, stderr) = PwshProcess.Run(Example, "-Folder", _folder.Path, "-Database", cluster.ConnectionString(database));

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("No data lost: the values of sessions.is_mock (2000 rows)", stdout, StringComparison.Ordinal);
        Assert.Equal(0L, cluster.Scalar<long>(database, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'sessions' AND column_name = 'is_mock'"));
    }
}
