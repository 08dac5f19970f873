using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;

namespace DbOps.PowerShell.Commands;

/// <summary>The Add-SafeIndex cmdlet. Its help is docs/cmdlets/Add-SafeIndex.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Add, "SafeIndex", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ColumnsSet, HelpUri = HelpLinks.Docs + "Add-SafeIndex.md")]
[OutputType(typeof(IndexChange))]
public sealed class AddSafeIndexCommand : DbOpsCmdlet
{
    private const string ColumnsSet = nameof(Column);
    private const string InputObjectSet = nameof(InputObject);

    /// <summary>-Database resolved once (it does not come from the pipeline).</summary>
    private DbOpsConnection? _database;

    /// <summary>The database; optional when piping Find-MissingIndex results, which carry their connection.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ColumnsSet, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [Parameter(ParameterSetName = InputObjectSet)]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>The table (t or schema.t).</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = ColumnsSet, HelpMessage = "Table to index.")]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Table { get; set; } = "";

    /// <summary>The keys, in order: column names, or expressions such as "lower(email)" or "(phases ->> 'status')".</summary>
    [Parameter(Mandatory = true, Position = 2, ParameterSetName = ColumnsSet, HelpMessage = "Key columns or expressions, in order.")]
    [Alias("Columns")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnNameCompleter))]
    public string[] Column { get; set; } = [];

    /// <summary>A missing index from Find-MissingIndex.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public MissingIndex InputObject { get; set; } = null!;

    /// <summary>The access method: BTree (default), Gin, Gist, Brin, Hash or SpGist. SQLite has B-trees only.</summary>
    [Parameter(ParameterSetName = ColumnsSet)]
    public IndexMethod Using { get; set; } = IndexMethod.BTree;

    /// <summary>Columns stored in the index without being keys (PostgreSQL INCLUDE), for index-only scans.</summary>
    [Parameter(ParameterSetName = ColumnsSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnNameCompleter))]
    public string[] Include { get; set; } = [];

    /// <summary>The partial-index predicate, e.g. "deleted_at IS NULL": only rows it holds for are indexed.</summary>
    [Parameter(ParameterSetName = ColumnsSet)]
    [ValidateNotNullOrEmpty]
    public string? Where { get; set; }

    /// <summary>The index name; by default ix_table_columns (a Find-MissingIndex result's SuggestedName).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>The operations journal to record each added index in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var target = ParameterSetName == InputObjectSet ? (object)InputObject : Table;
        try
        {
            var request = ParameterSetName == InputObjectSet
                ? new AddIndexRequest(Database is null ? InputObject.Source : _database ??= ResolveDatabase(Database), InputObject.Table, InputObject.Columns,
                                      Name ?? InputObject.SuggestedName)
                : new AddIndexRequest(_database ??= ResolveDatabase(Database), Table, Column, Name) { Method = Using, Include = Include, Where = Where };
            var plan = Run((_, token) => IndexMaintenance.PlanAddAsync(request, token));
            if (plan.Statements.Count == 0)
            {
                WriteVerbose(plan.Note);
                WriteObject(plan.Skipped());
                return;
            }
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
