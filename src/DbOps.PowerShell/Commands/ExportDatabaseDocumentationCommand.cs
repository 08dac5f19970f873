using System.Management.Automation;
using DbOps.Core.Documentation;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Export-DatabaseDocumentation cmdlet. Its help is docs/cmdlets/Export-DatabaseDocumentation.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Export, "DatabaseDocumentation", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, HelpUri = HelpLinks.Docs + "Export-DatabaseDocumentation.md")]
[OutputType(typeof(DocumentationResult))]
public sealed class ExportDatabaseDocumentationCommand : DbOpsCmdlet
{
    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>The folder for the files; created if missing.</summary>
    [Parameter(Mandatory = true, Position = 1, HelpMessage = "Folder to write the documentation into.")]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    /// <summary>Document only these tables (t, schema.t or "Odd Name"); relationships to other tables are listed, not drawn.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Table { get; set; }

    /// <summary>The files' base name (NAME.md, NAME.mmd, NAME.dot, NAME.svg); by default the database name.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>The operations journal to read archives, removals and backups from; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <summary>Skip the per-column profile (null fraction, distinct count): only catalog reads and row counts.</summary>
    [Parameter]
    public SwitchParameter NoProfile { get; set; }

    /// <summary>Refuse (DestinationExists) instead of replacing documentation files already in -Destination.</summary>
    [Parameter]
    public SwitchParameter NoClobber { get; set; }

    /// <summary>Graphviz dot to render the SVG with (the program or its folder) instead of searching PATH.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? DotPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var source = ResolveDatabase(Database);
            var destination = ResolvePath(Destination);
            if (!ShouldProcess(destination, $"Write the documentation of {source}"))
            {
                return;
            }
            var request = new DocumentationRequest(
                source, destination, Name, Table, JournalPath is null ? null : ResolvePath(JournalPath), !NoProfile, NoClobber,
                DotPath is null ? null : ResolvePath(DotPath));
            WriteObject(Run((observer, token) => DocumentationService.ExportAsync(request, observer, token)));
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }
}
