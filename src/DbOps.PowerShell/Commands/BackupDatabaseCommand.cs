using System.Management.Automation;
using DbOps.Core.Backup;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Backup-Database cmdlet. Its help is docs/cmdlets/Backup-Database.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Backup, "Database", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = HelpLinks.Docs + "Backup-Database.md")]
[OutputType(typeof(BackupResult))]
public sealed class BackupDatabaseCommand : DbOpsCmdlet
{
    private readonly List<DatabaseArgument> _databases = [];

    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connections, SQLite paths or PostgreSQL connection strings.")]
    public DatabaseArgument[] Database { get; set; } = [];

    /// <summary>The folder for the backup file and its manifest; created if missing.</summary>
    [Parameter(Mandatory = true, Position = 1, HelpMessage = "Folder to write the backup into.")]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>The backup file name; by default the database name and a UTC time stamp.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>Restore into a scratch database and set Verified only if every table's row count matches.</summary>
    [Parameter]
    public SwitchParameter Verify { get; set; }

    /// <summary>PostgreSQL: pg_dump/pg_restore to use (the program or its folder) instead of searching PATH.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ToolPath { get; set; }

    /// <summary>The operations journal to record the backup in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <summary>How many databases to work on at once, the largest first (default 1: one after another).</summary>
    [Parameter]
    [ValidateRange(1, MaxThrottleLimit)]
    public int ThrottleLimit { get; set; } = 1;

    /// <inheritdoc/>
    protected override void ProcessRecord() => _databases.AddRange(Database);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            if (Name is not null && _databases.Count > 1)
            {
                ThrowDbOpsError(new DbOpsException(ErrorIds.ParameterNeedsOneDatabase, ErrorKind.InvalidArgument,
                    $"-Name names one backup file, but {_databases.Count} databases were given: leave -Name out (each backup is named after its database and the time), or back up one database at a time."));
            }
            var destination = ResolvePath(Destination);
            var toolPath = ToolPath is null ? null : ResolvePath(ToolPath);
            var journalPath = JournalPath is null ? null : ResolvePath(JournalPath);
            var sources = ResolveEach(_databases)
                .Where(d => ShouldProcess(d.Connection.ToString(), $"Back up to '{destination}'{(Verify ? " and verify by restoring" : "")}"))
                .ToList();
            RunEach(sources, ThrottleLimit,
                (source, observer, token) => BackupService.BackupAsync(new BackupRequest(source, destination, Name, Verify, toolPath, journalPath), observer, token),
                (_, result) =>
                {
                    WriteObject(result);
                    if (result.Verification is { Verified: false } failed)
                    {
                        WriteDbOpsError(new DbOpsException(failed.ErrorId ?? ErrorIds.BackupVerificationFailed, ErrorKind.InvalidData,
                            $"The backup '{result.Path}' was written but did not verify: {failed.Reason}", result.Path), result);
                    }
                });
        }
        finally
        {
            base.EndProcessing();
        }
    }
}
