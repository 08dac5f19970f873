using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Usage;

namespace DbOps.PowerShell.Commands;

/// <summary>The Find-UnusedTable cmdlet. Its help is docs/cmdlets/Find-UnusedTable.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Find, "UnusedTable", HelpUri = HelpLinks.Docs + "Find-UnusedTable.md")]
[OutputType(typeof(TableUsage))]
public sealed class FindUnusedTableCommand : DbOpsCmdlet
{
    private readonly List<DatabaseArgument> _databases = [];

    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connections, SQLite paths or PostgreSQL connection strings.")]
    public DatabaseArgument[] Database { get; set; } = [];

    /// <summary>How many databases to work on at once, the largest first (default 1: one after another).</summary>
    [Parameter]
    [ValidateRange(1, MaxThrottleLimit)]
    public int ThrottleLimit { get; set; } = 1;

    /// <summary>Folders whose files (source, SQL, ORM models) are searched for whole-word references to each table name.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? CodePath { get; set; }

    /// <summary>Table names ("name" or "schema.name", wildcards allowed) to leave out.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PlainTableNameCompleter))]
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
    protected override void ProcessRecord() => _databases.AddRange(Database);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            var codePaths = CodePath?.Select(ResolvePath).ToList();
            var since = LoadBaseline(Since);
            var journalPath = JournalPath is null ? null : ResolvePath(JournalPath);
            RunEach(ResolveEach(_databases), ThrottleLimit,
                (source, observer, token) => UsageService.FindAsync(
                    new UnusedTableRequest(source, codePaths, Exclude, MinimumStatsAge) { Since = since, JournalPath = journalPath }, observer, token),
                (_, usages) => WriteObject(usages, enumerateCollection: true));
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
