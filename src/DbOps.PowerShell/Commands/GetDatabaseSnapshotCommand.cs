using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Snapshots;

namespace DbOps.PowerShell.Commands;

/// <summary>The Get-DatabaseSnapshot cmdlet. Its help is docs/cmdlets/Get-DatabaseSnapshot.md (the build turns that page into Get-Help text).</summary>
// Reading is the default set so that -Path alone reads; a -Database (named, positional or piped) selects capturing.
[Cmdlet(VerbsCommon.Get, "DatabaseSnapshot", DefaultParameterSetName = ReadSet, HelpUri = HelpLinks.Docs + "Get-DatabaseSnapshot.md")]
[OutputType(typeof(DatabaseSnapshot))]
public sealed class GetDatabaseSnapshotCommand : DbOpsCmdlet
{
    private const string CaptureSet = "Capture";
    private const string ReadSet = "Read";

    private readonly List<DatabaseArgument> _databases = [];

    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = CaptureSet,
               HelpMessage = "Connections, SQLite paths or PostgreSQL connection strings.")]
    public DatabaseArgument[] Database { get; set; } = [];

    /// <summary>How many databases to capture at once, the largest first (default 1: one after another).</summary>
    [Parameter(ParameterSetName = CaptureSet)]
    [ValidateRange(1, MaxThrottleLimit)]
    public int ThrottleLimit { get; set; } = 1;

    /// <summary>With -Database: the JSON file to save the snapshot to. Alone: a saved snapshot to read.</summary>
    [Parameter(ParameterSetName = CaptureSet)]
    [Parameter(Mandatory = true, ParameterSetName = ReadSet, ValueFromPipelineByPropertyName = true,
               HelpMessage = "Path of a saved snapshot.")]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>Replace an existing snapshot file at -Path.</summary>
    [Parameter(ParameterSetName = CaptureSet)]
    public SwitchParameter Force { get; set; }

    /// <summary>
    /// Use the catalog's row estimates (PostgreSQL reltuples) instead of counting: fast on large databases, but
    /// a comparison of estimated snapshots cannot prove that no row was lost. SQLite always counts.
    /// </summary>
    [Parameter(ParameterSetName = CaptureSet)]
    public SwitchParameter Estimate { get; set; }

    /// <summary>
    /// Also compute each table's content checksum, exactly as Export-TableArchive records it (reads every row):
    /// a comparison then also sees changed content, and a dropped table matches its archive by content.
    /// </summary>
    [Parameter(ParameterSetName = CaptureSet)]
    public SwitchParameter Checksum { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        if (ParameterSetName == CaptureSet)
        {
            _databases.AddRange(Database);
            return;
        }
        try
        {
            WriteObject(SnapshotService.Load(ResolvePath(Path!)));
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Path);
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            if (_databases.Count == 0)
            {
                return;
            }
            if (Path is not null && _databases.Count > 1)
            {
                ThrowDbOpsError(new DbOpsException(ErrorIds.ParameterNeedsOneDatabase, ErrorKind.InvalidArgument,
                    $"-Path names one snapshot file, but {_databases.Count} databases were given: capture one database at a time to save it, or save each snapshot the fleet returns with ConvertTo-Json."));
            }
            var path = Path is null ? null : ResolvePath(Path);
            RunEach(ResolveEach(_databases), ThrottleLimit,
                async (source, observer, token) =>
                {
                    var snapshot = await SnapshotService.CaptureAsync(new SnapshotRequest(source, Estimate, Checksum), observer, token);
                    if (path is not null)
                    {
                        SnapshotService.Save(snapshot, path, Force);
                    }
                    return snapshot;
                },
                (_, snapshot) =>
                {
                    if (snapshot.Path is not null)
                    {
                        WriteVerbose($"Saved the snapshot of {snapshot.Database} ({snapshot.TableCount} tables) to '{snapshot.Path}'.");
                    }
                    WriteObject(snapshot);
                });
        }
        finally
        {
            base.EndProcessing();
        }
    }
}
