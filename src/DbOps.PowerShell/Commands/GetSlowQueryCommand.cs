using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Performance;

namespace DbOps.PowerShell.Commands;

/// <summary>The Get-SlowQuery cmdlet. Its help is docs/cmdlets/Get-SlowQuery.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Get, "SlowQuery", HelpUri = HelpLinks.Docs + "Get-SlowQuery.md")]
[OutputType(typeof(SlowQuery))]
public sealed class GetSlowQueryCommand : DbOpsCmdlet
{
    /// <summary>A PostgreSQL database: a connection or a connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection or PostgreSQL connection string.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>How many statements by total time and by mean time (default 10 each).</summary>
    [Parameter]
    [ValidateRange(1, 10_000)]
    public int Top { get; set; } = 10;

    /// <summary>Calls from which a cheap single-row SELECT is flagged LikelyNPlusOne (default 1000).</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long NPlusOneMinCalls { get; set; } = 1000;

    /// <summary>The kinds of statement to rank: Application (default), Utility, Catalog, DbOps.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public StatementKind[] Kind { get; set; } = [StatementKind.Application];

    /// <summary>Only statements run by these roles (default: every role).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Role { get; set; } = [];

    /// <summary>Only statements run in these databases (default: the connection's database; '*' for all).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] DatabaseName { get; set; } = [];

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var request = new SlowQueryRequest(ResolveDatabase(Database), Top, NPlusOneMinCalls) { Kinds = Kind, Roles = Role, Databases = DatabaseName };
            WriteObject(Run((observer, token) => SlowQueries.GetAsync(request, observer, token)), enumerateCollection: true);
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }
}
