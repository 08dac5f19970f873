using System.Buffers.Binary;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
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

    public bool OneWriter => true;

    /// <summary>SQLITE_CONSTRAINT_UNIQUE or SQLITE_CONSTRAINT_PRIMARYKEY.</summary>
    public bool IsDuplicateKey(Exception error) => error is SqliteException { SqliteExtendedErrorCode: 2067 or 1555 };

    /// <summary>
    /// Two columns of INTEGER affinity (a declared type containing INT): other affinities convert or collate their values
    /// when compared, so equal keys could sort apart (TEXT '10' equals INTEGER 10 but sorts after TEXT '2').
    /// </summary>
    public bool OrdersAlike(string sourceType, string targetType) =>
        sourceType.Contains("INT", StringComparison.OrdinalIgnoreCase) && targetType.Contains("INT", StringComparison.OrdinalIgnoreCase);

    public MapProblem? ProbeProblem(Exception error) => error switch
    {
        SqliteException { SqliteErrorCode: SQLitePCL.raw.SQLITE_ERROR } e when e.Message.Contains("no such column", StringComparison.Ordinal) => MapProblem.UnknownColumn,
        SqliteException { SqliteErrorCode: SQLitePCL.raw.SQLITE_READONLY } => MapProblem.WritesData,
        _ => null,
    };

    /// <summary>A whole REAL as an integer (3.0 as 3, as PostgreSQL writes a numeric without trailing zeros), a blob in hex.</summary>
    public string CanonicalText(string expression, string dataType) =>
        $"CASE typeof({expression}) WHEN 'real' THEN CASE WHEN {expression} = CAST({expression} AS INTEGER) THEN CAST(CAST({expression} AS INTEGER) AS TEXT) " +
        $"ELSE CAST({expression} AS TEXT) END WHEN 'blob' THEN hex({expression}) ELSE CAST({expression} AS TEXT) END";

    public string ChecksumAggregate(string rowText) => $"dbops_checksum({rowText})";

    /// <summary>SQLite has no MD5: the aggregate runs here, inside the engine, as PostgreSQL's runs in the server.</summary>
    public void PrepareChecksums(DbConnection connection) =>
        ((SqliteConnection)connection).CreateAggregate<string?, decimal, string>("dbops_checksum", 0m,
            (sum, text) => text is null ? sum : sum + First60Bits(text), sum => sum.ToString(CultureInfo.InvariantCulture), isDeterministic: true);

    /// <summary>IS is = with NULL IS NULL; the prior image's columns have the live table's affinities, so its values kept their storage classes.</summary>
    public string Identical(string left, string right) => $"{left} IS {right}";

    /// <summary>BEGIN IMMEDIATE already keeps every other writer out.</summary>
    public string? LockForOverwrite(string table) => null;

    /// <summary>SQLite's canonical text needs no session setting.</summary>
    public string? LeaveCanonicalTextSql => null;

    private static long First60Bits(string text) =>
        (long)(BinaryPrimitives.ReadUInt64BigEndian(MD5.HashData(Encoding.UTF8.GetBytes(text))) >> 4);
}
