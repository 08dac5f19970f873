using System.Management.Automation;
using DbOps.Core.Archive;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Recreates a table from an archive and loads its rows, then proves the loaded table's row count and checksum equal the manifest's.</para>
/// <para type="description">Checks every file's SHA-256 first (ArchiveCorrupt otherwise), refuses an existing non-empty
/// table (TargetNotEmpty), and loads in one transaction (COPY on PostgreSQL; prepared inserts on SQLite) that is
/// committed only when count and checksum match. -TargetTable loads under another name (columns and types only on
/// PostgreSQL). Objects the target cannot hold (a foreign key to a missing table) are skipped with a warning.</para>
/// </summary>
[Cmdlet(VerbsData.Import, "TableArchive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = PathSet)]
[OutputType(typeof(ArchiveImportResult))]
public sealed class ImportTableArchiveCommand : DbOpsCmdlet
{
    private const string PathSet = nameof(Path);
    private const string InputObjectSet = nameof(InputObject);

    /// <summary>The archive's .manifest.json.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true, HelpMessage = "Path of an archive manifest.")]
    [Alias("ManifestPath", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>An archive from Export-TableArchive.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public TableArchive InputObject { get; set; } = null!;

    /// <summary>The database to load into: a connection, a SQLite path (created if missing), or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string of the target.")]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>Load under another name: "name" (in the archived schema) or "schema.name".</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? TargetTable { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var paths = ParameterSetName == InputObjectSet ? [InputObject.ManifestPath] : Path.Select(ResolvePath).ToArray();
        foreach (var path in paths)
        {
            try
            {
                var target = ResolveDatabase(Database, sqliteMayNotExist: true);
                if (!ShouldProcess(target.ToString(), $"Create {(TargetTable ?? "the archived table")} and load it from '{path}'"))
                {
                    continue;
                }
                if (target.Provider == Core.Connections.DatabaseProvider.SQLite && !File.Exists(target.Database))
                {
                    // A missing SQLite target is created, as Restore-Database does.
                    var path0 = target.Database;
                    target = Run((_, token) => Core.Connections.DatabaseConnector.ConnectSqliteAsync(path0, create: true, token));
                }
                var request = new ArchiveImportRequest(path, target, TargetTable);
                WriteObject(Run((observer, token) => ArchiveService.ImportAsync(request, observer, token)));
            }
            catch (DbOpsException e)
            {
                WriteDbOpsError(e, path);
            }
        }
    }
}
