using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;

namespace DbOps.PowerShell.Commands;

/// <summary>The Remove-UnusedIndex cmdlet. Its help is docs/cmdlets/Remove-UnusedIndex.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Remove, "UnusedIndex", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = InputObjectSet, HelpUri = HelpLinks.Docs + "Remove-UnusedIndex.md")]
[OutputType(typeof(IndexChange))]
public sealed class RemoveUnusedIndexCommand : DbOpsCmdlet
{
    private const string NameSet = nameof(Name);
    private const string InputObjectSet = nameof(InputObject);

    /// <summary>-Database resolved once (it does not come from the pipeline).</summary>
    private DbOpsConnection? _database;

    /// <summary>A finding from Find-UnusedIndex.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public IndexFinding InputObject { get; set; } = null!;

    /// <summary>The database; optional when piping findings, which carry their connection.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [Parameter(ParameterSetName = InputObjectSet)]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>An index by name (index or schema.index).</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = NameSet, HelpMessage = "Index name (index or schema.index).")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(IndexNameCompleter))]
    public string Name { get; set; } = "";

    /// <summary>Drop a finding whose verdict is Unknown (statistics younger than the minimum age).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>The operations journal to record each dropped index in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var target = ParameterSetName == InputObjectSet ? (object)InputObject : Name;
        try
        {
            var request = ParameterSetName == InputObjectSet
                ? new RemoveIndexRequest(Database is null ? InputObject.Source : _database ??= ResolveDatabase(Database), InputObject.Index, InputObject, Force)
                : new RemoveIndexRequest(_database ??= ResolveDatabase(Database), Name, null, Force);
            var plan = Run((_, token) => IndexMaintenance.PlanRemoveAsync(request, token));
            if (ShouldProcess(plan.Target, string.Join(";\n", plan.Statements)))
            {
                WriteObject(Run((observer, token) => IndexMaintenance.ApplyAsync(plan, observer, token, ResolveOptionalPath(JournalPath))));
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, target);
        }
    }
}
