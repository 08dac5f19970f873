using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Removal;

namespace DbOps.Core.Columns;

/// <summary>What Remove-DeprecatedColumn was asked to do.</summary>
/// <param name="Source">The database holding the table.</param>
/// <param name="Table">"name" or "schema.name", resolved along the search path.</param>
/// <param name="Column">The column to retire.</param>
/// <param name="Destination">The folder for the column archive (an archive of this column already there is used, checked under the lock).</param>
/// <param name="Dependents">Names of objects that need the column and are dropped with it; any other dependent refuses the drop.</param>
/// <param name="LockTimeout">How long to wait for the table lock; null for <see cref="RemovalRequest.DefaultLockTimeout"/>.</param>
/// <param name="Format">The archive's data format.</param>
/// <param name="ToolPath">PostgreSQL: pg_dump (file or folder) for the archive's schema file.</param>
/// <param name="JournalPath">The operations journal; null for the default one.</param>
public sealed record ColumnRemovalRequest(DbOpsConnection Source, string Table, string Column, string Destination,
    IReadOnlyList<string>? Dependents = null, TimeSpan? LockTimeout = null, ArchiveFormat Format = ArchiveFormat.Csv,
    string? ToolPath = null, string? JournalPath = null);

/// <summary>One column Remove-DeprecatedColumn dropped, or would drop (-WhatIf).</summary>
public sealed class ColumnRemoval
{
    internal ColumnRemoval(DbOpsConnection source, TableRef table, string column, bool removed, TableContent? content, string? archivePath,
        IReadOnlyList<string> statements, IReadOnlyList<string> droppedDependents, string? undo, TimeSpan duration)
    {
        Provider = source.Provider;
        Database = source.Database;
        Schema = table.Schema;
        Table = table.Name;
        Column = column;
        Removed = removed;
        RowCount = content?.Rows;
        Checksum = content?.Checksum;
        ArchivePath = archivePath;
        Statements = ValueList.Of(statements);
        DroppedDependents = ValueList.Of(droppedDependents);
        Undo = undo;
        Duration = duration;
        Source = source;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The table's name.</summary>
    public string Table { get; }

    /// <summary>The retired column.</summary>
    public string Column { get; }

    /// <summary>schema.name (SQLite: name).</summary>
    public string QualifiedName => new TableRef(Schema, Table).ToString();

    /// <summary>True when the column was dropped; false for -WhatIf's plan.</summary>
    public bool Removed { get; }

    /// <summary>Rows whose key and value the archive holds (checked under the lock); null in a plan.</summary>
    public long? RowCount { get; }

    /// <summary>The key-plus-column checksum, equal in the archive and the live table when the column was dropped.</summary>
    public string? Checksum { get; }

    /// <summary>The column archive's manifest.</summary>
    public string? ArchivePath { get; }

    /// <summary>The statements that drop the column, in order (the checks run between the lock and the first DROP).</summary>
    public IReadOnlyList<string> Statements { get; }

    /// <summary>The named dependents dropped with the column.</summary>
    public IReadOnlyList<string> DroppedDependents { get; }

    /// <summary>The PowerShell line that puts the column and its values back.</summary>
    public string? Undo { get; }

    /// <summary>How long it took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>The connection, for the next cmdlet in a pipeline.</summary>
    internal DbOpsConnection Source { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{QualifiedName}.{Column}: {(Removed ? "Removed" : "Planned")}";
}
