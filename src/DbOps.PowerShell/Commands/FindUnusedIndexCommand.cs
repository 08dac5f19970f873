using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;

namespace DbOps.PowerShell.Commands;

/// <summary>The Find-UnusedIndex cmdlet. Its help is docs/cmdlets/Find-UnusedIndex.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Find, "UnusedIndex", HelpUri = HelpLinks.Docs + "Find-UnusedIndex.md")]
[OutputType(typeof(IndexFinding))]
public sealed class FindUnusedIndexCommand : DbOpsCmdlet
{
    /// <summary>The database: a connection, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>How old the usage statistics must be before "no scans" means Unused (default 7 days).</summary>
    [Parameter]
    public TimeSpan? MinimumStatsAge { get; set; }

    /// <summary>A usage baseline from Start-UsageWatch (or its file): judge the counters' growth since then.</summary>
    [Parameter]
    public UsageBaselineArgument? Since { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var request = new UnusedIndexRequest(ResolveDatabase(Database), MinimumStatsAge) { Since = LoadBaseline(Since) };
            WriteObject(Run((observer, token) => IndexAdvisor.FindUnusedAsync(request, observer, token)), enumerateCollection: true);
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }
}
