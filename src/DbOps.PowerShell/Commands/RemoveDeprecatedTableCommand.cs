using System.Globalization;
using System.Management.Automation;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Removal;

namespace DbOps.PowerShell.Commands;

/// <summary>The Remove-DeprecatedTable cmdlet. Its help is docs/cmdlets/Remove-DeprecatedTable.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Remove, "DeprecatedTable", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = InputObjectSet, HelpUri = HelpLinks.Docs + "Remove-DeprecatedTable.md")]
[OutputType(typeof(TableRemoval))]
public sealed class RemoveDeprecatedTableCommand : DbOpsCmdlet
{
    private const string TableSet = nameof(Table);
    private const string InputObjectSet = nameof(InputObject);

    private readonly List<(DbOpsConnection Source, RemovalTarget Target)> _targets = [];
    private DbOpsConnection? _database;

    /// <summary>An archive from Export-TableArchive; its table is the one dropped.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public TableArchive InputObject { get; set; } = null!;

    /// <summary>The database; optional when piping archives, which carry their connection.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = TableSet, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [Parameter(ParameterSetName = InputObjectSet)]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>The table to drop: "name" or "schema.name".</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = TableSet, HelpMessage = "Table name (table or schema.table).")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string Table { get; set; } = "";

    /// <summary>The archive's .manifest.json; omit it only for an empty table.</summary>
    [Parameter(ParameterSetName = TableSet)]
    [Alias("ManifestPath")]
    [ValidateNotNullOrEmpty]
    public string? ArchivePath { get; set; }

    /// <summary>How long to wait for the table lock before giving up; a number means seconds. Default 5 seconds.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan LockTimeout { get; set; } = RemovalRequest.DefaultLockTimeout;

    /// <summary>PostgreSQL: drop the foreign-key constraints of other tables that reference the table (never the tables themselves).</summary>
    [Parameter]
    public SwitchParameter DropInboundForeignKeys { get; set; }

    /// <summary>
    /// Views, triggers and functions that need the table and go with it (name, schema.name or "quoted name"): their CREATE
    /// statements are saved beside its archive and they are dropped before it, in the same transaction. Any other dependent still refuses.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] IncludeDependent { get; set; } = [];

    /// <summary>The operations journal to record the removals in; by default $env:DBOPS_JOURNAL or the per-user journal.</summary>
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
            if (ParameterSetName == InputObjectSet)
            {
                var source = Database is not null ? _database ??= ResolveDatabase(Database)
                    : InputObject.Source ?? throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                        $"The archive of {InputObject.QualifiedName} does not carry its connection; pass -Database.", InputObject);
                _targets.Add((source, RemovalTarget.For(InputObject)));
            }
            else
            {
                _targets.Add((_database ??= ResolveDatabase(Database), new RemovalTarget(Table, ArchivePath is null ? null : ResolvePath(ArchivePath))));
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, ParameterSetName == InputObjectSet ? InputObject : Table);
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        // The whole batch is known only now: tables that reference others in it are dropped first.
        // Each piped archive carries its own connection object: tables of the same database form one batch.
        foreach (var group in _targets.GroupBy(t => (t.Source.Provider, t.Source.Server, t.Source.Database)))
        {
            var source = group.First().Source;
            try
            {
                var request = new RemovalRequest(source, group.Select(t => t.Target).ToList(), LockTimeout, DropInboundForeignKeys,
                    JournalPath is null ? null : ResolvePath(JournalPath)) { IncludeDependents = IncludeDependent };
                var plans = Run((_, token) => RemovalService.PlanAsync(request, token));
                var confirmed = new List<RemovalTarget>();
                foreach (var plan in plans)
                {
                    if (plan.Error is not null)
                    {
                        WriteObject(plan);
                        WriteDbOpsError(plan.Error, plan.QualifiedName);
                    }
                    else if (ShouldProcessStatements($"{plan.QualifiedName} in {source}", plan.ArchivePath is null
                                 ? $"Drop {plan.QualifiedName} (no archive: only if it is empty)."
                                 : $"Drop {plan.QualifiedName}{(plan.RowCount is { } rows ? $" ({rows.ToString("N0", CultureInfo.InvariantCulture)} rows)" : "")}, " +
                                   $"archived in '{plan.ArchivePath}' (its rows are checked again under the lock)" +
                                   (plan.RetiredDependents.Count == 0 ? "." : $", with {plan.RetiredDependents} (their definitions kept beside the archive)."),
                                 plan.Statements))
                    {
                        confirmed.Add(plan.Target!);
                    }
                }
                // Declined, or -WhatIf (which writes nothing, not even a journal line): nothing runs. A batch of refusals
                // still runs, with no tables, so that a drop an earlier run committed without recording its outcome is
                // recorded now (the table's absence settles it).
                if (WhatIfRequested || (confirmed.Count == 0 && plans.Any(p => p.Error is null)))
                {
                    continue;
                }
                // The confirmed targets name the exact tables and foreign keys the user was shown.
                var results = Run((observer, token) => RemovalService.RemoveAsync(request with { Tables = confirmed }, observer, token));
                foreach (var result in results)
                {
                    WriteObject(result);
                    if (result.Error is not null)
                    {
                        WriteDbOpsError(result.Error, result.QualifiedName);
                    }
                }
            }
            catch (DbOpsException e)
            {
                WriteDbOpsError(e, source.ToString());
            }
        }
        base.EndProcessing();
    }
}
