using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Moves;

namespace DbOps.PowerShell.Commands;

/// <summary>The Compare-TableData cmdlet. Its help is docs/cmdlets/Compare-TableData.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Compare, "TableData", HelpUri = HelpLinks.Docs + "Compare-TableData.md")]
[OutputType(typeof(TableComparison))]
public sealed class CompareTableDataCommand : TableMapCommand
{
    /// <summary>A read-only SELECT whose rows are the target (the elements of a JSONB array, say).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? TargetQuery { get; set; }

    /// <summary>The database that holds the target, when it is another one (staging against production, SQLite against PostgreSQL).</summary>
    [Parameter]
    [OneDatabase]
    public DatabaseArgument? TargetDatabase { get; set; }

    /// <summary>
    /// With -TargetDatabase: connections per database that read the first key ranges at once, each database's all in one
    /// snapshot (PostgreSQL; a SQLite side reads over one, with a warning). In one database the comparison is one statement.
    /// </summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int Parallel { get; set; } = 1;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var map = BuildMap(ResolveDatabase(Database), TargetQuery) with { TargetDatabase = TargetDatabase is null ? null : ResolveDatabase(TargetDatabase) };
            WriteObject(Run((observer, token) => TableComparer.CompareAsync(map, Parallel, observer, token)));
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }
}
