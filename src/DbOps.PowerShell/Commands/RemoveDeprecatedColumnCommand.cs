using System.Management.Automation;
using DbOps.Core.Archive;
using DbOps.Core.Columns;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Removal;

namespace DbOps.PowerShell.Commands;

/// <summary>The Remove-DeprecatedColumn cmdlet. Its help is docs/cmdlets/Remove-DeprecatedColumn.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Remove, "DeprecatedColumn", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, HelpUri = HelpLinks.Docs + "Remove-DeprecatedColumn.md")]
[OutputType(typeof(ColumnRemoval))]
public sealed class RemoveDeprecatedColumnCommand : DbOpsCmdlet
{
    private DbOpsConnection? _database;

    /// <summary>The database holding the table.</summary>
    [Parameter(Mandatory = true, Position = 0, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>The table: "name" or "schema.name".</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true, HelpMessage = "Table name (table or schema.table).")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string Table { get; set; } = "";

    /// <summary>The column to retire.</summary>
    [Parameter(Mandatory = true, Position = 2, ValueFromPipelineByPropertyName = true, HelpMessage = "Column name.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnNameCompleter))]
    public string Column { get; set; } = "";

    /// <summary>The folder for the column archive; an archive of this column already there is used (checked under the lock).</summary>
    [Parameter(Mandatory = true, HelpMessage = "Folder for the column archive.")]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>Objects that need the column and go with it (indexes, constraints, views, triggers), by name; any other dependent refuses the drop.</summary>
    [Parameter]
    [ValidateNotNull]
    public string[] Dependent { get; set; } = [];

    /// <summary>How long to wait for the table lock before giving up; a number means seconds. Default 5 seconds.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan LockTimeout { get; set; } = RemovalRequest.DefaultLockTimeout;

    /// <summary>The archive's data format: Csv (default) or JsonLines.</summary>
    [Parameter]
    public ArchiveFormat Format { get; set; } = ArchiveFormat.Csv;

    /// <summary>PostgreSQL: pg_dump (file or folder) for the archive's schema file.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ToolPath { get; set; }

    /// <summary>The operations journal; by default $env:DBOPS_JOURNAL or the per-user journal.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        RequirePositiveLockTimeout(LockTimeout);
    }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var source = _database ??= ResolveDatabase(Database);
            var request = new ColumnRemovalRequest(source, Table, Column, ResolvePath(Destination), Dependent, LockTimeout, Format,
                ToolPath is null ? null : ResolvePath(ToolPath), JournalPath is null ? null : ResolvePath(JournalPath));
            var plan = Run((_, token) => ColumnRemovalService.PlanAsync(request, token));
            var dependents = plan.DroppedDependents.Count == 0 ? "" : $" with {string.Join(", ", plan.DroppedDependents)}";
            if (!ShouldProcessStatements($"{plan.QualifiedName}.{plan.Column} in {source}",
                    $"Drop column {plan.Column} of {plan.QualifiedName}{dependents}, after archiving it with the table's key to '{plan.ArchivePath}' " +
                    "(its values are checked again under the lock).", plan.Statements))
            {
                return;
            }
            WriteObject(Run((observer, token) => ColumnRemovalService.RemoveAsync(request, observer, token)));
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, $"{Table}.{Column}");
        }
    }
}
