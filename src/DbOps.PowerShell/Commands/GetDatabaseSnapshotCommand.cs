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

    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = CaptureSet,
               HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

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
        try
        {
            if (ParameterSetName == ReadSet)
            {
                WriteObject(SnapshotService.Load(ResolvePath(Path!)));
                return;
            }
            var source = ResolveDatabase(Database);
            var snapshot = Run((observer, token) => SnapshotService.CaptureAsync(new SnapshotRequest(source, Estimate, Checksum), observer, token));
            if (Path is not null)
            {
                SnapshotService.Save(snapshot, ResolvePath(Path), Force);
                WriteVerbose($"Saved the snapshot of {source} ({snapshot.TableCount} tables) to '{snapshot.Path}'.");
            }
            WriteObject(snapshot);
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, ParameterSetName == ReadSet ? Path : Database);
        }
    }
}
