using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Renames;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// The Rename-Table cmdlet. Its help is docs/cmdlets/Rename-Table.md (the build turns that page into Get-Help text).
/// ConfirmImpact is Medium: a rename destroys and rewrites no data and its result carries the line that undoes it, so it
/// asks only with -Confirm (as Add-SafeConstraint and Import-TableArchive do); -WhatIf shows the exact SQL.
/// </summary>
[Cmdlet(VerbsCommon.Rename, "Table", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = HelpLinks.Docs + "Rename-Table.md")]
[OutputType(typeof(TableRename))]
public sealed class RenameTableCommand : DbOpsCmdlet
{
    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>The table to rename: "name" or "schema.name".</summary>
    [Parameter(Mandatory = true, Position = 1, HelpMessage = "Table name (table or schema.table).")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string Table { get; set; } = "";

    /// <summary>The new name, taken as it is (a dot is part of the name): the table stays in its schema.</summary>
    [Parameter(Mandatory = true, Position = 2, HelpMessage = "The table's new name (no schema: it stays in its schema).")]
    [ValidateNotNullOrEmpty]
    public string NewName { get; set; } = "";

    /// <summary>Leave a view under the old name: old readers (and on PostgreSQL simple writers) keep working until it is dropped.</summary>
    [Parameter]
    public SwitchParameter CompatibilityView { get; set; }

    /// <summary>Drop the compatibility view an earlier rename left under -NewName for this table (the undo of a rename with -CompatibilityView).</summary>
    [Parameter]
    public SwitchParameter ReplaceCompatibilityView { get; set; }

    /// <summary>How long one try waits for the table lock; a number means seconds. Default 0.2 seconds.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan LockTimeout { get; set; } = RenameRequest.DefaultLockTimeout;

    /// <summary>How many more times to try when the lock was not granted in time, with growing pauses. Default 10.</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int MaxRetries { get; set; } = 10;

    /// <summary>The operations journal to record the rename in; by default $env:DBOPS_JOURNAL or the per-user journal.</summary>
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
            var request = new RenameRequest(ResolveDatabase(Database), Table, NewName)
            {
                CompatibilityView = CompatibilityView,
                ReplaceCompatibilityView = ReplaceCompatibilityView,
                LockTimeout = LockTimeout,
                MaxRetries = MaxRetries,
                JournalPath = JournalPath is null ? null : ResolvePath(JournalPath),
            };
            var plan = Run((_, token) => RenameService.PlanAsync(request, token));
            var summary = $"Rename {plan.QualifiedName} to {plan.NewName}" +
                          (CompatibilityView ? $", leaving a compatibility view named {plan.Table}." : ".");
            if (ShouldProcessStatements($"{plan.QualifiedName} in {request.Source}", summary, plan.Statements))
            {
                WriteObject(Run((observer, token) => RenameService.RenameAsync(request, observer, token)));
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Table);
        }
    }
}
