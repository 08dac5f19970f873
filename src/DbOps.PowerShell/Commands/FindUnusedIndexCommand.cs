using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;

namespace DbOps.PowerShell.Commands;

/// <summary>The Find-UnusedIndex cmdlet. Its help is docs/cmdlets/Find-UnusedIndex.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Find, "UnusedIndex", HelpUri = HelpLinks.Docs + "Find-UnusedIndex.md")]
[OutputType(typeof(IndexFinding))]
public sealed class FindUnusedIndexCommand : DbOpsCmdlet
{
    private readonly List<DatabaseArgument> _databases = [];

    /// <summary>The database: a connection, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connections, SQLite paths or PostgreSQL connection strings.")]
    public DatabaseArgument[] Database { get; set; } = [];

    /// <summary>How many databases to work on at once, the largest first (default 1: one after another).</summary>
    [Parameter]
    [ValidateRange(1, MaxThrottleLimit)]
    public int ThrottleLimit { get; set; } = 1;

    /// <summary>How old the usage statistics must be before "no scans" means Unused (default 7 days).</summary>
    [Parameter]
    public TimeSpan? MinimumStatsAge { get; set; }

    /// <summary>A usage baseline from Start-UsageWatch (or its file): judge the counters' growth since then.</summary>
    [Parameter]
    public UsageBaselineArgument? Since { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord() => _databases.AddRange(Database);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            var since = LoadBaseline(Since);
            RunEach(ResolveEach(_databases), ThrottleLimit,
                (source, observer, token) => IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(source, MinimumStatsAge) { Since = since }, observer, token),
                (_, findings) => WriteObject(findings, enumerateCollection: true));
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e);
        }
        finally
        {
            base.EndProcessing();
        }
    }
}
