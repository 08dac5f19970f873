using System.Data;
using System.Data.Common;
using System.Diagnostics;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Documentation;

/// <summary>
/// Living documentation of a database: a Markdown data dictionary, an ER diagram as Mermaid and Graphviz DOT
/// (and SVG when Graphviz is installed), with what the operations journal knows about archived and removed
/// tables and the last verified backup. Reads through a read-only connection in one snapshot; writes each file
/// under a temporary name and renames it into place.
/// </summary>
public static partial class DocumentationService
{
    /// <summary>Reads the database and the journal and writes the documentation files.</summary>
    public static async Task<DocumentationResult> ExportAsync(DocumentationRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var source = request.Source;
        var activity = $"Documenting {source}";
        var folder = Path.GetFullPath(request.Destination);
        var baseName = BaseName(request);
        var paths = new
        {
            Markdown = Path.Combine(folder, baseName + ".md"),
            Mermaid = Path.Combine(folder, baseName + ".mmd"),
            Dot = Path.Combine(folder, baseName + ".dot"),
            Svg = Path.Combine(folder, baseName + ".svg"),
        };
        ArtifactFiles.EnsureWritableFolder(folder);
        foreach (var abandoned in ArtifactFiles.RemoveAbandoned(folder))
        {
            observer.Verbose($"Removed {abandoned}, left in '{folder}' by a writer whose process was killed.");
        }
        if (request.NoClobber && new[] { paths.Markdown, paths.Mermaid, paths.Dot, paths.Svg }.FirstOrDefault(File.Exists) is { } existing)
        {
            throw new DbOpsException(ErrorIds.DestinationExists, ErrorKind.AlreadyExists,
                $"'{existing}' already exists and -NoClobber was given. Choose another -Name or -Destination, or leave out -NoClobber to regenerate it.", existing);
        }

        var model = await ReadAsync(request, baseName, activity, observer, cancellationToken);

        observer.Progress(new OperationProgress(activity, "Writing the documentation", 95));
        var mermaid = MermaidDiagram.Write(model);
        var overwrite = !request.NoClobber;
        ArtifactFiles.WriteAllTextAtomic(paths.Mermaid, mermaid, overwrite);
        ArtifactFiles.WriteAllTextAtomic(paths.Dot, DotDiagram.Write(model, $"{DatabaseEngines.For(source).Inspection.DatabaseTitle(source.Database)}: {model.Tables.Count} tables"), overwrite);
        var svg = await RenderSvgAsync(request.DotPath, paths.Dot, paths.Svg, overwrite, observer, cancellationToken);
        model.SvgFileName = svg is null ? null : Path.GetFileName(svg);
        var embedded = mermaid.Length <= MermaidDiagram.MaxTextSize ? mermaid : MermaidDiagram.Write(model, withColumns: false);
        if (embedded != mermaid)
        {
            observer.Verbose($"The Mermaid diagram has {mermaid.Length:N0} characters, more than Mermaid renders ({MermaidDiagram.MaxTextSize:N0}); " +
                             $"the Markdown embeds it without columns ({embedded.Length:N0}), and {paths.Mermaid} holds all of it.");
        }
        ArtifactFiles.WriteAllTextAtomic(paths.Markdown, MarkdownDictionary.Write(model, mermaid, embedded), overwrite);
        observer.Verbose($"Wrote {paths.Markdown}, {paths.Mermaid}, {paths.Dot}{(svg is null ? "" : ", " + svg)}.");
        observer.Progress(new OperationProgress(activity, "Done", 100));

        var declared = model.Relationships.Count(r => r.Source != RelationshipSource.Inferred);
        return new DocumentationResult(
            source, paths.Markdown, paths.Mermaid, paths.Dot, svg, model.Tables.Count, model.Tables.Sum(t => t.Schema.Columns.Count),
            declared, model.Relationships.Count - declared, model.Tables.Count(t => t.Archive is not null), model.RemovedTables.Count,
            model.LastVerifiedBackup?.Path, model.Profiled, clock.Elapsed);
    }

    private static async Task<DocumentationModel> ReadAsync(
        DocumentationRequest request, string baseName, string activity, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var source = request.Source;
        var provider = DatabaseEngines.For(source);
        observer.Progress(new OperationProgress(activity, "Reading the catalog", 0));
        await using var session = await provider.OpenReadOnlyAsync(source, cancellationToken);
        var connection = session.Connection;
        // One snapshot for catalog, counts and profiles, so they describe the same moment.
        await using var snapshot = await provider.Inspection.BeginSnapshotAsync(connection, cancellationToken);
        var schema = await SchemaReader.ReadAsync(provider, connection, cancellationToken);
        var selected = Select(schema, request.Tables);
        var relationships = RelationshipInference.All(schema);

        var journal = ReadJournal(request.JournalPath, source, observer);
        var tables = new List<DocumentedTable>();
        foreach (var table in selected)
        {
            cancellationToken.ThrowIfCancellationRequested();
            observer.Progress(new OperationProgress(activity, $"{(request.Profile ? "Profiling" : "Counting")} {table.Table} ({tables.Count + 1} of {selected.Count})",
                5 + 90 * tables.Count / Math.Max(1, selected.Count)));
            var profile = await ProfileOrExplainAsync(provider, connection, table, request.Profile, observer, cancellationToken);
            tables.Add(new DocumentedTable(table, profile, ArchiveOf(journal.Entries, table.Table, source.Provider)));
        }
        var documented = selected.Select(t => t.Table).ToHashSet();
        var existing = schema.Tables.Select(t => t.Table).ToHashSet();
        return new DocumentationModel
        {
            Source = source,
            GeneratedAt = DateTimeOffset.UtcNow,
            Tables = tables,
            Relationships = relationships.Where(r => documented.Contains(r.Child) && documented.Contains(r.Parent)).ToList(),
            OutsideRelationships = relationships.Where(r => documented.Contains(r.Child) != documented.Contains(r.Parent)).ToList(),
            RemovedTables = RemovedTables(journal.Entries, existing, source.Provider),
            LastVerifiedBackup = journal.Entries.LastOrDefault(e => e.Operation == JournalOperations.Backup && e.Verified),
            LatestBackup = journal.Entries.LastOrDefault(e => e.Operation == JournalOperations.Backup),
            JournalPath = journal.Path,
            JournalError = journal.Error,
            Profiled = request.Profile,
            Partial = selected.Count < schema.Tables.Count,
            MermaidFileName = baseName + ".mmd",
            DotFileName = baseName + ".dot",
        };
    }

    /// <summary>
    /// Counts and profiles one table. A table this user may not read (no SELECT privilege, a broken foreign table)
    /// is documented from the catalog alone, with a warning, rather than failing the whole run; the engine keeps the
    /// snapshot transaction usable after the error.
    /// </summary>
    private static async Task<TableProfile> ProfileOrExplainAsync(
        IDatabaseEngine provider, DbConnection connection, TableSchema table, bool profile, IOperationObserver observer, CancellationToken cancellationToken)
    {
        try
        {
            return await provider.Inspection.IsolateAsync(connection,
                () => ColumnProfiler.ProfileAsync(provider, connection, table, profile, cancellationToken), cancellationToken);
        }
        catch (DbException e) when (!cancellationToken.IsCancellationRequested)
        {
            observer.Warning($"Could not read {table.Table} ({e.Message}); it is documented from the catalog only, without a row count or profile.");
            return TableProfile.Unreadable(e.Message);
        }
    }

    private static List<TableSchema> Select(DatabaseSchema schema, IReadOnlyList<string>? names)
    {
        if (names is null || names.Count == 0)
        {
            return schema.Tables.ToList();
        }
        var wanted = names.Select(schema.Resolve).Select(t => t.Table).ToHashSet();
        return schema.Tables.Where(t => wanted.Contains(t.Table)).ToList();
    }

    private sealed record JournalFacts(string Path, IReadOnlyList<JournalEntry> Entries, string? Error);

    private static JournalFacts ReadJournal(string? journalPath, DbOpsConnection source, IOperationObserver observer)
    {
        var journal = OperationsJournal.Open(journalPath);
        try
        {
            var entries = journal.Read().Where(e => e.IsAbout(source.Provider, source.Server, source.Database)).OrderBy(e => e.Time).ToList();
            observer.Verbose($"The journal '{journal.Path}' holds {entries.Count} entries about {source}.");
            return new JournalFacts(journal.Path, entries, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            observer.Warning($"The operations journal '{journal.Path}' could not be read ({e.Message}); the documentation says so instead of listing archives and backups.");
            return new JournalFacts(journal.Path, [], e.Message);
        }
    }

    private static bool IsTable(JournalEntry e, TableRef table, DatabaseProvider provider) =>
        e.Table is not null && DatabaseEngines.For(provider).Inspection.TableNames.IsRecordedAs(table, e.Schema, e.Table);

    /// <summary>The latest archive of the table, unless the table was removed after it (and has been created again since).</summary>
    private static JournalEntry? ArchiveOf(IReadOnlyList<JournalEntry> entries, TableRef table, DatabaseProvider provider)
    {
        var last = entries.LastOrDefault(e => e.Operation is JournalOperations.ArchiveCreated or JournalOperations.TableRemoved && e.Column is null && IsTable(e, table, provider));
        return last?.Operation == JournalOperations.ArchiveCreated ? last : null;
    }

    /// <summary>The latest removal of each table that does not exist now.</summary>
    private static List<JournalEntry> RemovedTables(IReadOnlyList<JournalEntry> entries, HashSet<TableRef> existing, DatabaseProvider provider) =>
        entries.Where(e => e.Operation == JournalOperations.TableRemoved && e.Table is not null)
            .GroupBy(e => DatabaseEngines.For(provider).Inspection.TableNames.RecordedKey(e.Schema, e.Table!))
            .Select(g => g.Last())
            .Where(e => !existing.Any(t => IsTable(e, t, provider)))
            .OrderByDescending(e => e.Time)
            .ToList();

    private static async Task<string?> RenderSvgAsync(
        string? dotPath, string dotFile, string svgFile, bool overwrite, IOperationObserver observer, CancellationToken cancellationToken)
    {
        if (Graphviz.Locate(dotPath) is not { } dot)
        {
            observer.Verbose(dotPath is null
                ? "Graphviz 'dot' is not on PATH, so no SVG was rendered; install Graphviz (apt-get install graphviz) or pass -DotPath."
                : $"Graphviz 'dot' was not found at '{dotPath}', so no SVG was rendered.");
            return null;
        }
        var temporary = ArtifactFiles.TemporaryPathFor(svgFile);
        try
        {
            using (ArtifactFiles.CreateOwnerOnly(temporary))
            {
                // Created owner-only before dot writes into it, like every other DbOps artifact.
            }
            if (await Graphviz.RenderSvgAsync(dot, dotFile, temporary, cancellationToken) is { } failure)
            {
                observer.Warning($"Graphviz could not render '{dotFile}' as SVG ({failure}); the Markdown, Mermaid and DOT files were written.");
                return null;
            }
            ArtifactFiles.FlushToDisk(temporary);
            File.Move(temporary, svgFile, overwrite);
            observer.Verbose($"Rendered {svgFile} with {dot}.");
            return svgFile;
        }
        finally
        {
            ArtifactFiles.DeleteQuietly(temporary);
        }
    }

    private static string BaseName(DocumentationRequest request)
    {
        if (request.Name is { } name)
        {
            if (!ArtifactFiles.IsPlainFileName(name))
            {
                throw new DbOpsException(ErrorIds.InvalidDocumentationName, ErrorKind.InvalidArgument,
                    $"-Name '{name}' must be a plain file name without a folder; put the folder in -Destination.", name);
            }
            return name;
        }
        return ArtifactFiles.DatabaseStem(request.Source);
    }
}
