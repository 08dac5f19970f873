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

    /// <summary>What a failed probe of a map says: a column the server does not know, types it cannot compare, a write
    /// refused by a read-only connection, or none of these (null).</summary>
    MapProblem? ProbeProblem(Exception error);

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
