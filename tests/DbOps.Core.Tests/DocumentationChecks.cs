using System.Diagnostics;
using System.Text.Json;
using DbOps.Core.Connections;
using DbOps.Core.Documentation;

namespace DbOps.Core.Tests;

/// <summary>A table and its columns as an independent catalog query sees them, and the foreign keys between tables.</summary>
internal sealed record CatalogTable(string Name, IReadOnlyList<string> Columns);

internal sealed record CatalogForeignKey(string Child, string Parent, IReadOnlyList<string> ChildColumns);

/// <summary>Runs Graphviz's own tools. A machine without Graphviz fails these tests loudly; they never skip.</summary>
internal static class GraphvizCli
{
    public static (int ExitCode, string Output, string Error) Run(string file, string format)
    {
        var dot = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(p => Path.Combine(p, "dot")).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                "Graphviz 'dot' is not on PATH, so the DOT output cannot be checked with Graphviz's own parser. Install it (apt-get install -y graphviz).");
        var start = new ProcessStartInfo(dot) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-T" + format);
        start.ArgumentList.Add(file);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error);
    }

    /// <summary>The graph's edges as Graphviz parsed them: tail and head tooltips (table names) and style.</summary>
    public static List<(string Tail, string Head, string? Style)> Edges(string dotFile)
    {
        var (exit, json, error) = Run(dotFile, "json");
        Assert.True(exit == 0, $"dot -Tjson {dotFile} failed ({exit}): {error}");
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        // Objects are the nodes and, where there are several schemas, the clusters that box them (no tooltip).
        var names = root.GetProperty("objects").EnumerateArray().Where(o => o.TryGetProperty("tooltip", out _)).ToDictionary(
            o => o.GetProperty("_gvid").GetInt32(), o => o.GetProperty("tooltip").GetString()!);
        return !root.TryGetProperty("edges", out var edges) ? [] : edges.EnumerateArray().Select(e => (
            names[e.GetProperty("tail").GetInt32()], names[e.GetProperty("head").GetInt32()],
            e.TryGetProperty("style", out var style) ? style.GetString() : null)).ToList();
    }
}

internal static class DocumentationChecks
{
    public static Task<DocumentationResult> ExportAsync(DbOpsConnection connection, TempFolder folder, string? journal = null,
                                                        IReadOnlyList<string>? tables = null, bool profile = true, RecordingObserver? observer = null) =>
        DocumentationService.ExportAsync(
            new DocumentationRequest(connection, folder.File("docs"), Tables: tables, JournalPath: journal ?? folder.File("journal.jsonl"), Profile: profile),
            observer ?? new RecordingObserver(), CancellationToken.None);

    /// <summary>
    /// The documentation holds every table and column the catalog lists, and every foreign key as a solid
    /// relationship, in the Markdown, the Mermaid diagram (parsed by <see cref="MermaidErValidator"/>) and the DOT
    /// graph (parsed by Graphviz). Returns the parsed Mermaid diagram for further checks.
    /// </summary>
    public static MermaidErValidator.Diagram AssertDocumentsCatalog(
        DocumentationResult result, IReadOnlyList<CatalogTable> tables, IReadOnlyList<CatalogForeignKey> foreignKeys)
    {
        var markdown = File.ReadAllText(result.MarkdownPath);
        var mermaidText = File.ReadAllText(result.MermaidPath);
        Assert.Contains("```mermaid\n" + mermaidText, markdown);
        var diagram = MermaidErValidator.Parse(mermaidText);

        Assert.Equal(tables.Count, result.TableCount);
        Assert.Equal(tables.Count, diagram.Entities.Count);
        var idOf = new Dictionary<string, string>();
        foreach (var table in tables)
        {
            var entity = Assert.Single(diagram.Entities.Values, e => (e.Alias ?? e.Id) == table.Name || e.Alias == table.Name + " (archived)");
            idOf[table.Name] = entity.Id;
            Assert.Equal(table.Columns, entity.Attributes.Select(a => a.Name));
            var section = Section(markdown, table.Name);
            foreach (var column in table.Columns)
            {
                Assert.Contains($"| {DocumentationText.Code(column)} |", section);
            }
        }

        var drawn = diagram.Relationships.Where(r => r.Identifying).ToList();
        foreach (var fk in foreignKeys)
        {
            Assert.Contains(drawn, r => r.Left == idOf[fk.Parent] && r.Right == idOf[fk.Child] && r.Role == string.Join(", ", fk.ChildColumns));
        }
        Assert.Equal(foreignKeys.Count, drawn.Count);
        Assert.Equal(foreignKeys.Count, result.DeclaredRelationships);
        Assert.Equal(result.InferredRelationships, diagram.Relationships.Count(r => !r.Identifying));

        var (exit, _, error) = GraphvizCli.Run(result.DotPath, "svg");
        Assert.True(exit == 0, $"dot -Tsvg rejected {result.DotPath}: {error}");
        Assert.NotNull(result.SvgPath);
        Assert.StartsWith("<?xml", File.ReadAllText(result.SvgPath!));
        var edges = GraphvizCli.Edges(result.DotPath);
        foreach (var fk in foreignKeys)
        {
            Assert.Contains(edges, e => e.Tail == fk.Child && e.Head == fk.Parent && e.Style != "dashed");
        }
        Assert.Equal(foreignKeys.Count, edges.Count(e => e.Style != "dashed"));
        Assert.Equal(result.InferredRelationships, edges.Count(e => e.Style == "dashed"));
        return diagram;
    }

    /// <summary>The Markdown of one table's section, from its heading to the next.</summary>
    public static string Section(string markdown, string table)
    {
        var heading = "\n### " + DocumentationText.Md(table);
        var start = markdown.IndexOf(heading + "\n", StringComparison.Ordinal);
        if (start < 0)
        {
            start = markdown.IndexOf(heading + " (archived)\n", StringComparison.Ordinal);
        }
        Assert.True(start >= 0, $"The Markdown has no section for {table}.");
        var end = markdown.IndexOf("\n### ", start + heading.Length, StringComparison.Ordinal);
        var endOfTables = markdown.IndexOf("\n## ", start, StringComparison.Ordinal);
        end = end < 0 ? endOfTables : endOfTables < 0 ? end : Math.Min(end, endOfTables);
        return markdown[start..(end < 0 ? markdown.Length : end)];
    }
}
