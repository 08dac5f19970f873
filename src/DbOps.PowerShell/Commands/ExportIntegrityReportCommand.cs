using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Integrity;

namespace DbOps.PowerShell.Commands;

/// <summary>The Export-IntegrityReport cmdlet. Its help is docs/cmdlets/Export-IntegrityReport.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Export, "IntegrityReport", HelpUri = HelpLinks.Docs + "Export-IntegrityReport.md")]
[OutputType(typeof(FileInfo))]
public sealed class ExportIntegrityReportCommand : DbOpsCmdlet
{
    private readonly List<IntegrityReport> _reports = [];
    private readonly List<IntegrityFinding> _findings = [];

    /// <summary>An IntegrityReport (from Test-DataIntegrity -AsReport) or IntegrityFinding objects.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, HelpMessage = "IntegrityReport or IntegrityFinding objects.")]
    [AllowEmptyCollection]
    public object[] InputObject { get; set; } = [];

    /// <summary>The file to write; replaced if it exists. Its folder is created if missing.</summary>
    [Parameter(Mandatory = true, Position = 0, HelpMessage = "Path of the report file (.json or .xml).")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Json or JUnit; by default JUnit for a .xml path, JSON otherwise.</summary>
    [Parameter]
    public IntegrityReportFormat? Format { get; set; }

    /// <summary>Fail (write IntegrityProblemsFound) when a finding is at or above this severity or a check could not run; also the JUnit failure threshold.</summary>
    [Parameter]
    public IntegritySeverity? FailOn { get; set; }

    /// <summary>Emit the written file.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>The operations journal to record each database's summary in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (var item in InputObject.Select(i => i is PSObject o ? o.BaseObject : i))
        {
            switch (item)
            {
                case IntegrityReport report:
                    _reports.Add(report);
                    break;
                case IntegrityFinding finding:
                    _findings.Add(finding);
                    break;
                case null:
                    break;
                default:
                    WriteDbOpsError(new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                        $"Export-IntegrityReport takes the output of Test-DataIntegrity, not {item.GetType().Name}.", item));
                    break;
            }
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            var path = ResolvePath(Path);
            IReadOnlyList<IntegrityReport> reports = [.. _reports, .. IntegrityReportWriter.FromFindings(_findings)];
            var format = Format ?? IntegrityReportWriter.FormatFor(path);
            Run((observer, _) =>
            {
                IntegrityReportWriter.Write(reports, path, format, FailOn ?? IntegritySeverity.Error, ResolveOptionalPath(JournalPath), observer);
                return Task.FromResult(path);
            });
            WriteVerbose($"Wrote {reports.Sum(r => r.Checks.Count)} check result(s) to {path}.");
            if (PassThru)
            {
                WriteObject(new FileInfo(path));
            }
            if (FailOn is { } severity)
            {
                var count = reports.Sum(r => r.CountAtOrAbove(severity));
                var couldNotRun = reports.Sum(r => r.CouldNotRunCount + r.MissingTables.Count);
                if (count > 0)
                {
                    WriteDbOpsError(TestDataIntegrityCommand.ProblemsFound(reports, severity, count), path);
                }
                else if (couldNotRun > 0)
                {
                    WriteDbOpsError(new DbOpsException(ErrorIds.IntegrityCheckFailed, ErrorKind.OperationFailed,
                        $"{couldNotRun} integrity check(s) could not run; see the report {path}.", path));
                }
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Path);
        }
        finally
        {
            base.EndProcessing();
        }
    }
}
