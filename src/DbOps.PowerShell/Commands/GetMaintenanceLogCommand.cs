using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Journal;

namespace DbOps.PowerShell.Commands;

/// <summary>The Get-MaintenanceLog cmdlet. Its help is docs/cmdlets/Get-MaintenanceLog.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Get, "MaintenanceLog", HelpUri = HelpLinks.Docs + "Get-MaintenanceLog.md")]
[OutputType(typeof(JournalEntry))]
public sealed class GetMaintenanceLogCommand : DbOpsCmdlet
{
    /// <summary>Only entries about this database: a connection, a SQLite path, a PostgreSQL connection string, or a database name.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true)]
    [OneDatabase]
    public DatabaseArgument? Database { get; set; }

    /// <summary>Only these operations (Backup, TableRemoved, ...); wildcards allowed.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(OperationCompleter))]
    public string[]? Operation { get; set; }

    /// <summary>Only entries written at or after this time.</summary>
    [Parameter]
    public DateTime? After { get; set; }

    /// <summary>Only entries written at or before this time.</summary>
    [Parameter]
    public DateTime? Before { get; set; }

    /// <summary>Only these outcomes: Succeeded (entries that record none), Failed, ProblemsFound, ...</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Outcome { get; set; }

    /// <summary>The operations journal to read; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var query = JournalQuery(Database, After, Before, JournalPath) with { Outcomes = Outcome };
            var operations = Operation?.Select(o => new WildcardPattern(o, WildcardOptions.IgnoreCase)).ToList();
            foreach (var entry in MaintenanceLog.Read(query))
            {
                if (operations is null || operations.Any(o => o.IsMatch(entry.Operation)))
                {
                    WriteObject(entry);
                }
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }

    /// <summary>Completes -Operation with the operations DbOps journals.</summary>
    private sealed class OperationCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
            System.Management.Automation.Language.CommandAst commandAst, System.Collections.IDictionary fakeBoundParameters) =>
            MaintenanceLog.KnownOperations.Where(o => o.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
                .Select(o => new CompletionResult(o));
    }
}
