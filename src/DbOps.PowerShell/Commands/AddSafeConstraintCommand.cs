using System.Collections;
using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Errors;
using DbOps.Core.Integrity;

namespace DbOps.PowerShell.Commands;

/// <summary>The Add-SafeConstraint cmdlet. Its help is docs/cmdlets/Add-SafeConstraint.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Add, "SafeConstraint", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = CheckSet, HelpUri = HelpLinks.Docs + "Add-SafeConstraint.md")]
[OutputType(typeof(ConstraintResult))]
public sealed class AddSafeConstraintCommand : DbOpsCmdlet
{
    private const string CheckSet = nameof(Check);
    private const string UniqueSet = nameof(Unique);
    private const string NotNullSet = nameof(NotNull);
    private const string ForeignKeySet = nameof(ForeignKey);
    private const string InputObjectSet = nameof(InputObject);
    private const string PlanEntrySet = nameof(PlanEntry);
    private const string FindingSet = nameof(Finding);

    private const string DatabaseHelp = "Connection, SQLite path or PostgreSQL connection string.";

    private DbOpsConnection? _connection;

    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string. With findings piped in, by default each finding's own database.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = CheckSet, HelpMessage = DatabaseHelp)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = UniqueSet, HelpMessage = DatabaseHelp)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NotNullSet, HelpMessage = DatabaseHelp)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ForeignKeySet, HelpMessage = DatabaseHelp)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = InputObjectSet, HelpMessage = DatabaseHelp)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PlanEntrySet, HelpMessage = DatabaseHelp)]
    [Parameter(Position = 0, ParameterSetName = FindingSet)]
    [OneDatabase]
    public DatabaseArgument? Database { get; set; }

    /// <summary>The table the constraint goes on: <c>t</c> or <c>schema.t</c>.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = CheckSet, HelpMessage = "The table the constraint goes on.")]
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = UniqueSet, HelpMessage = "The table the constraint goes on.")]
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = NotNullSet, HelpMessage = "The table the constraint goes on.")]
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = ForeignKeySet, HelpMessage = "The table the constraint goes on.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string Table { get; set; } = "";

    /// <summary>The constraint's name; by default one in PostgreSQL's style (table_col_key, table_col_fkey, ...).</summary>
    [Parameter(ParameterSetName = CheckSet)]
    [Parameter(ParameterSetName = UniqueSet)]
    [Parameter(ParameterSetName = NotNullSet)]
    [Parameter(ParameterSetName = ForeignKeySet)]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>A CHECK expression, e.g. <c>'deadline &gt;= created_at'</c>.</summary>
    [Parameter(Mandatory = true, ParameterSetName = CheckSet, HelpMessage = "A boolean SQL expression.")]
    [ValidateNotNullOrEmpty]
    public string Check { get; set; } = "";

    /// <summary>Columns that together must be unique.</summary>
    [Parameter(Mandatory = true, ParameterSetName = UniqueSet, HelpMessage = "Columns that together must be unique.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnNameCompleter))]
    public string[] Unique { get; set; } = [];

    /// <summary>A column that must not hold NULL.</summary>
    [Parameter(Mandatory = true, ParameterSetName = NotNullSet, HelpMessage = "The column that must not hold NULL.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnNameCompleter))]
    public string NotNull { get; set; } = "";

    /// <summary>The referencing columns of a foreign key.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ForeignKeySet, HelpMessage = "The referencing columns.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnNameCompleter))]
    public string[] ForeignKey { get; set; } = [];

    /// <summary>The referenced table and key columns, written <c>'table(column, ...)'</c>.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ForeignKeySet, HelpMessage = "The referenced key, as 'table(column, ...)'.")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string References { get; set; } = "";

    /// <summary>
    /// A constraint spec: Test-DataIntegrity's SuggestedConstraint (bound by property name) or a ConstraintSpec.
    /// A finding without a suggestion (null) is skipped.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("SuggestedConstraint")]
    [AllowNull]
    public ConstraintSpec? InputObject { get; set; }

    /// <summary>
    /// A Test-DataIntegrity finding: its SuggestedConstraint goes on the database it was found in, unless -Database
    /// names another. A finding without a suggestion is skipped.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = FindingSet, ValueFromPipeline = true)]
    public IntegrityFinding Finding { get; set; } = null!;

    /// <summary>
    /// One entry of a plan kept in a .psd1 file, e.g. <c>@{ Table = 'goals'; NotNull = 'root_id' }</c>; the keys are
    /// Table, Name and one of Check, Unique, NotNull or ForeignKey (with References).
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = PlanEntrySet, ValueFromPipeline = true)]
    [ValidateNotNull]
    public IDictionary PlanEntry { get; set; } = null!;

    /// <summary>PostgreSQL lock_timeout (SQLite: busy timeout) per attempt; a number means seconds. Default 2 seconds.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan LockTimeout { get; set; } = ConstraintOptions.Default.LockTimeout;

    /// <summary>How many more times to try a statement that timed out waiting for its lock. Default 5.</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int MaxRetries { get; set; } = ConstraintOptions.Default.MaxRetries;

    /// <summary>The operations journal to record each added constraint in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
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
        ConstraintSpec? spec;
        try
        {
            spec = ParameterSetName switch
            {
                InputObjectSet => InputObject,
                FindingSet => Finding.SuggestedConstraint,
                PlanEntrySet => ConstraintSpec.FromDictionary(PlanEntry),
                _ => NamedSpec(),
            };
        }
        catch (DbOpsException e)
        {
            // A bad plan entry fails alone; bad named parameters leave nothing to do.
            if (ParameterSetName != PlanEntrySet)
            {
                ThrowDbOpsError(e);
            }
            WriteDbOpsError(e, PlanEntry);
            return;
        }
        if (spec is null)
        {
            WriteVerbose("No constraint suggested for this input; skipped.");
            return;
        }
        var options = new ConstraintOptions(LockTimeout, MaxRetries) { JournalPath = ResolveOptionalPath(JournalPath) };
        try
        {
            var connection = Database is null ? Finding.Source : _connection ??= ResolveDatabase(Database);
            var plan = Run((observer, token) => ConstraintService.PlanAsync(connection, spec, options, observer, token));
            var target = $"{plan.Table} ({plan.Database})";
            if (plan.Outcome is not null && WhatIfRequested)
            {
                // A rehearsal reports that it would be Blocked (or is present) instead of failing the script.
                ShouldProcessStatements(target, plan.Summary, []);
                return;
            }
            if (plan.Outcome is null && !ShouldProcessStatements(target, plan.Summary, plan.Statements))
            {
                return;
            }
            var result = Run((observer, token) => ConstraintService.ApplyAsync(plan, options, observer, token));
            WriteObject(result);
            if (result.Status == ConstraintStatus.Blocked)
            {
                WriteDbOpsError(new DbOpsException(ErrorIds.ConstraintViolations, ErrorKind.InvalidData,
                    $"{result.ViolationCount} row(s) of {result.Table} violate {result.Definition}; nothing was changed. " +
                    $"First keys: {string.Join(", ", result.Sample)}. List them all with: {result.ViolationQuery} " +
                    "Fix or remove those rows, then run again.", result.Table), result);
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, spec);
        }
    }

    /// <summary>The spec the named parameters describe.</summary>
    private ConstraintSpec NamedSpec() => ParameterSetName switch
    {
        CheckSet => ConstraintSpec.Check(Table, Check, Name),
        UniqueSet => ConstraintSpec.Unique(Table, Unique, Name),
        NotNullSet => ConstraintSpec.NotNull(Table, NotNull, Name),
        _ => ConstraintSpec.ForeignKeyFromReference(Table, ForeignKey, References, Name),
    };
}
