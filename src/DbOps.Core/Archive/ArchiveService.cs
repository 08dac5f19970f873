using DbOps.Core.Connections;
using DbOps.Core.Progress;

namespace DbOps.Core.Archive;

/// <summary>What Export-TableArchive was asked to do for one table.</summary>
/// <param name="Source">The database holding the table.</param>
/// <param name="Table">The table: "name" or "schema.name", resolved along the search path.</param>
/// <param name="Destination">The folder for the archive's files (created if missing).</param>
/// <param name="Format">Csv or JsonLines.</param>
/// <param name="Compress">Gzip the data file.</param>
/// <param name="Verify">Load the archive into a scratch table and compare count and checksum.</param>
/// <param name="Force">Replace an existing archive of the same table.</param>
/// <param name="ToolPath">PostgreSQL: pg_dump (file or folder) to use instead of searching.</param>
/// <param name="JournalPath">The operations journal to record the archive in; null for the default one.</param>
/// <param name="Selection">A part of the table (some rows, or key plus columns); null for the whole table.</param>
public sealed record ArchiveExportRequest(
    DbOpsConnection Source, string Table, string Destination, ArchiveFormat Format = ArchiveFormat.Csv,
    bool Compress = false, bool Verify = false, bool Force = false, string? ToolPath = null, string? JournalPath = null,
    ArchiveSelection? Selection = null)
{
    /// <summary>
    /// Connections to read a whole table over (issue 22): 1 (the default) reads it over one; more read ranges of it at once,
    /// all in one snapshot (PostgreSQL 14 and later; elsewhere one connection, with a warning).
    /// </summary>
    public int Parallel { get; init; } = 1;
}

/// <summary>What Import-TableArchive was asked to do.</summary>
/// <param name="ManifestPath">The archive's .manifest.json.</param>
/// <param name="Target">The database to load into.</param>
/// <param name="TargetTable">Another name for the table ("name" or "schema.name"); by default the archived one.</param>
/// <param name="Mode">Create a new table (the default), or put a partial archive back into the live table.</param>
public sealed record ArchiveImportRequest(string ManifestPath, DbOpsConnection Target, string? TargetTable = null,
    ArchiveImportMode Mode = ArchiveImportMode.Create)
{
    /// <summary>The operations journal to record the import in; null for the default one.</summary>
    public string? JournalPath { get; init; }
}

/// <summary>How Import-TableArchive loads an archive.</summary>
public enum ArchiveImportMode
{
    /// <summary>Into a table that does not exist yet, created from the archive's schema.</summary>
    Create,

    /// <summary>
    /// Into the live table by key: a Rows archive puts its prior image back (insert or overwrite), a Columns archive
    /// adds its columns back and fills them. Refused when the rows changed since the fix they undo.
    /// </summary>
    Upsert,
}

/// <summary>
/// Table archives that prove they restore. Export reads the table once, in one snapshot, writing the data file
/// while computing the row count and content checksum from the same bytes; files go to temporary names and are
/// renamed when complete, the manifest last. Import recreates the table, loads it in one transaction, and commits
/// only when the loaded table's own count and checksum equal the manifest's.
/// </summary>
public static class ArchiveService
{
    /// <summary>Archives one table (<see cref="ArchiveExport"/>); a failure leaves no file under a final name.</summary>
    public static Task<TableArchive> ExportAsync(ArchiveExportRequest request, IOperationObserver observer, CancellationToken cancellationToken) =>
        ArchiveExport.ExportAsync(request, observer, cancellationToken);

    /// <summary>Loads an archive into a table (<see cref="ArchiveImport"/>), proving the loaded table's count and checksum equal the manifest's.</summary>
    public static Task<ArchiveImportResult> ImportAsync(ArchiveImportRequest request, IOperationObserver observer, CancellationToken cancellationToken) =>
        ArchiveImport.ImportAsync(request, observer, cancellationToken);
}
