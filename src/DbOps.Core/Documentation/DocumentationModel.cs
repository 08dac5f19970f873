using DbOps.Core.Connections;
using DbOps.Core.Journal;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Documentation;

/// <summary>One documented table: its catalog entry, rows and profile, and what the journal says about it.</summary>
/// <param name="Schema">The table's catalog entry.</param>
/// <param name="Profile">Row count and column profiles.</param>
/// <param name="Archive">The latest archive recorded for it (newer than any removal), or null.</param>
internal sealed record DocumentedTable(TableSchema Schema, TableProfile Profile, JournalEntry? Archive)
{
    public TableRef Table => Schema.Table;
}

/// <summary>Everything the writers need, read in one pass; the writers only format it.</summary>
internal sealed class DocumentationModel
{
    public required DbOpsConnection Source { get; init; }

    public required DateTimeOffset GeneratedAt { get; init; }

    public required IReadOnlyList<DocumentedTable> Tables { get; init; }

    /// <summary>Declared and inferred relationships whose two ends are both documented.</summary>
    public required IReadOnlyList<Relationship> Relationships { get; init; }

    /// <summary>Relationships of documented tables with a table left out by -Table (listed, not drawn).</summary>
    public required IReadOnlyList<Relationship> OutsideRelationships { get; init; }

    /// <summary>TableRemoved entries for tables that no longer exist, newest first.</summary>
    public required IReadOnlyList<JournalEntry> RemovedTables { get; init; }

    public required JournalEntry? LastVerifiedBackup { get; init; }

    /// <summary>The newest backup of any state, to point out one newer than the last verified.</summary>
    public required JournalEntry? LatestBackup { get; init; }

    public required string JournalPath { get; init; }

    /// <summary>Why the journal could not be read, or null.</summary>
    public required string? JournalError { get; init; }

    public required bool Profiled { get; init; }

    /// <summary>True when -Table left some tables out.</summary>
    public required bool Partial { get; init; }

    /// <summary>The SVG's file name when one is written, for the Markdown to link.</summary>
    public string? SvgFileName { get; set; }

    public required string MermaidFileName { get; init; }

    public required string DotFileName { get; init; }

    public DocumentedTable? Find(TableRef table) => Tables.FirstOrDefault(t => t.Table == table);

    /// <summary>True when every child column of the relationship is NOT NULL, so each child row has a parent.</summary>
    public bool ChildRequired(Relationship r) =>
        Find(r.Child)?.Schema is { } child && r.ChildColumns.All(c => child.FindColumn(c) is { IsNullable: false });

    /// <summary>True when the child columns are a key of the child, so a parent has at most one child row.</summary>
    public bool ChildUnique(Relationship r) => Find(r.Child)?.Schema.HasUniqueKeyOn(r.ChildColumns.ToList()) == true;
}
