namespace DbOps.Core.Moves;

/// <summary>What a comparison concluded.</summary>
public enum ComparisonVerdict
{
    /// <summary>Every source row is in the target with equal values, and the target holds no other rows.</summary>
    Equal,

    /// <summary>Every source row is in the target with equal values; the target holds more rows besides.</summary>
    Contained,

    /// <summary>Some source row is missing from the target or has a value that differs.</summary>
    Differs,
}

/// <summary>A row whose key is on both sides with values that differ, and the target columns that differ.</summary>
public sealed record ChangedRow(string Key, IReadOnlyList<string> Columns);

/// <summary>The result of Compare-TableData: counts, samples and the SQL that lists each kind of difference.</summary>
public sealed record TableComparison
{
    /// <summary>The source table, or "query".</summary>
    public required string Source { get; init; }

    /// <summary>The target table, or "query".</summary>
    public required string Target { get; init; }

    /// <summary>Rows of the source (after -Where).</summary>
    public required long SourceRows { get; init; }

    /// <summary>Rows of the target.</summary>
    public required long TargetRows { get; init; }

    /// <summary>Source rows whose key is in the target with equal values.</summary>
    public required long Matched { get; init; }

    /// <summary>Source rows whose key is not in the target.</summary>
    public required long Missing { get; init; }

    /// <summary>Source rows whose key is in the target with some value that differs.</summary>
    public required long Changed { get; init; }

    /// <summary>Target rows whose key is not in the source.</summary>
    public required long Extra { get; init; }

    /// <summary>Changed rows per target column (or target expression).</summary>
    public required IReadOnlyDictionary<string, long> ChangedColumns { get; init; }

    /// <summary>Up to 10 missing keys, in key order.</summary>
    public required IReadOnlyList<string> MissingSamples { get; init; }

    /// <summary>Up to 10 changed rows, with the columns that differ.</summary>
    public required IReadOnlyList<ChangedRow> ChangedSamples { get; init; }

    /// <summary>Up to 10 keys of extra target rows.</summary>
    public required IReadOnlyList<string> ExtraSamples { get; init; }

    /// <summary>SQL that lists every missing source row, for a person to run.</summary>
    public string? MissingSql { get; init; }

    /// <summary>SQL that lists every changed row and flags the values that differ.</summary>
    public string? ChangedSql { get; init; }

    /// <summary>SQL that lists every extra target row.</summary>
    public string? ExtraSql { get; init; }

    /// <summary>
    /// How it was compared: "SetBased" (one query in the database) or, across two databases (-TargetDatabase), "KeyRanges"
    /// (checksums of key ranges in each database, bisecting the ranges that differ).
    /// </summary>
    public required string Method { get; init; }

    /// <summary>Rows fetched out of the databases to compare them here: 0 for SetBased; across databases, the rows of the ranges that differ.</summary>
    public long RowsShipped { get; init; }

    /// <summary>Equal, Contained or Differs.</summary>
    public required ComparisonVerdict Verdict { get; init; }

    /// <summary>How long the comparison took.</summary>
    public required TimeSpan Duration { get; init; }

    internal static ComparisonVerdict VerdictOf(long missing, long changed, long extra) =>
        missing > 0 || changed > 0 ? ComparisonVerdict.Differs : extra > 0 ? ComparisonVerdict.Contained : ComparisonVerdict.Equal;
}

/// <summary>What Copy-TableData does with a key that is already in the target with other values.</summary>
public enum ConflictAction
{
    /// <summary>Leave the target row as it is and count it as conflicting.</summary>
    Skip,

    /// <summary>Overwrite the target row's mapped columns with the source's values.</summary>
    Update,

    /// <summary>Roll the batch back and stop with MoveConflict.</summary>
    Fail,
}

/// <summary>How Copy-TableData copies: the map and the batch settings.</summary>
/// <param name="Map">Source, target, key, map, expressions and -Where.</param>
/// <param name="OnConflict">What to do with a key already in the target with other values.</param>
/// <param name="BatchSize">
/// Source rows per batch (each batch its own transaction); null (the default): batches sized to take about
/// <see cref="BatchTime"/> each.
/// </param>
/// <param name="Pause">How long to wait between batches, so other writers get the table.</param>
/// <param name="LockTimeout">How long one batch waits for a lock before the copy stops (PostgreSQL lock_timeout, SQLite busy timeout).</param>
/// <param name="Verify">Run Compare-TableData afterwards and report its result.</param>
/// <param name="JournalPath">The journal, or null for the default one.</param>
/// <param name="PriorImageFolder">
/// Where -OnConflict Update archives the target rows it overwrites (each copy in a folder of its own inside it); null: a
/// prior-images folder beside the journal.
/// </param>
public sealed record CopyRequest(TableMap Map, ConflictAction OnConflict = ConflictAction.Skip, int? BatchSize = null,
    TimeSpan Pause = default, TimeSpan? LockTimeout = null, bool Verify = false, string? JournalPath = null, string? PriorImageFolder = null)
{
    /// <summary>Connections copying batches at once (PostgreSQL, without -OnConflict Update; otherwise one, with a warning).</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>
    /// Without <see cref="BatchSize"/>: how long one batch should take (its statements through COMMIT, not the pause). The
    /// first batch takes 10,000 rows (or the whole source, when it has fewer); each next one is sized from how long the last
    /// took, between half and twice its size and within 1,000..100,000 rows. Null: <see cref="DefaultBatchTime"/>
    /// (<see cref="DefaultOneWriterBatchTime"/> on SQLite). Not with <see cref="BatchSize"/>.
    /// </summary>
    public TimeSpan? BatchTime { get; init; }

    /// <summary>5 seconds.</summary>
    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Half a second, as pt-online-schema-change's --chunk-time.</summary>
    public static readonly TimeSpan DefaultBatchTime = TimeSpan.FromSeconds(0.5);

    /// <summary>A tenth of a second where a batch holds the database's only write lock (SQLite).</summary>
    public static readonly TimeSpan DefaultOneWriterBatchTime = TimeSpan.FromSeconds(0.1);
}

/// <summary>The result of Copy-TableData.</summary>
public sealed record CopyResult
{
    /// <summary>The source table, or "query".</summary>
    public required string Source { get; init; }

    /// <summary>The target table.</summary>
    public required string Target { get; init; }

    /// <summary>Rows inserted into the target.</summary>
    public required long Copied { get; init; }

    /// <summary>Source rows already in the target with equal values (copied by an earlier run): left alone.</summary>
    public required long AlreadyPresent { get; init; }

    /// <summary>Source rows whose key is in the target with other values.</summary>
    public required long Conflicting { get; init; }

    /// <summary>Conflicting rows overwritten (-OnConflict Update).</summary>
    public required long Updated { get; init; }

    /// <summary>Conflicting rows left as they were (-OnConflict Skip).</summary>
    public long Skipped => Conflicting - Updated;

    /// <summary>Up to 10 keys of copied and of conflicting rows.</summary>
    public required IReadOnlyList<string> CopiedSamples { get; init; }

    /// <summary>Up to 10 conflicting rows, with the columns that differ.</summary>
    public required IReadOnlyList<ChangedRow> ConflictSamples { get; init; }

    /// <summary>Batches run (each its own transaction).</summary>
    public required int Batches { get; init; }

    /// <summary>
    /// Sized by time: the rows each committed batch was sized to take (the last takes what is left), in the order they
    /// committed, growing or shrinking toward <see cref="BatchTime"/>. Empty with a fixed -BatchSize, which every batch took.
    /// </summary>
    public required IReadOnlyList<int> BatchSizes { get; init; }

    /// <summary>The time each batch was sized to take, or null when -BatchSize fixed their rows.</summary>
    public TimeSpan? BatchTime { get; init; }

    /// <summary>The source table's content checksum at the end of the copy (as an archive records it), or null for a query.</summary>
    public string? SourceChecksum { get; init; }

    /// <summary>The comparison run afterwards (-Verify), or null.</summary>
    public TableComparison? Comparison { get; init; }

    /// <summary>
    /// -OnConflict Update: the manifest of the verified archive of the target rows the copy overwrote, as they were before
    /// (written before the first batch, or by an unfinished earlier run of the same copy); null when it overwrote none.
    /// </summary>
    public string? PriorImagePath { get; init; }

    /// <summary>The SHA-256 of that archive's data file.</summary>
    public string? PriorImageSha256 { get; init; }

    /// <summary>The rows that archive holds.</summary>
    public long PriorImageRows { get; init; }

    /// <summary>The line that puts the overwritten rows back (Import-TableArchive -Mode Upsert of the prior image), once the copy finished.</summary>
    public string? Undo { get; init; }

    /// <summary>What <see cref="Undo"/> puts back, and what it does not: the rows the copy inserted.</summary>
    public string? UndoNote { get; init; }

    /// <summary>How long the copy took.</summary>
    public required TimeSpan Duration { get; init; }
}

/// <summary>What -WhatIf shows of a copy.</summary>
/// <param name="Statements">The statements one batch runs, with @p0.. as its key bounds.</param>
/// <param name="Overwrites">The target rows -OnConflict Update would overwrite now (0 for Skip and Fail).</param>
public sealed record CopyPreview(IReadOnlyList<string> Statements, long Overwrites);
