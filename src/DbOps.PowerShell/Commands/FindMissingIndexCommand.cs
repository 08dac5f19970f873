using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Finds relationships (declared foreign keys and those inferred from column names) whose referencing columns lead no index.</para>
/// <para type="description">Relationships are inferred exactly as Test-DataIntegrity infers them. Each result
/// carries the CREATE INDEX statement and pipes into Add-SafeIndex. Reads only.</para>
/// </summary>
[Cmdlet(VerbsCommon.Find, "MissingIndex")]
[OutputType(typeof(MissingIndex))]
public sealed class FindMissingIndexCommand : DbOpsCmdlet
{
    /// <summary>The database: a connection, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
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
