using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.Core.RowFixes;

/// <summary>What a row fix did (or, under -WhatIf, would do) to one table.</summary>
public sealed class RowFix
{
    internal RowFix(DbOpsConnection source, TableRef table, RowFixAction action, RowFixStatus status, long rowCount, string condition,
        IReadOnlyList<string> statements, IReadOnlyList<string> survivors, string message, TimeSpan duration,
        string? archivePath = null, string? checksum = null, string? undo = null, int batches = 1)
    {
        Source = source;
        Provider = source.Provider;
        Database = source.Database;
        Schema = table.Schema;
        Table = table.ToString();
        Action = action;
        Status = status;
        RowCount = rowCount;
        Condition = condition;
        Statements = ValueList.Of(statements);
        Survivors = ValueList.Of(survivors);
        Message = message;
        Duration = duration;
        ArchivePath = archivePath;
        Checksum = checksum;
        Undo = undo;
        Batches = batches;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The PostgreSQL database name, or the SQLite file's full path.</summary>
    public string Database { get; }

    /// <summary>The table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The table as schema.name (SQLite: name).</summary>
    public string Table { get; }

    /// <summary>Remove or Update.</summary>
    public RowFixAction Action { get; }

    /// <summary>Planned (-WhatIf), Fixed, or NoRows (nothing matched, nothing written).</summary>
    public RowFixStatus Status { get; }

    /// <summary>The rows the fix changed (Fixed) or would change (Planned).</summary>
    public long RowCount { get; }

    /// <summary>The transactions the rows changed (or would change) in: 1 unless -BatchSize splits them; 0 when no row matched.</summary>
    public int Batches { get; }

    /// <summary>The condition that chose the rows, as the statement and the archive's manifest hold it.</summary>
    public string Condition { get; }

    /// <summary>The statements, in the order they run (the prior-image checks run between the lock and the change).</summary>
    public IReadOnlyList<string> Statements { get; }

    /// <summary>For duplicates: keys of rows that stay while a repeat of theirs goes (up to 10).</summary>
    public IReadOnlyList<string> Survivors { get; }

    /// <summary>What happened, in words.</summary>
    public string Message { get; }

    /// <summary>How long it took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>The manifest of the verified archive of the rows' prior image; null when nothing was written.</summary>
    public string? ArchivePath { get; }

    /// <summary>The prior image's content checksum (the archive's).</summary>
    public string? Checksum { get; }

    /// <summary>The PowerShell line that puts the prior image back.</summary>
    public string? Undo { get; }

    /// <summary>The connection the fix ran on.</summary>
    public DbOpsConnection Source { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Table}: {Status} ({RowCount} rows)";
}

/// <summary>How a row fix ended.</summary>
public enum RowFixStatus
{
    /// <summary>-WhatIf: what would run.</summary>
    Planned,

    /// <summary>The rows were archived and changed, in one transaction or in batches.</summary>
    Fixed,

    /// <summary>No row matched: nothing was archived or written.</summary>
    NoRows,
}
