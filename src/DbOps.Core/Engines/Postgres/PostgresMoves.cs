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

    public MapProblem? ProbeProblem(Exception error) => error switch
    {
        PostgresException { SqlState: PostgresErrorCodes.UndefinedColumn } => MapProblem.UnknownColumn,
        PostgresException { SqlState: PostgresErrorCodes.UndefinedFunction or PostgresErrorCodes.DatatypeMismatch or PostgresErrorCodes.CannotCoerce } =>
            MapProblem.IncomparableTypes,
        PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction } => MapProblem.WritesData,
        _ => null,
    };
}
