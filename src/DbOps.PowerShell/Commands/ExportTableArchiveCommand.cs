using System.Management.Automation;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Usage;

namespace DbOps.PowerShell.Commands;

/// <summary>The Export-TableArchive cmdlet. Its help is docs/cmdlets/Export-TableArchive.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Export, "TableArchive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = InputObjectSet, HelpUri = HelpLinks.Docs + "Export-TableArchive.md")]
[OutputType(typeof(TableArchive))]
public sealed class ExportTableArchiveCommand : DbOpsCmdlet
{
    private const string NameSet = nameof(Table);
    private const string InputObjectSet = nameof(InputObject);

    /// <summary>The database holding the tables; optional when TableUsage objects come from the pipeline.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [Parameter(ParameterSetName = InputObjectSet)]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>Tables to archive: "name" or "schema.name"; names, or objects with a Table property, may come from the pipeline.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = NameSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, HelpMessage = "Table name(s).")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[] Table { get; set; } = [];

    /// <summary>The tables' schema, when the names come unqualified (e.g. from an object's Schema property).</summary>
    [Parameter(ParameterSetName = NameSet, ValueFromPipelineByPropertyName = true)]
    public string? Schema { get; set; }

    /// <summary>A table from Find-UnusedTable.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public TableUsage InputObject { get; set; } = null!;

    /// <summary>The folder for the archive files; created if missing.</summary>
    [Parameter(Mandatory = true, HelpMessage = "Folder to write the archives into.")]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>Csv (default; RFC 4180, PostgreSQL's own COPY CSV) or JsonLines.</summary>
    [Parameter]
    public ArchiveFormat Format { get; set; } = ArchiveFormat.Csv;

    /// <summary>Gzip the data file.</summary>
    [Parameter]
    public SwitchParameter Compress { get; set; }

    /// <summary>Load the archive into a scratch table and set Verified only if count and checksum match.</summary>
    [Parameter]
    public SwitchParameter Verify { get; set; }

    /// <summary>Replace an existing archive of the same table.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Connections to read each table over, all in one snapshot (PostgreSQL 14 and later; SQLite reads over one, with a warning).</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int Parallel { get; set; } = 1;

    /// <summary>PostgreSQL: pg_dump to use (the program or its folder) instead of searching PATH.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ToolPath { get; set; }

    /// <summary>The operations journal to record each archive in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        DbOpsConnection source;
        string[] tables;
        try
        {
            source = ParameterSetName == InputObjectSet && Database is null ? InputObject.Source : ResolveDatabase(Database);
            tables = ParameterSetName == InputObjectSet
                ? [$"{Quote(InputObject.Schema)}.{Quote(InputObject.Table)}"]
                : Table.Select(t => Schema is { Length: > 0 } && !t.Contains('.', StringComparison.Ordinal) ? $"{Quote(Schema)}.{Quote(t)}" : t).ToArray();
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
            return;
        }
        var destination = ResolvePath(Destination);
        foreach (var table in tables)
        {
            try
            {
                if (!ShouldProcess($"{table} in {source}", $"Archive to '{destination}' as {Format}{(Compress ? " (gzip)" : "")}{(Parallel > 1 ? $" over {Parallel} connections" : "")}{(Verify ? " and verify in a scratch table" : "")}"))
                {
                    continue;
                }
                var request = new ArchiveExportRequest(source, table, destination, Format, Compress, Verify, Force,
                    ToolPath is null ? null : ResolvePath(ToolPath), JournalPath is null ? null : ResolvePath(JournalPath)) { Parallel = Parallel };
                var result = Run((observer, token) => ArchiveService.ExportAsync(request, observer, token));
                WriteObject(result);
                if (Verify && !result.Verified)
                {
                    WriteDbOpsError(new DbOpsException(result.VerifyErrorId ?? ErrorIds.ArchiveVerificationFailed, ErrorKind.InvalidData,
                        $"The archive of {result.QualifiedName} was written but did not verify: {result.VerifyReason}", result.ManifestPath), result);
                }
            }
            catch (DbOpsException e)
            {
                WriteDbOpsError(e, table);
            }
        }
    }

    /// <summary>Names from objects are exact: quoted, so "schema.name" resolution does not split or fold them.</summary>
    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";
}
