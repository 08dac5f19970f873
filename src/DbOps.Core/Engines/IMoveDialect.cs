using System.Data.Common;

namespace DbOps.Core.Engines;

/// <summary>Compare-TableData and Copy-TableData: key-range checksums, set-based comparison, batched copies. (issue 16)</summary>
internal interface IMoveDialect
{
    /// <summary>
    /// A value as Compare-TableData compares it, given the type the engine reports for it: PostgreSQL compares json as
    /// jsonb (key order and spacing do not count); everything else compares as the engine compares it.
    /// </summary>
    string Comparable(string expression, string dataType);

    /// <summary>True when two values differ, NULL equal to NULL ("IS DISTINCT FROM"; SQLite's "IS NOT").</summary>
    string Differs(string left, string right);

    /// <summary>The statements that open one copy batch's transaction, waiting at most <paramref name="lockTimeout"/> for locks.</summary>
    IReadOnlyList<string> BeginBatch(TimeSpan lockTimeout);

    /// <summary>
    /// True when a source key of <paramref name="sourceType"/> and the target key of <paramref name="targetType"/> it
    /// equals always sort alike (same order, no collation in play), so a copy batch's source key range also bounds the
    /// target rows it can meet. False when unsure: the batch then reads the target unbounded, slower but never wrong.
    /// </summary>
    bool OrdersAlike(string sourceType, string targetType);

    /// <summary>
    /// True when the engine has one writer at a time (SQLite): a copy batch's BEGIN keeps every other writer out until it
    /// commits, and a reader holds a writer's COMMIT back (rollback-journal mode). False for PostgreSQL's MVCC, where a
    /// copy can read the source beside its batches and copy over several connections, and other sessions can add rows to
    /// the target between two statements of a batch.
    /// </summary>
    bool OneWriter { get; }

    /// <summary>True when <paramref name="error"/> is a unique key refusing a duplicate row.</summary>
    bool IsDuplicateKey(Exception error);

    /// <summary>What a failed probe of a map says: a column the server does not know, types it cannot compare, a write
    /// refused by a read-only connection, or none of these (null).</summary>
    MapProblem? ProbeProblem(Exception error);

    /// <summary>
    /// A value's canonical text for a key-range checksum across databases, the same on both engines for equal values of
    /// the common types (never NULL: NULL has its own mark). Two texts that differ only send the range to be fetched and
    /// compared row by row, so a form an engine writes otherwise costs rows shipped, never a false difference.
    /// </summary>
    string CanonicalText(string expression, string dataType);

    /// <summary>An aggregate over canonical row texts: the exact sum, as text, of the first 60 bits of each text's MD5.</summary>
    string ChecksumAggregate(string rowText);

    /// <summary>
    /// Makes <see cref="ChecksumAggregate"/> callable on <paramref name="connection"/> (SQLite registers it) and its statements
    /// cheap to start (PostgreSQL leaves out its costly JIT passes).
    /// </summary>
    void PrepareChecksums(DbConnection connection);

    /// <summary>
    /// True when two values of one column type are the same value, NULL the same as NULL, with no type-aware leniency:
    /// how Copy-TableData -OnConflict Update checks a row it is about to overwrite against its archived prior image.
    /// </summary>
    string Identical(string left, string right);

    /// <summary>
    /// The statement that keeps other writers off <paramref name="table"/> until the batch commits, so the rows a batch
    /// checks against their prior image are the rows it overwrites; null when the batch's BEGIN already does.
    /// </summary>
    string? LockForOverwrite(string table);

    /// <summary>
    /// Puts back the session's own output settings after <see cref="IArchiveDialect.UseCanonicalTextAsync"/> (loading a
    /// prior image needs the canonical ones; a copy's expressions must see the session's, e.g. its time zone); null when
    /// the engine has none.
    /// </summary>
    string? LeaveCanonicalTextSql { get; }
}

/// <summary>Why the server refused a probe of a column map.</summary>
internal enum MapProblem
{
    /// <summary>A name in the map or an expression is not a column.</summary>
    UnknownColumn,

    /// <summary>Two mapped values (or keys) have types the server cannot compare.</summary>
    IncomparableTypes,

    /// <summary>The SELECT tried to write (a function that inserts, nextval) and the read-only connection refused it.</summary>
    WritesData,
}
