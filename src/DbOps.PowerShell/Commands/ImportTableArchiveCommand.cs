using System.Management.Automation;
using DbOps.Core.Archive;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Import-TableArchive cmdlet. Its help is docs/cmdlets/Import-TableArchive.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Import, "TableArchive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = PathSet, HelpUri = HelpLinks.Docs + "Import-TableArchive.md")]
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
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>Load under another name: "name" (in the archived schema) or "schema.name".</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PlainTableNameCompleter))]
    public string? TargetTable { get; set; }

    /// <summary>The operations journal to record the import in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <summary>
    /// Create (the default): a new table from the archive. Upsert: put a rows archive's prior image back into the live
    /// table by key, the undo of Remove-TableRow and Update-TableRow; refused if those rows changed since the fix.
    /// </summary>
    [Parameter]
    public ArchiveImportMode Mode { get; set; } = ArchiveImportMode.Create;

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var paths = ParameterSetName == InputObjectSet ? [InputObject.ManifestPath] : Path.Select(ResolvePath).ToArray();
        foreach (var path in paths)
        {
            try
            {
                var target = ResolveDatabase(Database, sqliteMayNotExist: true);
                if (!ShouldProcess(target.ToString(), Action(path)))
                {
                    continue;
                }
                if (target.Provider == Core.Connections.DatabaseProvider.SQLite && !File.Exists(target.Database))
                {
                    // A missing SQLite target is created, as Restore-Database does.
                    var path0 = target.Database;
                    target = Run((_, token) => Core.Connections.DatabaseConnector.ConnectSqliteAsync(path0, create: true, token));
                }
                var request = new ArchiveImportRequest(path, target, TargetTable, Mode) { JournalPath = ResolveOptionalPath(JournalPath) };
                WriteObject(Run((observer, token) => ArchiveService.ImportAsync(request, observer, token)));
            }
            catch (DbOpsException e)
            {
                WriteDbOpsError(e, path);
            }
        }
    }

    /// <summary>What the import will do, by the archive's scope: a column restore and a rows undo change the live table.</summary>
    private string Action(string path) =>
        ArchiveManifest.Load(path).Manifest.Scope is ArchiveScope.Columns && (Mode == ArchiveImportMode.Upsert || TargetTable is null)
            ? $"Add the columns archived in '{path}' back to the archived table and fill them by key"
            : Mode == ArchiveImportMode.Upsert
                ? $"Put the rows archived in '{path}' back into {(TargetTable ?? "the archived table")}, by key"
                : $"Create {(TargetTable ?? "the archived table")} and load it from '{path}'";
}
