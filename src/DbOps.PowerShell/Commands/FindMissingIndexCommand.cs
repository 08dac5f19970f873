using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;

namespace DbOps.PowerShell.Commands;

/// <summary>The Find-MissingIndex cmdlet. Its help is docs/cmdlets/Find-MissingIndex.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Find, "MissingIndex", HelpUri = HelpLinks.Docs + "Find-MissingIndex.md")]
[OutputType(typeof(MissingIndex))]
public sealed class FindMissingIndexCommand : DbOpsCmdlet
{
    private readonly List<DatabaseArgument> _databases = [];

    /// <summary>The database: a connection, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connections, SQLite paths or PostgreSQL connection strings.")]
    public DatabaseArgument[] Database { get; set; } = [];

    /// <summary>How many databases to work on at once, the largest first (default 1: one after another).</summary>
    [Parameter]
    [ValidateRange(1, MaxThrottleLimit)]
    public int ThrottleLimit { get; set; } = 1;

    /// <inheritdoc/>
    protected override void ProcessRecord() => _databases.AddRange(Database);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            RunEach(ResolveEach(_databases), ThrottleLimit, IndexAdvisor.FindMissingAsync,
                (_, indexes) => WriteObject(indexes, enumerateCollection: true));
        }
        finally
        {
            base.EndProcessing();
        }
    }
}
