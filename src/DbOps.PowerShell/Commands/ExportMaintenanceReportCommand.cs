using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Snapshots;

namespace DbOps.PowerShell.Commands;

/// <summary>The Export-MaintenanceReport cmdlet. Its help is docs/cmdlets/Export-MaintenanceReport.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Export, "MaintenanceReport", HelpUri = HelpLinks.Docs + "Export-MaintenanceReport.md")]
[OutputType(typeof(MaintenanceReport))]
public sealed class ExportMaintenanceReportCommand : DbOpsCmdlet
{
    /// <summary>The database: a connection, a SQLite path, a PostgreSQL connection string, or a database name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path, connection string or database name.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>The report file (.md, or .html for HTML); replaced if it exists. Its folder is created if missing.</summary>
    [Parameter(Mandatory = true, Position = 1, HelpMessage = "Path of the report file (.md or .html).")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>The phase's start: only steps at or after this time. Default: the journal's first entry.</summary>
    [Parameter]
    public DateTime? After { get; set; }

    /// <summary>The phase's end: only steps at or before this time. Default: now.</summary>
    [Parameter]
    public DateTime? Before { get; set; }

    /// <summary>The snapshot taken before the phase (or its file), for the comparison and its DataLoss verdict.</summary>
    [Parameter]
    public SnapshotArgument? BeforeSnapshot { get; set; }

    /// <summary>The snapshot taken after the phase (or its file).</summary>
    [Parameter]
    public SnapshotArgument? AfterSnapshot { get; set; }

    /// <summary>Markdown or Html; by default Html for a .html path, Markdown otherwise.</summary>
    [Parameter]
    public MaintenanceReportFormat? Format { get; set; }

    /// <summary>The operations journal to read; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var request = new MaintenanceReportRequest(JournalQuery(Database, After, Before, JournalPath), ResolvePath(Path), Format)
            {
                BeforeSnapshot = Load(BeforeSnapshot),
                AfterSnapshot = Load(AfterSnapshot),
            };
            var report = MaintenanceReportWriter.Write(request);
            WriteVerbose($"Wrote {report.Entries.Count} step(s) of {report.Database} to {report.Path}.");
            WriteObject(report);
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }

    private DatabaseSnapshot? Load(SnapshotArgument? argument) =>
        argument is null ? null : argument.Snapshot ?? SnapshotService.Load(ResolvePath(argument.Path!));
}
