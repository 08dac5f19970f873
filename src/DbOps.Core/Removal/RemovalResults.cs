using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Engines;

namespace DbOps.Core.Removal;

/// <summary>One table Remove-DeprecatedTable is asked to drop.</summary>
/// <param name="Table">"name" or "schema.name", resolved along the search path.</param>
/// <param name="ManifestPath">The archive's .manifest.json; null for a table that must be empty.</param>
public sealed record RemovalTarget(string Table, string? ManifestPath)
{
    /// <summary>The inbound foreign keys the user confirmed dropping (from the plan); the run refuses any other set.</summary>
    public IReadOnlyList<string>? ConfirmedForeignKeys { get; init; }

    /// <summary>The dependents the user confirmed retiring with the table (from the plan); the run refuses any other set.</summary>
    public IReadOnlyList<string>? ConfirmedDependents { get; init; }

    /// <summary>The table an archive holds, by its exact (quoted) name, so dots and quotes in names cannot be misread.</summary>
    public static RemovalTarget For(TableArchive archive) => new(new TableRef(archive.Schema, archive.Table).ToQuotedName(), archive.ManifestPath);
}

/// <summary>What Remove-DeprecatedTable was asked to do.</summary>
/// <param name="Source">The database holding the tables.</param>
/// <param name="Tables">The tables, in any order: they are dropped dependents first.</param>
/// <param name="LockTimeout">How long to wait for the table lock before giving up (PostgreSQL lock_timeout, SQLite busy timeout).</param>
/// <param name="DropInboundForeignKeys">PostgreSQL: drop foreign-key constraints of other tables that point at the table (never the tables).</param>
/// <param name="JournalPath">The operations journal; null for the default one.</param>
public sealed record RemovalRequest(DbOpsConnection Source, IReadOnlyList<RemovalTarget> Tables, TimeSpan LockTimeout,
    bool DropInboundForeignKeys = false, string? JournalPath = null)
{
    /// <summary>
    /// Views, triggers and functions to retire with the tables (-IncludeDependent): name, schema.name or "quoted". Their
    /// definitions are kept beside each table's archive and they are dropped before it; any other dependent still refuses.
    /// </summary>
    public IReadOnlyList<string> IncludeDependents { get; init; } = [];

    /// <summary>The lock timeout when none is given.</summary>
    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromSeconds(5);
}

/// <summary>The outcome for one table: dropped, refused (with the reason), or what would be run (-WhatIf).</summary>
public sealed class TableRemoval
{
    internal TableRemoval(DbOpsConnection source, TableRef table, bool dropped, long? rowCount, string? archivePath, string? checksum,
                          IReadOnlyList<string> statements, IReadOnlyList<string> droppedForeignKeys, DbOpsException? error, TimeSpan duration)
    {
        Provider = source.Provider;
        Database = source.Database;
        Schema = table.Schema;
        Table = table.Name;
        Dropped = dropped;
        RowCount = rowCount;
        ArchivePath = archivePath;
        Checksum = checksum;
        Statements = ValueList.Of(statements);
        DroppedForeignKeys = ValueList.Of(droppedForeignKeys);
        Error = error;
        Duration = duration;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The table's name.</summary>
    public string Table { get; }

    /// <summary>schema.name (SQLite: name).</summary>
    public string QualifiedName => new TableRef(Schema, Table).ToString();

    /// <summary>True when the table was dropped.</summary>
    public bool Dropped { get; }

    /// <summary>Dropped, Refused, or WhatIf.</summary>
    public string Status => Dropped ? "Dropped" : Error is null ? "WhatIf" : "Refused";

    /// <summary>The rows the table held when it was dropped (counted under the lock); before the run, those its archive records.</summary>
    public long? RowCount { get; }

    /// <summary>The archive manifest that vouched for the rows; null for an empty table dropped without one.</summary>
    public string? ArchivePath { get; }

    /// <summary>The content checksum recomputed under the lock; null when it was not reached.</summary>
    public string? Checksum { get; }

    /// <summary>The statements run (or, with -WhatIf or when refused, that would have been run), in order.</summary>
    public IReadOnlyList<string> Statements { get; }

    /// <summary>Foreign-key constraints of other tables dropped with -DropInboundForeignKeys, as table.constraint.</summary>
    public IReadOnlyList<string> DroppedForeignKeys { get; }

    /// <summary>Views, triggers and functions dropped with the table (-IncludeDependent), or that would be; none otherwise.</summary>
    public IReadOnlyList<string> RetiredDependents { get; init; } = ValueList.Of<string>([]);

    /// <summary>The file beside the archive that holds the retired dependents' definitions (Import-TableArchive creates them again).</summary>
    public string? DependentsPath { get; init; }

    /// <summary>Why the table was not dropped (ArchiveRequired, ArchiveStale, DependentObjectsExist, ...); null otherwise.</summary>
    public string? ErrorId => Error?.ErrorId;

    /// <summary>What stopped the drop; null otherwise.</summary>
    public string? Reason => Error?.Message;

    /// <summary>The refusal, for the cmdlet to report as an error.</summary>
    internal DbOpsException? Error { get; }

    /// <summary>The request entry this result answers (set by the plan, so a confirmed plan can be run).</summary>
    internal RemovalTarget? Target { get; init; }

    /// <summary>How long this table took.</summary>
    public TimeSpan Duration { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{QualifiedName}: {Status}{(ErrorId is null ? "" : $" ({ErrorId})")}";
}
