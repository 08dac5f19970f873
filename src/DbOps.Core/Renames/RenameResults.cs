using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.Core.Renames;

/// <summary>What Rename-Table was asked to do.</summary>
/// <param name="Source">The database holding the table.</param>
/// <param name="Table">"name" or "schema.name", resolved along the search path.</param>
/// <param name="NewName">The new name, as it is (never split at dots): the table stays in its schema.</param>
public sealed record RenameRequest(DbOpsConnection Source, string Table, string NewName)
{
    /// <summary>Leave a view under the old name that reads (on PostgreSQL also writes) the renamed table.</summary>
    public bool CompatibilityView { get; init; }

    /// <summary>
    /// When the new name is held by the compatibility view an earlier rename left for this table, drop that view first:
    /// this is how a rename behind a compatibility view is undone.
    /// </summary>
    public bool ReplaceCompatibilityView { get; init; }

    /// <summary>How long one try waits for the table lock (PostgreSQL lock_timeout, SQLite busy timeout).</summary>
    public TimeSpan LockTimeout { get; init; } = DefaultLockTimeout;

    /// <summary>Further tries after a try gave up waiting for the lock, with growing pauses between them.</summary>
    public int MaxRetries { get; init; } = 10;

    /// <summary>The operations journal; null for the default one.</summary>
    public string? JournalPath { get; init; }

    /// <summary>
    /// 200 ms: while ALTER TABLE waits for its exclusive lock every reader and writer of the table queues behind it, so
    /// a try that cannot have the lock at once gives up soon and tries again later.
    /// </summary>
    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromMilliseconds(200);
}

/// <summary>A table renamed (or, under -WhatIf, the rename that would run).</summary>
public sealed class TableRename
{
    internal TableRename(DbOpsConnection source, TableRef table, string newName, bool renamed, string? compatibilityView,
        RenameSteps steps, IReadOnlyList<string> statements, string undo, int lockRetries, TimeSpan duration)
    {
        Provider = source.Provider;
        Database = source.Database;
        Schema = table.Schema;
        Table = table.Name;
        NewName = newName;
        Renamed = renamed;
        CompatibilityView = compatibilityView;
        RenamedObjects = ValueList.Of(steps.Renamed);
        KeptNames = ValueList.Of(steps.Kept);
        Statements = ValueList.Of(statements);
        Undo = undo;
        LockRetries = lockRetries;
        Duration = duration;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The table's old name.</summary>
    public string Table { get; }

    /// <summary>The table's new name (same schema).</summary>
    public string NewName { get; }

    /// <summary>schema.old (SQLite: old).</summary>
    public string QualifiedName => new TableRef(Schema, Table).ToString();

    /// <summary>True when the rename committed; false under -WhatIf.</summary>
    public bool Renamed { get; }

    /// <summary>Renamed, or WhatIf.</summary>
    public string Status => Renamed ? "Renamed" : "WhatIf";

    /// <summary>The view left under the old name (-CompatibilityView), or null.</summary>
    public string? CompatibilityView { get; }

    /// <summary>Sequences, constraints, indexes and triggers renamed with the table, as "kind old -> new".</summary>
    public IReadOnlyList<string> RenamedObjects { get; }

    /// <summary>Objects whose names still hold the old table name, each with the reason it kept it.</summary>
    public IReadOnlyList<string> KeptNames { get; }

    /// <summary>The statements run (or, with -WhatIf, that would run), in order.</summary>
    public IReadOnlyList<string> Statements { get; }

    /// <summary>The PowerShell line that undoes the rename (it is also in the journal).</summary>
    public string Undo { get; }

    /// <summary>How many tries gave up waiting for the table lock before the one that got it.</summary>
    public int LockRetries { get; }

    /// <summary>How long the rename took, waits included.</summary>
    public TimeSpan Duration { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{QualifiedName} -> {NewName}: {Status}";
}
