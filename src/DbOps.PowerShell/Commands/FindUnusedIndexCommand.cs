using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Finds indexes that cost writes without serving reads: unused (PostgreSQL), duplicate and overlapping.</para>
/// <para type="description">Unused means no scans since the usage statistics started counting; when they
/// are younger than -MinimumStatsAge (7 days, the Find-UnusedTable rule) the verdict is Unknown. Indexes backing a
/// primary key, unique or exclusion constraint are never reported. SQLite records no usage: only duplicates and
/// overlaps. Results pipe into Remove-UnusedIndex. Reads only.</para>
/// </summary>
[Cmdlet(VerbsCommon.Find, "UnusedIndex")]
[OutputType(typeof(IndexFinding))]
public sealed class FindUnusedIndexCommand : DbOpsCmdlet
{
    /// <summary>The database: a connection, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
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
