using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

/// <summary>SQLite's half of <see cref="IMoveDialect"/>.</summary>
internal sealed class SqliteMoves : IMoveDialect
{
    public static readonly SqliteMoves Instance = new();

    /// <summary>SQLite compares by storage class after applying column affinity: 1.50 and 1.5 in a NUMERIC or REAL column are equal.</summary>
    public string Comparable(string expression, string dataType) => expression;

    public string Differs(string left, string right) => $"{left} IS NOT {right}";

    /// <summary>The busy timeout is how long SQLite waits for another writer; IMMEDIATE takes the write lock at BEGIN.</summary>
    public IReadOnlyList<string> BeginBatch(TimeSpan lockTimeout) =>
        [$"PRAGMA busy_timeout = {(long)lockTimeout.TotalMilliseconds}", "BEGIN IMMEDIATE"];

    public MapProblem? ProbeProblem(Exception error) => error switch
    {
        SqliteException { SqliteErrorCode: SQLitePCL.raw.SQLITE_ERROR } e when e.Message.Contains("no such column", StringComparison.Ordinal) => MapProblem.UnknownColumn,
        SqliteException { SqliteErrorCode: SQLitePCL.raw.SQLITE_READONLY } => MapProblem.WritesData,
        _ => null,
    };
}
