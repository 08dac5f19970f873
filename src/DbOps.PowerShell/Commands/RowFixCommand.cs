using System.Globalization;
using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Integrity;
using DbOps.Core.RowFixes;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// What Remove-TableRow and Update-TableRow share: choosing the rows (-Where, -Key, or piped findings), the archive
/// folder, and one confirmation and one fix per table. Piped findings are gathered first, so the findings about one
/// table become one fix with one archive.
/// </summary>
public abstract class RowFixCommand : DbOpsCmdlet
{
    private protected const string TableSet = nameof(Table);
    private protected const string FindingSet = nameof(Finding);

    private readonly List<IntegrityFinding> _findings = [];

    /// <summary>The database; optional when piping findings, which carry their connection.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = TableSet, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [Parameter(ParameterSetName = FindingSet)]
    [OneDatabase]
    public DatabaseArgument? Database { get; set; }

    /// <summary>The table: "name" or "schema.name".</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = TableSet, HelpMessage = "Table name (table or schema.table).")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string Table { get; set; } = "";

    /// <summary>A read-only condition choosing the rows.</summary>
    [Parameter(ParameterSetName = TableSet)]
    [ValidateNotNullOrEmpty]
    public string? Where { get; set; }

    /// <summary>Primary key values of the rows (an array per row for a composite key).</summary>
    [Parameter(ParameterSetName = TableSet)]
    [ValidateNotNullOrEmpty]
    public object[]? Key { get; set; }

    /// <summary>A Test-DataIntegrity finding (OrphanedRows, DuplicateKeys, NullValues, CheckViolation): its rows are fixed.</summary>
    [Parameter(Mandatory = true, ParameterSetName = FindingSet, ValueFromPipeline = true)]
    public IntegrityFinding Finding { get; set; } = null!;

    /// <summary>The folder for the archives of the rows' prior image (each fix in a folder of its own inside it).</summary>
    [Parameter(Mandatory = true, HelpMessage = "Folder for the archive of the rows' prior image.")]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>For DuplicateKeys findings: keep the First (lowest key, the default) or the Last row of each repeated value.</summary>
    [Parameter(ParameterSetName = FindingSet)]
    public DuplicateKeep Keep { get; set; } = DuplicateKeep.First;

    /// <summary>How long to wait for the table's write lock; a number means seconds. Default 5 seconds.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan LockTimeout { get; set; } = RowFixRequest.DefaultLockTimeout;

    /// <summary>
    /// Archived rows per batch: the rows change in key order, each batch its own transaction, and the same command run
    /// again resumes an unfinished fix. Without it every row changes in one transaction.
    /// </summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? BatchSize { get; set; }

    /// <summary>With -BatchSize: how long to wait between batches, so other writers get the table; a number means seconds. Default none.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan Pause { get; set; }

    /// <summary>The operations journal to record the fix in; by default $env:DBOPS_JOURNAL or the per-user journal.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    private protected abstract RowFixAction Action { get; }

    /// <summary>-Set for updates; null for removals.</summary>
    private protected abstract IReadOnlyDictionary<string, object?>? Values { get; }

    /// <inheritdoc/>
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        RequirePositiveLockTimeout(LockTimeout);
    }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (ParameterSetName == FindingSet)
        {
            _findings.Add(Finding);
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        var requests = new List<RowFixRequest>();
        try
        {
            var destination = ResolvePath(Destination);
            var journal = JournalPath is null ? null : ResolvePath(JournalPath);
            var database = Database is null ? null : ResolveDatabase(Database);
            if (ParameterSetName == TableSet)
            {
                requests.Add(new RowFixRequest(database!, Action, Table, destination, Where, Key?.Select(Unwrap).ToList(), null, Values, Keep, LockTimeout, journal,
                    BatchSize, Pause));
            }
            foreach (var group in _findings.Where(f => f.Table is not null).GroupBy(f => (f.Provider, f.Source.Server, f.Database, f.Table)))
            {
                requests.Add(new RowFixRequest(database ?? group.First().Source, Action, null, destination, Findings: group.ToList(), Set: Values, Keep: Keep,
                    LockTimeout: LockTimeout, JournalPath: journal, BatchSize: BatchSize, Pause: Pause));
            }
        }
        catch (DbOpsException e)
        {
            ThrowDbOpsError(e);
        }
        foreach (var request in requests)
        {
            try
            {
                var plan = Run((_, token) => RowFixService.PlanAsync(request, token));
                var survivors = plan.Survivors.Count == 0 ? "" : $" Survivors of the duplicates: {string.Join(", ", plan.Survivors)}.";
                if (!ShouldProcessStatements($"{plan.Table} in {request.Source}", plan.Message + survivors, plan.Statements) || WhatIfRequested)
                {
                    continue;
                }
                WriteObject(Run((observer, token) => RowFixService.FixAsync(request, observer, token)));
            }
            catch (DbOpsException e)
            {
                WriteDbOpsError(e, request.Table ?? request.Findings?.FirstOrDefault()?.Table);
            }
        }
        base.EndProcessing();
    }

    private static object? Unwrap(object? value) => value switch
    {
        PSObject wrapped => Unwrap(wrapped.BaseObject),
        object[] parts => parts.Select(Unwrap).ToArray(),
        _ => value,
    };

    /// <summary>-Set's hashtable as column = value, unwrapped from PowerShell's wrappers.</summary>
    private protected static IReadOnlyDictionary<string, object?> ToValues(System.Collections.Hashtable set) =>
        set.Keys.Cast<object>().ToDictionary(k => Convert.ToString(k, CultureInfo.InvariantCulture)!, k => Unwrap(set[k]));
}
