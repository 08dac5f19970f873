using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Indexes;

/// <summary>A relationship whose referencing columns lead no index: joins and parent deletes scan the child table.</summary>
public sealed class MissingIndex
{
    internal MissingIndex(DbOpsConnection source, Relationship relationship, string suggestedName, string sql)
    {
        Source = source;
        Provider = source.Provider;
        Database = source.Database;
        Schema = relationship.Child.Schema;
        Table = relationship.Child.ToString();
        Columns = [.. relationship.ChildColumns];
        ReferencedTable = relationship.Parent.ToString();
        ReferencedColumns = [.. relationship.ParentColumns];
        RelationshipSource = relationship.Source;
        ConstraintName = relationship.ConstraintName;
        SuggestedName = suggestedName;
        Sql = sql;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The child table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The child (referencing) table: schema.table, or table for SQLite.</summary>
    public string Table { get; }

    /// <summary>The referencing columns, in key order: the index to add.</summary>
    public string[] Columns { get; }

    /// <summary>The parent (referenced) table.</summary>
    public string ReferencedTable { get; }

    /// <summary>The referenced key columns.</summary>
    public string[] ReferencedColumns { get; }

    /// <summary>Declared (a foreign key) or Inferred (from column naming, as Test-DataIntegrity infers it).</summary>
    public RelationshipSource RelationshipSource { get; }

    /// <summary>The foreign key's name when declared.</summary>
    public string? ConstraintName { get; }

    /// <summary>The index name Add-SafeIndex uses for it.</summary>
    public string SuggestedName { get; }

    /// <summary>The statement Add-SafeIndex runs (CREATE INDEX CONCURRENTLY on PostgreSQL).</summary>
    public string Sql { get; }

    /// <summary>The connection it was found through, so the object pipes into Add-SafeIndex.</summary>
    public DbOpsConnection Source { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Table}({string.Join(", ", Columns)}) -> {ReferencedTable}";
}

/// <summary>Why an index is reported.</summary>
public enum IndexFindingReason
{
    /// <summary>No scans since the usage statistics started counting (PostgreSQL).</summary>
    Unused,
    /// <summary>Another index has the same definition.</summary>
    Duplicate,
    /// <summary>Its key columns are the leading columns of a wider index, which serves the same lookups.</summary>
    Overlapping,
}

/// <summary>What the evidence supports.</summary>
public enum IndexVerdict
{
    /// <summary>Not scanned in a statistics window at least the minimum age: safe to drop on usage grounds.</summary>
    Unused,
    /// <summary>Another valid index serves the same lookups: safe to drop regardless of usage.</summary>
    Redundant,
    /// <summary>Not scanned, but the statistics are too young to prove it unused (Remove-UnusedIndex needs -Force).</summary>
    Unknown,
}

/// <summary>An index Find-UnusedIndex reports. Indexes backing a primary key, unique or exclusion constraint never are.</summary>
public sealed class IndexFinding
{
    internal IndexFinding(
        DbOpsConnection source, IndexInfo index, IndexFindingReason reason, IndexVerdict verdict, long? scans, long? sizeBytes,
        StatisticsWindow? window, string? coveredBy, string evidence, string dropSql)
    {
        Source = source;
        Provider = source.Provider;
        Database = source.Database;
        Schema = index.Table.Schema;
        Table = index.Table.ToString();
        Index = index.Name;
        Columns = [.. index.Columns];
        Definition = index.Definition;
        Reason = reason;
        Verdict = verdict;
        Scans = scans;
        SizeBytes = sizeBytes;
        StatsSince = window?.Since;
        StatsAge = window?.Age;
        CoveredBy = coveredBy;
        Evidence = evidence;
        DropSql = dropSql;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The index's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The indexed table: schema.table, or table for SQLite.</summary>
    public string Table { get; }

    /// <summary>The index name.</summary>
    public string Index { get; }

    /// <summary>Its key columns in order.</summary>
    public string[] Columns { get; }

    /// <summary>The statement that created it.</summary>
    public string Definition { get; }

    /// <summary>Unused, Duplicate or Overlapping.</summary>
    public IndexFindingReason Reason { get; }

    /// <summary>Unused, Redundant, or Unknown when the statistics are too young.</summary>
    public IndexVerdict Verdict { get; }

    /// <summary>Index scans since the statistics window started (PostgreSQL), or null.</summary>
    public long? Scans { get; }

    /// <summary>The index's size on disk (PostgreSQL), or null.</summary>
    public long? SizeBytes { get; }

    /// <summary>When the usage statistics started counting (PostgreSQL).</summary>
    public DateTimeOffset? StatsSince { get; }

    /// <summary>How long the usage statistics have been counting (PostgreSQL).</summary>
    public TimeSpan? StatsAge { get; }

    /// <summary>For Duplicate and Overlapping: the index that serves the same lookups and stays.</summary>
    public string? CoveredBy { get; }

    /// <summary>Why, in words.</summary>
    public string Evidence { get; }

    /// <summary>The statement Remove-UnusedIndex runs (DROP INDEX CONCURRENTLY on PostgreSQL).</summary>
    public string DropSql { get; }

    /// <summary>The connection it was found through, so the object pipes into Remove-UnusedIndex.</summary>
    public DbOpsConnection Source { get; }

    /// <summary>The server's scan counter when reported (Scans is the growth since a baseline under -Since): a drop re-checks it.</summary>
    internal long? ScanCounter { get; init; }

    /// <inheritdoc/>
    public override string ToString() => $"{Schema}.{Index} on {Table}: {Reason} ({Verdict})";
}

/// <summary>What happened to an index.</summary>
public enum IndexChangeStatus
{
    /// <summary>The index was built.</summary>
    Created,
    /// <summary>The index was dropped.</summary>
    Dropped,
    /// <summary>A valid index of that name already exists; nothing was done.</summary>
    Exists,
    /// <summary>A valid index already leads with these columns; nothing was done.</summary>
    AlreadyCovered,
}

/// <summary>The result of Add-SafeIndex or Remove-UnusedIndex.</summary>
public sealed class IndexChange
{
    internal IndexChange(DbOpsConnection source, TableRef table, string index, IReadOnlyList<string> columns, IndexChangeStatus status,
                         IReadOnlyList<string> statements, bool replacedInvalid, TimeSpan duration, string? note, string method = "btree")
    {
        Method = method;
        Provider = source.Provider;
        Database = source.Database;
        Schema = table.Schema;
        Table = table.ToString();
        Index = index;
        Columns = [.. columns];
        Status = status;
        Sql = string.Join(";\n", statements);
        ReplacedInvalid = replacedInvalid;
        Duration = duration;
        Note = note;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The index's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The indexed table.</summary>
    public string Table { get; }

    /// <summary>The index name.</summary>
    public string Index { get; }

    /// <summary>Its key columns and expressions.</summary>
    public string[] Columns { get; }

    /// <summary>The access method: btree, gin, gist, brin, hash, spgist.</summary>
    public string Method { get; }

    /// <summary>Created, Dropped, Exists or AlreadyCovered.</summary>
    public IndexChangeStatus Status { get; }

    /// <summary>The statements that ran (empty when nothing was done).</summary>
    public string Sql { get; }

    /// <summary>True when an INVALID leftover of a failed concurrent build was dropped first.</summary>
    public bool ReplacedInvalid { get; }

    /// <summary>How long the change took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>Why nothing was done, when nothing was.</summary>
    public string? Note { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Status} {Schema}.{Index} on {Table}";
}
