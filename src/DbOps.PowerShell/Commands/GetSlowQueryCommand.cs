using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Performance;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Lists the most expensive statements of a PostgreSQL database from pg_stat_statements, flagging likely N+1 patterns.</para>
/// <para type="description">Returns the top -Top statements by total time and the top -Top by mean time, and every
/// likely N+1 (many cheap calls of the same statement) wherever it ranks. Utility statements (DDL, COPY, ANALYZE,
/// CREATE/DROP DATABASE), catalog queries and DbOps's own marked statements are left out unless -Kind asks for
/// them; -Role and -DatabaseName choose whose statements are read (the connection's database by default). Fails
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
