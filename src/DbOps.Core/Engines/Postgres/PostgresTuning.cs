using System.Data.Common;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Indexes;
using DbOps.Core.Performance;
using DbOps.Core.Progress;
using DbOps.Core.Schema;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>
/// PostgreSQL's constraint and index DDL (NOT VALID then VALIDATE, CONCURRENTLY), its SQLSTATEs, EXPLAIN and
/// pg_stat_statements. The longer procedures live in <see cref="PostgresConstraints"/>, <see cref="PostgresIndexes"/>
/// and <see cref="PostgresQueries"/>.
/// </summary>
internal sealed class PostgresTuning : ITuningDialect
{
    public static readonly PostgresTuning Instance = new();

    // Constraints

    public bool HasEscapeQuoting => true;

    public bool QuotesNamesWithBrackets => false;

    public StringComparer IdentifierComparer => StringComparer.Ordinal;


    public string RowKeyAsText(string quotedKey) => quotedKey + "::text";

    // ctid is a system column: c.* leaves it out, so the listing names it.
    public string ListingColumns(TableSchema table) => table.PrimaryKey is null ? "c.ctid, c.*" : "c.*";

    public string? SingleCoreScanSetting => "SET max_parallel_workers_per_gather = 0";

    public Task<ConstraintPlan> PlanConstraintAsync(DbOpsConnection connection, ReadOnlySession session, DatabaseSchema schema, ResolvedConstraint constraint,
        ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken) =>
        PostgresConstraints.PlanAsync(connection, schema, constraint, options, observer, cancellationToken);

    public Task<ConstraintResult> ApplyConstraintAsync(WritableSession session, ConstraintPlan plan, ConstraintOptions options,
        IOperationObserver observer, CancellationToken cancellationToken) =>
        PostgresConstraints.ApplyAsync(session, plan, options, observer, cancellationToken);

    public string? ConstraintUndoSql(ConstraintPlan plan) => plan.Kind == ConstraintKind.NotNull
        ? $"ALTER TABLE {PostgresEngine.Instance.QualifiedName(plan.Table)} ALTER COLUMN {PostgresEngine.Instance.QuoteIdentifier(plan.Columns[0])} DROP NOT NULL"
        : $"ALTER TABLE {PostgresEngine.Instance.QualifiedName(plan.Table)} DROP CONSTRAINT {PostgresEngine.Instance.QuoteIdentifier(plan.Name)}";

    public bool IsStatementError(Exception e) => e is PostgresException;

    public bool IsPermissionDenied(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege };

    public string ServerMessage(Exception e) => PostgresConstraints.ServerMessage(e);

    // Indexes

    public string CreateIndexCommand => "CREATE INDEX CONCURRENTLY";

    public string DropIndexCommand => "DROP INDEX CONCURRENTLY";

    // The server is the judge of methods and INCLUDE (ProbeIndexAsync asks it).
    public void RequireIndexKind(TableSchema table, IndexMethod method, IReadOnlyList<string> include)
    {
    }

    // The definition after the table (method, keys with their opclasses and collations, INCLUDE, WHERE).
    public string IndexComparisonKey(string definition)
    {
        var normal = IndexAdvisor.Normalise(definition);
        var usingAt = normal.IndexOf(" using ", StringComparison.Ordinal);
        return usingAt >= 0 ? normal[usingAt..] : normal;
    }

    public Task<string> ProbeIndexAsync(DbOpsConnection source, IndexDefinition index, CancellationToken cancellationToken) =>
        PostgresIndexes.ProbeAsync(source, index, cancellationToken);

    public Task DropFailedBuildAsync(DbOpsConnection source, IndexChangePlan plan, IOperationObserver observer) =>
        PostgresIndexes.DropInvalidLeftoverAsync(source, plan, observer);

    public Task<IReadOnlyList<IndexScans>> ReadIndexScansAsync(DbConnection connection, CancellationToken cancellationToken) =>
        PostgresIndexes.ReadScansAsync(connection, cancellationToken);

    // Performance

    public Task<bool> ModifiesAsync(QueryMeasurementRequest request, CancellationToken cancellationToken) =>
        PostgresQueries.ModifiesAsync(request, cancellationToken);

    // Opened and timed synchronously: see PostgresEngine.OpenBlockingReadOnly.
    public Task<ReadOnlySession> OpenTimedReadOnlyAsync(DbOpsConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult(PostgresEngine.Instance.OpenBlockingReadOnly(connection));

    public Task<WritableSession> OpenTimedWritableAsync(DbOpsConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult(PostgresEngine.Instance.OpenBlockingWritable(connection));

    public void Bind(DbParameter parameter, string key, bool positional, object? value)
    {
        // A positional parameter has no name: Npgsql sends them in order as $1, $2, ...
        if (!positional)
        {
            parameter.ParameterName = key.TrimStart('@');
        }
        parameter.Value = value ?? DBNull.Value;
        if (parameter is NpgsqlParameter npgsql && value is string)
        {
            // Text from a script ('2024-01-31', '42') takes the type the statement gives it, as a literal would,
            // instead of failing with "operator does not exist: date > text".
            npgsql.NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Unknown;
        }
    }

    public Task<QueryPlanSummary> ExplainAsync(DbConnection connection, DbTransaction? transaction, QueryMeasurementRequest request, bool modifies,
        Action<string> progress, CancellationToken cancellationToken) =>
        PostgresQueries.ExplainAnalyzeAsync(connection, transaction, request, modifies, progress, cancellationToken);

    public QueryError? QueryError(Exception e) => e switch
    {
        PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction } pg => new(QueryErrorKind.WouldWrite, pg.SqlState, pg.MessageText),
        PostgresException { SqlState: PostgresErrorCodes.UndefinedParameter or PostgresErrorCodes.ProtocolViolation } pg =>
            new(QueryErrorKind.MissingParameters, pg.SqlState, pg.MessageText),
        PostgresException pg => new(QueryErrorKind.Other, pg.SqlState, pg.MessageText),
        NpgsqlException npgsql => new(QueryErrorKind.Other, "", npgsql.Message),
        _ => null,
    };

    public Task<StatementStatistics> ReadStatementsAsync(SlowQueryRequest request, CancellationToken cancellationToken) =>
        PostgresQueries.ReadStatementsAsync(request, cancellationToken);
}
