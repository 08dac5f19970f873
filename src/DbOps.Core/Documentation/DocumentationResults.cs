using DbOps.Core.Connections;

namespace DbOps.Core.Documentation;

/// <summary>What Export-DatabaseDocumentation was asked to do.</summary>
/// <param name="Source">The database to document.</param>
/// <param name="Destination">The folder for the files (created if missing).</param>
/// <param name="Name">The files' base name; by default the database name.</param>
/// <param name="Tables">Only these tables (names as a person types them); null or empty for all.</param>
/// <param name="JournalPath">The operations journal to read archives, removals and backups from; null for the default one.</param>
/// <param name="Profile">Compute each column's null fraction and distinct-count estimate.</param>
/// <param name="NoClobber">Refuse to replace existing files (DestinationExists) instead of regenerating them.</param>
/// <param name="DotPath">Graphviz <c>dot</c> to render the SVG with (the program or its folder); null to search PATH.</param>
public sealed record DocumentationRequest(
    DbOpsConnection Source, string Destination, string? Name = null, IReadOnlyList<string>? Tables = null,
    string? JournalPath = null, bool Profile = true, bool NoClobber = false, string? DotPath = null);

/// <summary>The documentation Export-DatabaseDocumentation wrote.</summary>
public sealed class DocumentationResult
{
    internal DocumentationResult(
        DbOpsConnection source, string markdownPath, string mermaidPath, string dotPath, string? svgPath,
        int tableCount, int columnCount, int declaredRelationships, int inferredRelationships,
        int archivedTables, int removedTables, string? lastVerifiedBackup, bool profiled, TimeSpan duration)
    {
        Provider = source.Provider;
        Database = source.Database;
        Server = source.Server;
        MarkdownPath = markdownPath;
        MermaidPath = mermaidPath;
        DotPath = dotPath;
        SvgPath = svgPath;
        TableCount = tableCount;
        ColumnCount = columnCount;
        DeclaredRelationships = declaredRelationships;
        InferredRelationships = inferredRelationships;
        ArchivedTables = archivedTables;
        RemovedTables = removedTables;
        LastVerifiedBackup = lastVerifiedBackup;
        Profiled = profiled;
        Duration = duration;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The PostgreSQL database name, or the SQLite file's full path.</summary>
    public string Database { get; }

    /// <summary>host:port of the PostgreSQL server; null for SQLite.</summary>
    public string? Server { get; }

    /// <summary>The Markdown data dictionary (with the Mermaid diagram embedded).</summary>
    public string MarkdownPath { get; }

    /// <summary>The Mermaid ER diagram (.mmd).</summary>
    public string MermaidPath { get; }

    /// <summary>The Graphviz diagram (.dot).</summary>
    public string DotPath { get; }

    /// <summary>The diagram rendered by Graphviz <c>dot</c>, or null when dot was not found or failed.</summary>
    public string? SvgPath { get; }

    /// <summary>Every file written, in the order written (the Markdown last).</summary>
    public IReadOnlyList<string> Files => SvgPath is null ? [MermaidPath, DotPath, MarkdownPath] : [MermaidPath, DotPath, SvgPath, MarkdownPath];

    /// <summary>Tables documented.</summary>
    public int TableCount { get; }

    /// <summary>Columns over all documented tables.</summary>
    public int ColumnCount { get; }

    /// <summary>Declared foreign keys drawn (both ends documented).</summary>
    public int DeclaredRelationships { get; }

    /// <summary>Relationships inferred from column names drawn (both ends documented).</summary>
    public int InferredRelationships { get; }

    /// <summary>Documented tables the journal records as archived (and not removed).</summary>
    public int ArchivedTables { get; }

    /// <summary>Tables the journal records as removed that no longer exist.</summary>
    public int RemovedTables { get; }

    /// <summary>The last verified backup the journal records for this database, or null when there is none.</summary>
    public string? LastVerifiedBackup { get; }

    /// <summary>True when the columns were profiled (null fraction, distinct estimate).</summary>
    public bool Profiled { get; }

    /// <summary>How long reading and writing took.</summary>
    public TimeSpan Duration { get; }

    /// <inheritdoc/>
    public override string ToString() => MarkdownPath;
}
