namespace DbOps.PowerShell.Tests;

/// <summary>Start-UsageWatch and -Since as a runbook uses them: a saved baseline, judged later, refused for another database.</summary>
[Collection(PostgresCollection.Name)]
public sealed class UsageWatchCmdletTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public void A_saved_baseline_makes_a_loaded_table_Unused_and_is_refused_for_another_database()
    {
        const string setup = "CREATE TABLE loaded (id integer PRIMARY KEY); INSERT INTO loaded SELECT generate_series(1, 100);";
        var database = cluster.CreateDatabase();
        cluster.Execute(database, setup);
        var other = cluster.CreateDatabase();
        cluster.Execute(other, setup);
        var (cs, otherCs, path) = (cluster.ConnectionString(database), cluster.ConnectionString(other), _folder.File("usage.json"));

        var baseline = Assert.Single(_session.Run("Start-UsageWatch $cs -Path $path", new { cs, path }));
        Assert.Empty(_session.Errors);
        Assert.Equal(database, baseline.Properties["Database"].Value);
        Assert.True(File.Exists(path));

        var plain = Assert.Single(_session.Run("Find-UnusedTable $cs -MinimumStatsAge 0", new { cs }));
        Assert.Equal("Active", plain.Properties["Verdict"].Value.ToString());
        var since = Assert.Single(_session.Run("Find-UnusedTable $cs -MinimumStatsAge 0 -Since $path", new { cs, path }));
        Assert.Empty(_session.Errors);
        Assert.Equal("Unused", since.Properties["Verdict"].Value.ToString());
        Assert.Contains("usage baseline taken", (string)since.Properties["Reason"].Value);

        Assert.Empty(_session.Run("Find-UnusedTable $otherCs -Since $path", new { otherCs, path }));
        Assert.Equal("UsageBaselineMismatch,DbOps.PowerShell.Commands.FindUnusedTableCommand", Assert.Single(_session.Errors).FullyQualifiedErrorId);
    }
}
