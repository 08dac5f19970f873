using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

[Collection(PostgresCollection.Name)]
public sealed class PostgresIntegrityCmdletTests(PostgresCluster cluster) : IDisposable
{
    private readonly PowerShellSession _session = new();

    public void Dispose() => _session.Dispose();

    [Fact]
    public void Connect_Database_pipes_into_Test_DataIntegrity_and_findings_pipe_their_SuggestedConstraint_on()
    {
        var cs = cluster.ConnectionString(cluster.CreateGoalsTracker());

        var specs = _session.Run("""
            Connect-Database -ConnectionString $cs |
                Test-DataIntegrity -RequiredColumn @{ 'public.goals' = 'root_id' } -UniqueKey @{ activity_groups = 'root_id', 'name' } |
                Where-Object Severity -eq 'Error' |
                ForEach-Object SuggestedConstraint |
                ForEach-Object { $_.ToString() }
            """, new { cs });

        Assert.Empty(_session.Errors);
        Assert.Equal(
            ["public.activity_groups: UNIQUE (root_id, name)",
             "public.activity_instances: FOREIGN KEY (session_id) REFERENCES public.sessions (id)",
             "public.goals: NOT NULL (root_id)"],
            specs.Select(s => s.ToString()).Order());
    }
}
