using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;

namespace DbOps.PowerShell.Commands;

/// <summary>The Find-MissingIndex cmdlet. Its help is docs/cmdlets/Find-MissingIndex.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Find, "MissingIndex", HelpUri = HelpLinks.Docs + "Find-MissingIndex.md")]
[OutputType(typeof(MissingIndex))]
public sealed class FindMissingIndexCommand : DbOpsCmdlet
{
    /// <summary>The database: a connection, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var source = ResolveDatabase(Database);
            WriteObject(Run((observer, token) => IndexAdvisor.FindMissingAsync(source, observer, token)), enumerateCollection: true);
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }
}
