using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Performance;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Lists the most expensive statements of a PostgreSQL database from pg_stat_statements, flagging likely N+1 patterns.</para>
/// <para type="description">Returns the top -Top statements by total time and the top -Top by mean time. Fails
/// with StatStatementsUnavailable when the extension is not installed or not preloaded. Pipe the results into
/// Measure-QueryPerformance (statements with $1 placeholders need -Parameters).</para>
/// </summary>
[Cmdlet(VerbsCommon.Get, "SlowQuery")]
[OutputType(typeof(SlowQuery))]
public sealed class GetSlowQueryCommand : DbOpsCmdlet
{
    /// <summary>A PostgreSQL database: a connection or a connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection or PostgreSQL connection string.")]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>How many statements by total time and by mean time (default 10 each).</summary>
    [Parameter]
    [ValidateRange(1, 10_000)]
    public int Top { get; set; } = 10;

    /// <summary>Calls from which a cheap single-row SELECT is flagged LikelyNPlusOne (default 1000).</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long NPlusOneMinCalls { get; set; } = 1000;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var request = new SlowQueryRequest(ResolveDatabase(Database), Top, NPlusOneMinCalls);
            WriteObject(Run((observer, token) => SlowQueries.GetAsync(request, observer, token)), enumerateCollection: true);
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }
}
