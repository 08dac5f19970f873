using System.Data.Common;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's half of <see cref="IMoveDialect"/>.</summary>
internal sealed class PostgresMoves : IMoveDialect
{
    public static readonly PostgresMoves Instance = new();

    public string Comparable(string expression, string dataType) =>
        dataType == "json" ? $"({expression})::jsonb" : expression;

    public string Differs(string left, string right) => $"{left} IS DISTINCT FROM {right}";

    public IReadOnlyList<string> BeginBatch(TimeSpan lockTimeout) =>
        ["BEGIN", $"SET LOCAL lock_timeout = '{(long)lockTimeout.TotalMilliseconds}ms'"];

    public bool OneWriter => false;

    public bool IsDuplicateKey(Exception error) => error is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <summary>Integers and numerics compare by value across types; a few other uncollated types when both sides have them.</summary>
    public bool OrdersAlike(string sourceType, string targetType)
    {
        var (source, target) = (sourceType.Split('(')[0], targetType.Split('(')[0]);
        return Numbers.Contains(source) && Numbers.Contains(target) || source == target && Uncollated.Contains(source);
    }

    private static readonly HashSet<string> Numbers = ["smallint", "integer", "bigint", "numeric"];

    private static readonly HashSet<string> Uncollated = ["uuid", "date", "timestamp without time zone", "timestamp with time zone", "bytea", "boolean"];

    public MapProblem? ProbeProblem(Exception error) => error switch
    {
        PostgresException { SqlState: PostgresErrorCodes.UndefinedColumn } => MapProblem.UnknownColumn,
        PostgresException { SqlState: PostgresErrorCodes.UndefinedFunction or PostgresErrorCodes.DatatypeMismatch or PostgresErrorCodes.CannotCoerce } =>
            MapProblem.IncomparableTypes,
        PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction } => MapProblem.WritesData,
        _ => null,
    };

    /// <summary>Booleans as 1/0 (as SQLite stores them), numerics without trailing zeros, json as jsonb, instants in UTC.</summary>
    public string CanonicalText(string expression, string dataType) => dataType.Split('(')[0] switch
    {
        "boolean" => $"CASE WHEN {expression} THEN '1' ELSE '0' END",
        "numeric" => $"trim_scale({expression})::text",
        "json" or "jsonb" => $"({expression})::jsonb::text",
        "timestamp with time zone" => $"to_char(({expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        "bytea" => $"upper(encode({expression}, 'hex'))",
        _ => $"({expression})::text",
    };

    public string ChecksumAggregate(string rowText) => $"COALESCE(sum(('x' || substr(md5({rowText}), 1, 15))::bit(60)::bigint), 0)::text";

    /// <summary>
    /// No inlining or optimizing JIT: the first level's statement reads the whole table through a tree of 255 CASEs, whose
    /// estimate passes jit_optimize_above_cost on a million rows, and PostgreSQL 15 then spent about 3 s of CPU compiling
    /// it in each statement (leader and parallel workers together), more than it saves on md5 and text work; the cheap
    /// expression JIT stays. A parallel comparison's smaller statements stayed under the threshold, which made them
    /// look cheaper than they were (issue 22).
    /// </summary>
    public void PrepareChecksums(DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SET jit_inline_above_cost = -1; SET jit_optimize_above_cost = -1";
        command.ExecuteNonQuery();
    }

    /// <summary>By their text: every type has one (json and xml have no equality), and it is exact (1.50 is not 1.5).</summary>
    public string Identical(string left, string right) => $"({left})::text IS NOT DISTINCT FROM ({right})::text";

    /// <summary>Other writers wait (readers do not) until the batch commits, within the batch's lock_timeout.</summary>
    public string? LockForOverwrite(string table) => $"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE";

    /// <summary>A RESET of each setting <see cref="PostgresArchive.CanonicalSettingsSql"/> makes.</summary>
    public string? LeaveCanonicalTextSql { get; } = string.Join("; ",
        PostgresArchive.CanonicalSettingsSql.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(set => "RESET " + set["SET ".Length..set.IndexOf('=', StringComparison.Ordinal)].Trim()));
}
