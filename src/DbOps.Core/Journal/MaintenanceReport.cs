using System.Globalization;
using System.Net;
using System.Text;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Snapshots;

namespace DbOps.Core.Journal;

/// <summary>The forms Export-MaintenanceReport writes.</summary>
public enum MaintenanceReportFormat
{
    /// <summary>Markdown (.md), for a repository, a ticket or a wiki.</summary>
    Markdown,
    /// <summary>One self-contained HTML page (.html).</summary>
    Html,
}

/// <summary>What Export-MaintenanceReport was asked to write.</summary>
/// <param name="Window">The database and the time window (a phase), and the journal to read.</param>
/// <param name="Path">The report file; an earlier report there is replaced.</param>
/// <param name="Format">Markdown or HTML; by default from the file's extension.</param>
public sealed record MaintenanceReportRequest(MaintenanceLogQuery Window, string Path, MaintenanceReportFormat? Format = null)
{
    /// <summary>The snapshot taken before the phase, for the comparison and its DataLoss verdict.</summary>
    public DatabaseSnapshot? BeforeSnapshot { get; init; }

    /// <summary>The snapshot taken after the phase.</summary>
    public DatabaseSnapshot? AfterSnapshot { get; init; }
}

/// <summary>A written maintenance report: where it is, what it covers, and its verdict.</summary>
public sealed class MaintenanceReport
{
    internal MaintenanceReport(string path, MaintenanceReportFormat format, string database, MaintenanceLogQuery window,
                               IReadOnlyList<JournalEntry> entries, SnapshotComparison? comparison)
    {
        Path = path;
        Format = format;
        Database = database;
        After = window.After;
        Before = window.Before;
        Entries = ValueList.Of(entries);
        Comparison = comparison;
    }

    /// <summary>The report file.</summary>
    public string Path { get; }

    /// <summary>Markdown or Html.</summary>
    public MaintenanceReportFormat Format { get; }

    /// <summary>The database the report is about.</summary>
    public string Database { get; }

    /// <summary>The window's start; null for the journal's beginning.</summary>
    public DateTimeOffset? After { get; }

    /// <summary>The window's end; null for the moment the report was written.</summary>
    public DateTimeOffset? Before { get; }

    /// <summary>The journal entries of the window that the report describes.</summary>
    public IReadOnlyList<JournalEntry> Entries { get; }

    /// <summary>The snapshot comparison, when both snapshots were given.</summary>
    public SnapshotComparison? Comparison { get; }

    /// <summary>The comparison's verdict; null without snapshots.</summary>
    public bool? DataLoss => Comparison?.DataLoss;

    /// <inheritdoc/>
    public override string ToString() => $"{Path}: {Entries.Count} operations{(DataLoss is { } lost ? $", DataLoss: {lost}" : "")}";
}

/// <summary>
/// Writes the record of a maintenance window from the journal: what was done, with its proofs, and how to reverse
/// each step. Sections name the operations they gather; any other operation is listed from the common fields, so
/// operations added later appear without a change here.
/// </summary>
public static class MaintenanceReportWriter
{
    /// <summary>The window's table sections, after the backups: title and the operations they gather.</summary>
    private static readonly (string Title, string[] Operations)[] Sections =
    [
        ("Tables archived, imported, renamed and removed",
            [JournalOperations.ArchiveCreated, JournalOperations.ArchiveImported, "TableRenamed", JournalOperations.TableRemoved]),
        ("Columns retired", ["ColumnRemoved"]),
        ("Rows moved or fixed", ["RowsCopied", "RowsRemoved", "RowsUpdated"]),
        ("Constraints added", [JournalOperations.ConstraintAdded]),
        ("Indexes added and dropped, and query timings", [JournalOperations.IndexAdded, JournalOperations.IndexRemoved, JournalOperations.QueryCompared]),
        ("Databases created and removed", ["DatabaseCreated", "DatabaseRemoved"]),
    ];

    /// <summary>Backup operations, reported in the backup log.</summary>
    private static readonly string[] BackupOperations =
        [JournalOperations.Backup, "BackupCopied", "BackupDeleted", JournalOperations.BackupTested, JournalOperations.DatabaseRestored];

    /// <summary>Writes the report and returns what it covers.</summary>
    /// <exception cref="DbOpsException">JournalUnavailable, or DestinationNotWritable when the file cannot be written.</exception>
    public static MaintenanceReport Write(MaintenanceReportRequest request)
    {
        var path = System.IO.Path.GetFullPath(request.Path);
        var format = request.Format ?? FormatFor(path);
        var window = request.Window;
        // Copies, tests and the integrity summary may be recorded after a backup but before the window ends, or before it starts.
        var history = MaintenanceLog.Read(window with { After = null, Operations = null, Outcomes = null });
        var entries = history.Where(e => (window.After is null || e.Time >= window.After) && e.Operation is not (JournalOperations.TableRemovalStarted or JournalOperations.ColumnRemovalStarted)).ToList();
        var comparison = request.BeforeSnapshot is { } before && request.AfterSnapshot is { } after
            ? SnapshotComparer.Compare(before, after, window.JournalPath)
            : null;
        var database = window.Connection?.ToString() ?? window.DatabaseName ?? "every database";
        var document = Build(database, window, entries, history, comparison, request);
        var text = format == MaintenanceReportFormat.Html ? ToHtml(document, $"Maintenance report: {database}") : ToMarkdown(document);
        var folder = System.IO.Path.GetDirectoryName(path)!;
        try
        {
            Directory.CreateDirectory(folder);
            ArtifactFiles.WriteAllTextAtomic(path, text, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ArtifactFiles.IsDiskFull(e)
                ? ArtifactFiles.DiskFull(folder, e)
                : new DbOpsException(ErrorIds.DestinationNotWritable, ErrorKind.WriteError, $"The report '{path}' could not be written: {e.Message}", path, e);
        }
        return new MaintenanceReport(path, format, database, window, entries, comparison);
    }

    /// <summary>Html for .html and .htm, Markdown otherwise.</summary>
    public static MaintenanceReportFormat FormatFor(string path) =>
        System.IO.Path.GetExtension(path).ToLowerInvariant() is ".html" or ".htm" ? MaintenanceReportFormat.Html : MaintenanceReportFormat.Markdown;

    private static List<Block> Build(string database, MaintenanceLogQuery window, List<JournalEntry> entries, IReadOnlyList<JournalEntry> history,
                                     SnapshotComparison? comparison, MaintenanceReportRequest request)
    {
        var blocks = new List<Block>
        {
            new Heading(1, $"Maintenance report: {database}"),
            new Paragraph($"Window: {(window.After is { } a ? Time(a) : "the journal's first entry")} to {(window.Before is { } b ? Time(b) : "the time of writing")}. " +
                          $"Written {Time(DateTimeOffset.UtcNow)} from the operations journal {OperationsJournal.Open(window.JournalPath).Path}. " +
                          (entries.Count == 0 ? "The journal holds no operation on this database in the window."
                              : $"{entries.Count} operation(s) by {string.Join(", ", entries.Select(Who).Distinct())}.")),
            new Heading(2, "Steps in order"),
            Steps(entries),
            new Heading(2, "Backups"),
        };
        blocks.AddRange(Backups(entries, history));
        foreach (var (title, operations) in Sections)
        {
            blocks.Add(new Heading(2, title));
            blocks.Add(Steps(entries.Where(e => operations.Contains(e.Operation)).ToList()));
        }
        var covered = Sections.SelectMany(s => s.Operations).Concat(BackupOperations).Append(JournalOperations.IntegrityChecked).ToHashSet();
        if (entries.Where(e => !covered.Contains(e.Operation)).ToList() is { Count: > 0 } others)
        {
            blocks.Add(new Heading(2, "Other operations"));
            blocks.Add(Steps(others));
        }
        blocks.Add(new Heading(2, "Integrity"));
        blocks.Add(Integrity(history, window));
        blocks.Add(new Heading(2, "Snapshot comparison"));
        blocks.AddRange(Comparison(comparison, request));
        blocks.Add(new Heading(2, "How to undo each step"));
        blocks.AddRange(Undo(entries));
        return blocks;
    }

    /// <summary>One row per step, from the fields every entry has.</summary>
    private static Block Steps(IReadOnlyList<JournalEntry> entries) => entries.Count == 0
        ? new Paragraph("None in this window.")
        : new Table(["Time", "Operation", "Object", "Rows", "Proof (checksum or SHA-256)", "Artifact", "Figures", "Outcome"],
            entries.Select(e => (IReadOnlyList<string>)[Time(e.Time), e.Operation, Object(e), Count(e.Rows), e.Checksum ?? e.Sha256 ?? "", e.Path ?? "",
                Figures(e), Outcome(e)]).ToList());

    /// <summary>BACKUP_LOG: every backup with its size, hash, verification, copies and last verified restore test; then the tests and restores.</summary>
    private static IEnumerable<Block> Backups(List<JournalEntry> entries, IReadOnlyList<JournalEntry> history)
    {
        var backups = entries.Where(e => e.Operation == JournalOperations.Backup).ToList();
        if (backups.Count == 0)
        {
            var last = history.LastOrDefault(e => e.Operation == JournalOperations.Backup);
            yield return new Paragraph("No backup was taken in this window." +
                (last is null ? " The journal holds none of this database." : $" The last one before it: {last.Path} ({Time(last.Time)})."));
        }
        else
        {
            bool Deleted(string? path) => history.Any(d => d.Operation == "BackupDeleted" && d.Path == path);
            yield return new Table(["Time", "Path", "Size", "SHA-256", "Verified", "Copies", "Last verified restore test"], backups.Select(b =>
            {
                var copies = history.Where(c => c.Operation == "BackupCopied" && c.Sha256 == b.Sha256)
                    .Select(c => c.Path + (Deleted(c.Path) ? " (deleted)" : "")).ToList();
                var tests = history.Where(t => t.Operation == JournalOperations.BackupTested && t.Verified && t.Sha256 == b.Sha256).Select(t => t.Time);
                var lastTest = (b.Verified ? tests.Append(b.Time) : tests).DefaultIfEmpty().Max();
                return (IReadOnlyList<string>)[Time(b.Time), b.Path ?? "", Deleted(b.Path) ? "deleted" : Size(b.Path), b.Sha256 ?? "",
                    b.Verified ? "restored and counted" : "no", copies.Count == 0 ? "none" : string.Join("; ", copies),
                    lastTest == default ? "never" : Time(lastTest)];
            }).ToList());
        }
        var others = entries.Where(e => BackupOperations.Contains(e.Operation) && e.Operation != JournalOperations.Backup).ToList();
        if (others.Count > 0)
        {
            yield return new Paragraph("Copies, tests, restores and deletions:");
            yield return Steps(others);
        }
    }

    /// <summary>The latest integrity summary up to the window's end, which may come from before the window.</summary>
    private static Block Integrity(IReadOnlyList<JournalEntry> history, MaintenanceLogQuery window)
    {
        if (history.LastOrDefault(e => e.Operation == JournalOperations.IntegrityChecked) is not { } check)
        {
            return new Paragraph("No integrity report was exported for this database. Record one with: " +
                                 "Test-DataIntegrity -Database <db> -AsReport | Export-IntegrityReport <file>.json");
        }
        double Figure(string name) => check.Figures?.GetValueOrDefault(name) ?? 0;
        return new Paragraph(
            $"Latest check {Time(check.Time)}{(window.After is { } a && check.Time < a ? " (before this window)" : "")}: " +
            $"{Figure("checks")} checks, {Figure("errors")} errors, {Figure("warnings")} warnings, {Figure("info")} info, " +
            $"{Figure("couldNotRun")} could not run; {Outcome(check)}. Report: {check.Path} (SHA-256 {check.Sha256}).");
    }

    private static IEnumerable<Block> Comparison(SnapshotComparison? comparison, MaintenanceReportRequest request)
    {
        if (comparison is null)
        {
            yield return new Paragraph(request.BeforeSnapshot is null && request.AfterSnapshot is null
                ? "No snapshots were given. Take one before and one after the phase (Get-DatabaseSnapshot) and pass them as -BeforeSnapshot and -AfterSnapshot."
                : "Only one snapshot was given; the comparison needs both -BeforeSnapshot and -AfterSnapshot.");
            yield break;
        }
        yield return new Paragraph($"{comparison.Before} -> {comparison.After}: {comparison.TablesBefore} -> {comparison.TablesAfter} tables, " +
            $"{comparison.RowsBefore} -> {comparison.RowsAfter} rows, {comparison.TablesAdded} added, {comparison.TablesRemoved} removed, " +
            $"{comparison.TablesWithFewerRows} with fewer rows{(comparison.Estimated ? " (row counts estimated)" : "")}. " +
            $"DataLoss: {comparison.DataLoss} — {(comparison.DataLoss ? "data was lost; restore it from the backup above." : "no data was lost.")}");
        if (comparison.Differences.Count > 0)
        {
            yield return new Table(["Object", "Name", "Change", "Row delta", "DataLoss", "Explanation"], comparison.Differences.Select(d =>
                (IReadOnlyList<string>)[d.ObjectType, d.Name, d.Change, d.RowDelta?.ToString(CultureInfo.InvariantCulture) ?? "",
                    d.DataLoss ? "yes" : "no", d.Explanation ?? d.Archive ?? ""]).ToList());
        }
    }

    /// <summary>The undo commands, latest step first: the order that takes the database back.</summary>
    private static IEnumerable<Block> Undo(List<JournalEntry> entries)
    {
        var steps = entries.Where(e => e.Undo is not null).Reverse().ToList();
        if (steps.Count == 0)
        {
            yield return new Paragraph("No step in this window recorded an undo command.");
        }
        else
        {
            yield return new Paragraph("Run them in this order, latest step first:");
        }
        foreach (var e in steps)
        {
            yield return new Paragraph($"{Time(e.Time)} {e.Operation} {Object(e)}:");
            yield return new Code(e.Undo!);
        }
        var without = entries.Where(e => e.Undo is null && !e.Operation.StartsWith("Backup", StringComparison.Ordinal)
                                         && e.Operation is not JournalOperations.IntegrityChecked and not JournalOperations.QueryCompared
                                         and not JournalOperations.ArchiveCreated).ToList();
        if (without.Count > 0)
        {
            yield return new Paragraph("These changes have no single undo command; the backup taken before them restores the database as it was:");
            yield return new Items(without.Select(e => $"{Time(e.Time)} {e.Operation} {Object(e)}").ToList());
        }
    }

    private static string Who(JournalEntry e) => $"{e.User}@{e.Host}{(e.Role is null ? "" : $" (role {e.Role})")}";

    /// <summary>What the step was about: schema.table.column, the further objects, and the other side.</summary>
    private static string Object(JournalEntry e)
    {
        var text = new StringBuilder(e.Table is null ? "" : e.Schema is null ? e.Table : $"{e.Schema}.{e.Table}");
        if (e.Column is not null)
        {
            text.Append('.').Append(e.Column);
        }
        if (e.Objects is { Count: > 0 } objects)
        {
            text.Append(text.Length > 0 ? " " : "").Append(string.Join(", ", objects));
        }
        if (e.Target is not null)
        {
            text.Append(text.Length > 0 ? " -> " : "").Append(e.Target);
        }
        return text.Length > 0 ? text.ToString() : e.Database;
    }

    private static string Outcome(JournalEntry e) =>
        MaintenanceLog.OutcomeOf(e) + (!e.Verified ? "" : e.Operation == JournalOperations.ConstraintAdded ? ", validated" : ", verified");

    private static string Figures(JournalEntry e) => e.Figures is null ? ""
        : string.Join(", ", e.Figures.Select(f => $"{f.Key} {f.Value.ToString("0.###", CultureInfo.InvariantCulture)}"));

    private static string Count(long? rows) => rows?.ToString(CultureInfo.InvariantCulture) ?? "";

    private static string Size(string? path) =>
        path is not null && File.Exists(path) ? $"{new FileInfo(path).Length.ToString(CultureInfo.InvariantCulture)} bytes" : "missing";

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // A small document model, so the Markdown and the HTML say the same thing.
    private abstract record Block;
    private sealed record Heading(int Level, string Text) : Block;
    private sealed record Paragraph(string Text) : Block;
    private sealed record Table(IReadOnlyList<string> Header, IReadOnlyList<IReadOnlyList<string>> Rows) : Block;
    private sealed record Code(string Text) : Block;
    private sealed record Items(IReadOnlyList<string> Lines) : Block;

    private static string ToMarkdown(IEnumerable<Block> blocks)
    {
        static string Cell(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal)
            .ReplaceLineEndings(" ");
        var text = new StringBuilder();
        foreach (var block in blocks)
        {
            switch (block)
            {
                case Heading h:
                    text.Append('#', h.Level).Append(' ').AppendLine(h.Text);
                    break;
                case Paragraph p:
                    text.AppendLine(p.Text);
                    break;
                case Table t:
                    text.AppendLine("| " + string.Join(" | ", t.Header) + " |");
                    text.AppendLine("|" + string.Concat(t.Header.Select(_ => " --- |")));
                    foreach (var row in t.Rows)
                    {
                        text.AppendLine("| " + string.Join(" | ", row.Select(Cell)) + " |");
                    }
                    break;
                case Code c:
                    text.AppendLine("```powershell").AppendLine(c.Text).AppendLine("```");
                    break;
                case Items i:
                    foreach (var line in i.Lines)
                    {
                        text.Append("- ").AppendLine(line);
                    }
                    break;
            }
            text.AppendLine();
        }
        return text.ToString().TrimEnd() + "\n";
    }

    private static string ToHtml(IEnumerable<Block> blocks, string title)
    {
        static string E(string text) => WebUtility.HtmlEncode(text);
        var html = new StringBuilder()
            .AppendLine("<!DOCTYPE html>")
            .AppendLine($"<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{E(title)}</title>")
            .AppendLine("<style>body{font-family:sans-serif;max-width:80em;margin:2em auto}table{border-collapse:collapse}" +
                        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}pre{background:#f4f4f4;padding:.5em}</style>")
            .AppendLine("</head><body>");
        foreach (var block in blocks)
        {
            html.AppendLine(block switch
            {
                Heading h => $"<h{h.Level}>{E(h.Text)}</h{h.Level}>",
                Paragraph p => $"<p>{E(p.Text)}</p>",
                Table t => "<table><tr>" + string.Concat(t.Header.Select(c => $"<th>{E(c)}</th>")) + "</tr>" +
                           string.Concat(t.Rows.Select(r => "<tr>" + string.Concat(r.Select(c => $"<td>{E(c)}</td>")) + "</tr>")) + "</table>",
                Code c => $"<pre><code>{E(c.Text)}</code></pre>",
                Items i => "<ul>" + string.Concat(i.Lines.Select(l => $"<li>{E(l)}</li>")) + "</ul>",
                _ => "",
            });
        }
        return html.AppendLine("</body></html>").ToString();
    }
}
