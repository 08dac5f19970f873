using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Usage;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Finds tables that nothing uses, with the evidence: usage statistics and their age, emptiness, dependents, and code references.</para>
/// <para type="description">Emits one TableUsage per table with a Verdict (Unused, Empty, Active, Unknown), the Reason
/// and the Evidence behind it. PostgreSQL statistics younger than -MinimumStatsAge (7 days) cannot make a table
/// Unused or Empty. SQLite keeps no statistics: emptiness, dependents and -CodePath references decide. Read-only.</para>
/// </summary>
[Cmdlet(VerbsCommon.Find, "UnusedTable")]
[OutputType(typeof(TableUsage))]
public sealed class FindUnusedTableCommand : DbOpsCmdlet
{
    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>Folders whose files (source, SQL, ORM models) are searched for whole-word references to each table name.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? CodePath { get; set; }

    /// <summary>Table names ("name" or "schema.name", wildcards allowed) to leave out.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Exclude { get; set; }

    /// <summary>PostgreSQL: the youngest usage statistics that can show a table is unused (default 7 days).</summary>
    [Parameter]
    public TimeSpan? MinimumStatsAge { get; set; }

    /// <summary>A usage baseline from Start-UsageWatch (or its file): judge the counters' growth since then.</summary>
    [Parameter]
    public UsageBaselineArgument? Since { get; set; }

    /// <summary>The operations journal whose DbOps reads (backups, archives) do not count as use; the default journal when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var source = ResolveDatabase(Database);
            var request = new UnusedTableRequest(source, CodePath?.Select(ResolvePath).ToList(), Exclude, MinimumStatsAge)
            {
                Since = LoadBaseline(Since),
                JournalPath = JournalPath is null ? null : ResolvePath(JournalPath),
            };
            foreach (var usage in Run((observer, token) => UsageService.FindAsync(request, observer, token)))
            {
                WriteObject(usage);
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }
}
