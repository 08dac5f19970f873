using System.Management.Automation;
using DbOps.Core.Backup;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Remove-Backup cmdlet. Its help is docs/cmdlets/Remove-Backup.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Remove, "Backup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, HelpUri = HelpLinks.Docs + "Remove-Backup.md")]
[OutputType(typeof(BackupRemoval))]
public sealed class RemoveBackupCommand : DbOpsCmdlet
{
    /// <summary>The folder that holds the backups (backups elsewhere, copies included, are not touched).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, HelpMessage = "Folder that holds the backups.")]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Only the backups of these databases (PostgreSQL name or SQLite path); by default every database in the folder.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Database { get; set; }

    /// <summary>Keep each database's N newest backups.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Keep { get; set; }

    /// <summary>Delete only backups taken longer ago than this: a TimeSpan such as (New-TimeSpan -Days 30); a plain number means seconds.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan? OlderThan { get; set; }

    /// <summary>The operations journal to read restore tests from and record deletions in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var journalPath = JournalPath is null ? null : ResolvePath(JournalPath);
        // A SQLite database is recorded by its full path; a PostgreSQL one by name.
        var databases = Database?.SelectMany(d => new[] { d, ResolvePath(d) }).ToList();
        try
        {
            var decisions = Run((observer, _) => Task.FromResult(
                BackupService.PlanRetention(new RetentionRequest(ResolvePath(Path), databases, Keep, OlderThan, journalPath), observer)));
            foreach (var decision in decisions)
            {
                if (!decision.Delete)
                {
                    WriteVerbose($"{decision.Path}: {decision.Reason}.");
                }
                else if (ShouldProcess(decision.Path, $"Delete the backup and its manifest ({decision.Reason})"))
                {
                    try
                    {
                        WriteObject(Run((observer, _) => Task.FromResult(BackupService.DeleteBackup(decision, journalPath, observer))));
                    }
                    catch (DbOpsException e)
                    {
                        WriteDbOpsError(e);
                    }
                }
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Path);
        }
    }
}
