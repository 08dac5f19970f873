using System.Management.Automation;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Restore-Database cmdlet. Its help is docs/cmdlets/Restore-Database.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Restore, "Database", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = PathSet, HelpUri = HelpLinks.Docs + "Restore-Database.md")]
[OutputType(typeof(RestoreResult))]
public sealed class RestoreDatabaseCommand : DbOpsCmdlet
{
    private const string PathSet = nameof(Path);
    private const string InputObjectSet = nameof(InputObject);

    /// <summary>A backup file or its .manifest.json.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true,
               HelpMessage = "Path of a backup file or its manifest.")]
    [Alias("FullName", "ManifestPath")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>A backup from Backup-Database.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public BackupResult InputObject { get; set; } = null!;

    /// <summary>The target: a connection, a SQLite path (created if missing), or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 1, HelpMessage = "Database to restore into.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>Replace the contents of a target that already holds tables.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>
    /// Create the target, which must not exist yet (PostgreSQL: with the source's encoding and locale; SQLite: a new
    /// file), marked so Remove-Database may drop it.
    /// </summary>
    [Parameter]
    public SwitchParameter Create { get; set; }

    /// <summary>PostgreSQL: do not restore owners and privileges (for a server without the original roles).</summary>
    [Parameter]
    public SwitchParameter NoOwner { get; set; }

    /// <summary>PostgreSQL: pg_restore to use (the program or its folder).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ToolPath { get; set; }

    /// <summary>The operations journal to record the restore (or the database -Create made) in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var backup = ParameterSetName == InputObjectSet ? InputObject.Path : ResolvePath(Path);
        try
        {
            // A -Create target on PostgreSQL does not exist yet, so the login is proved on its server instead.
            var target = Create && Database.Connection is null && DatabaseConnector.IsPostgresConnectionString(Database.Text ?? "")
                ? Run((_, token) => DatabaseConnector.DescribePostgresTargetAsync(Database.Text!, token))
                : ResolveDatabase(Database, sqliteMayNotExist: true);
            var action = Create ? $"Create the database and restore '{backup}' into it"
                : Force ? $"Restore '{backup}', replacing everything in it" : $"Restore '{backup}'";
            if (!ShouldProcess(target.ToString(), action))
            {
                return;
            }
            var options = new RestoreOptions(Force, NoOwner, ResolveOptionalPath(JournalPath)) { Create = Create };
            var toolPath = ToolPath is null ? null : ResolvePath(ToolPath);
            var result = Run((observer, token) => BackupService.RestoreAsync(backup, target, options, toolPath, observer, token));
            WriteObject(result);
            if (result.Status != "Restored")
            {
                WriteDbOpsError(new DbOpsException(ErrorIds.RestoreCountMismatch, ErrorKind.InvalidData,
                    $"{target} was restored from '{backup}', but row counts differ from the manifest: " +
                    string.Join(", ", result.Tables.Where(t => !t.Match).Take(5)), backup), result);
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, backup);
        }
    }
}
