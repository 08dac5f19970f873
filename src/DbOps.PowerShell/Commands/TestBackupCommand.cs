using System.Management.Automation;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Test-Backup cmdlet. Its help is docs/cmdlets/Test-Backup.md (the build turns that page into Get-Help text).</summary>
// InputObject is the default set because PowerShell tries the default set's parameters first for pipeline input:
// with Path there, a piped BackupResult bound by its Path property and lost the connection it was taken with.
[Cmdlet(VerbsDiagnostic.Test, "Backup", DefaultParameterSetName = InputObjectSet, HelpUri = HelpLinks.Docs + "Test-Backup.md")]
[OutputType(typeof(BackupVerification))]
public sealed class TestBackupCommand : DbOpsCmdlet
{
    private const string PathSet = nameof(Path);
    private const string InputObjectSet = nameof(InputObject);

    /// <summary>A backup file or its .manifest.json.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true,
               HelpMessage = "Path of a backup file or its manifest.")]
    [Alias("FullName", "ManifestPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>A backup from Backup-Database.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public BackupResult InputObject { get; set; } = null!;

    /// <summary>
    /// PostgreSQL: a server connection on which the scratch database may be created. By default the connection a
    /// piped backup was taken with, or else the server the manifest names (its password from PGPASSWORD or ~/.pgpass).
    /// </summary>
    [Parameter]
    [OneDatabase]
    public DatabaseArgument? Database { get; set; }

    /// <summary>PostgreSQL: pg_restore to use (the program or its folder).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ToolPath { get; set; }

    /// <summary>Also check every other copy of the backup that the journal records (Backup-Database, Copy-Backup).</summary>
    [Parameter]
    public SwitchParameter AllCopies { get; set; }

    /// <summary>
    /// The operations journal each test is recorded in, and that -AllCopies reads; by default $env:DBOPS_JOURNAL or the
    /// user's DbOps/journal.jsonl.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var paths = ParameterSetName == InputObjectSet ? [InputObject.Path] : Path.SelectMany(ExpandPath).ToArray();
        foreach (var path in paths)
        {
            try
            {
                var server = Database is null ? (ParameterSetName == InputObjectSet ? InputObject.Source : null) : ResolveDatabase(Database);
                Verify(path, server);
            }
            catch (DbOpsException e)
            {
                WriteDbOpsError(e, path);
            }
        }
    }

    /// <summary>Wildcards expand as they do for other cmdlets; a path that matches nothing is reported by Core.</summary>
    private IEnumerable<string> ExpandPath(string path)
    {
        if (!WildcardPattern.ContainsWildcardCharacters(path))
        {
            return [ResolvePath(path)];
        }
        try
        {
            return SessionState.Path.GetResolvedProviderPathFromPSPath(path, out _);
        }
        catch (ItemNotFoundException)
        {
            return [ResolvePath(path)];
        }
    }

    private void Verify(string path, DbOpsConnection? server)
    {
        var toolPath = ToolPath is null ? null : ResolvePath(ToolPath);
        var journalPath = ResolveOptionalPath(JournalPath);
        var result = Run((observer, token) => BackupService.VerifyAsync(path, server, toolPath, observer, token, journalPath));
        Write(result);
        if (AllCopies)
        {
            foreach (var copy in Run((observer, token) => BackupService.VerifyCopiesAsync(result, server, toolPath, journalPath, observer, token)))
            {
                Write(copy);
            }
        }
    }

    /// <summary>Emits a verification, and an error too when it failed, so a nightly job fails.</summary>
    private void Write(BackupVerification result)
    {
        WriteObject(result);
        if (!result.Verified)
        {
            WriteDbOpsError(new DbOpsException(result.ErrorId ?? ErrorIds.BackupVerificationFailed, ErrorKind.InvalidData,
                $"The backup '{result.Path}' did not verify: {result.Reason}", result.Path), result);
        }
    }
}
