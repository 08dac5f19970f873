using System.Management.Automation;
using DbOps.Core.Backup;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Copy-Backup cmdlet. Its help is docs/cmdlets/Copy-Backup.md (the build turns that page into Get-Help text).</summary>
// InputObject is the default set, as for Test-Backup: a piped BackupResult binds as itself, not by its Path property.
[Cmdlet(VerbsCommon.Copy, "Backup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = InputObjectSet,
        HelpUri = HelpLinks.Docs + "Copy-Backup.md")]
[OutputType(typeof(BackupCopy))]
public sealed class CopyBackupCommand : DbOpsCmdlet
{
    private const string PathSet = nameof(Path);
    private const string InputObjectSet = nameof(InputObject);

    /// <summary>A backup file or its .manifest.json (a copy's path works too).</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true,
               HelpMessage = "Path of a backup file or its manifest.")]
    [Alias("FullName", "ManifestPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>A backup from Backup-Database.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public BackupResult InputObject { get; set; } = null!;

    /// <summary>The folders to copy into, created if missing; each copy succeeds or fails on its own.</summary>
    [Parameter(Mandatory = true, Position = 1, HelpMessage = "Folders to copy the backup into.")]
    [ValidateNotNullOrEmpty]
    public string[] Destination { get; set; } = [];

    /// <summary>The operations journal to record each copy in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var backups = ParameterSetName == InputObjectSet ? [InputObject.Path] : Path.Select(ResolvePath).ToArray();
        var journalPath = JournalPath is null ? null : ResolvePath(JournalPath);
        foreach (var backup in backups)
        {
            foreach (var destination in Destination.Select(ResolvePath))
            {
                if (!ShouldProcess(backup, $"Copy with its manifest to '{destination}'"))
                {
                    continue;
                }
                try
                {
                    WriteObject(Run((observer, token) => BackupService.CopyAsync(backup, destination, journalPath, observer, token)));
                }
                catch (DbOpsException e)
                {
                    WriteDbOpsError(e);
                }
            }
        }
    }
}
