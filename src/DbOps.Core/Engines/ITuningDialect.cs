using System.Data.Common;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Indexes;
using DbOps.Core.Performance;
using DbOps.Core.Progress;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// What one engine says to add constraints and indexes safely and to measure queries: its DDL and lock dialect,
/// the error codes it answers with, how it reads plans and statement statistics. Add-SafeConstraint, Add-SafeIndex,
/// Find/Remove-UnusedIndex, Measure-QueryPerformance and Get-SlowQuery hold their logic once and ask this for the
/// differences (<see cref="IDatabaseEngine.Tuning"/>).
/// </summary>
internal interface ITuningDialect
{
    // Constraints

    /// <summary>
    /// True when string literals can hide a quote from a standard SQL lexer (PostgreSQL's E'...' escapes and $$
    /// dollar quoting), so <see cref="Sql.SqlExpression"/> refuses '\' and '$' even inside them.
    /// </summary>
    bool HasEscapeQuoting { get; }

    /// <summary>
    /// True when [name] and `name` quote identifiers (SQLite). On PostgreSQL '[' is an array subscript, and a lexer that
    /// took it for a quote would not see a comment or a ';' the server does.
    /// </summary>
    bool QuotesNamesWithBrackets { get; }

    /// <summary>How resolved identifiers compare: exactly on PostgreSQL, case-insensitively on SQLite.</summary>
    StringComparer IdentifierComparer { get; }

    /// <summary>A row key as a sample shows it (PostgreSQL's ctid is read as text).</summary>
    string RowKeyAsText(string quotedKey);

    /// <summary>The select list of a violation listing: the rows, and a row key that <c>c.*</c> would leave out.</summary>
    string ListingColumns(TableSchema table);

    /// <summary>A statement that keeps the preflight's full-table scan on one core, or null.</summary>
    string? SingleCoreScanSetting { get; }

    /// <summary>Looks for an equivalent constraint and works out the engine's statements. Changes nothing.</summary>
    Task<ConstraintPlan> PlanConstraintAsync(DbOpsConnection connection, ReadOnlySession session, DatabaseSchema schema, ResolvedConstraint constraint,
        ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken);

    /// <summary>Runs a plan's statements; a failure undoes what ran and throws a DbOpsException.</summary>
    Task<ConstraintResult> ApplyConstraintAsync(WritableSession session, ConstraintPlan plan, ConstraintOptions options,
        IOperationObserver observer, CancellationToken cancellationToken);

    /// <summary>The statement that takes an added constraint off again, or null when the engine has none.</summary>
    string? ConstraintUndoSql(ConstraintPlan plan);

    /// <summary>True when the server refused a statement (as opposed to a lost connection or a client error).</summary>
    bool IsStatementError(Exception e);

    /// <summary>True when the server refused for lack of a privilege.</summary>
    bool IsPermissionDenied(Exception e);

    /// <summary>The server's message, without the driver's wrapping.</summary>
    string ServerMessage(Exception e);

    // Indexes

    /// <summary>"CREATE INDEX", with CONCURRENTLY where the engine can build without blocking writers.</summary>
    string CreateIndexCommand { get; }

    /// <summary>"DROP INDEX", with CONCURRENTLY where the engine can drop without blocking writers.</summary>
    string DropIndexCommand { get; }

    /// <summary>Refuses an index kind the engine cannot build (SQLite: anything but a B-tree without INCLUDE).</summary>
    void RequireIndexKind(TableSchema table, IndexMethod method, IReadOnlyList<string> include);

    /// <summary>What makes two stored index definitions the same index (see <see cref="IndexAdvisor"/>).</summary>
    string IndexComparisonKey(string definition);

    /// <summary>Asks the server whether it can build the index, changing nothing; returns the definition it would store.</summary>
    Task<string> ProbeIndexAsync(DbOpsConnection source, IndexDefinition index, CancellationToken cancellationToken);

    /// <summary>Removes what a failed or cancelled build left behind (PostgreSQL: an INVALID index), on a new connection.</summary>
    Task DropFailedBuildAsync(DbOpsConnection source, IndexChangePlan plan, IOperationObserver observer);

    /// <summary>Scans and size of every user index; empty when the engine records none.</summary>
    Task<IReadOnlyList<IndexScans>> ReadIndexScansAsync(DbConnection connection, CancellationToken cancellationToken);

    // Performance

    /// <summary>
    /// Whether the statement writes, asked on a read-only connection without running it; refuses text that holds
    /// more than one statement.
    /// </summary>
    Task<bool> ModifiesAsync(QueryMeasurementRequest request, CancellationToken cancellationToken);

    /// <summary>A read-only connection to time a statement on.</summary>
    Task<ReadOnlySession> OpenTimedReadOnlyAsync(DbOpsConnection connection, CancellationToken cancellationToken);

    /// <summary>A writable connection to time a statement on.</summary>
    Task<WritableSession> OpenTimedWritableAsync(DbOpsConnection connection, CancellationToken cancellationToken);

    /// <summary>Sets one of -Parameters on a command: by name, or by position ($1, $2 for keys "1", "2").</summary>
    void Bind(DbParameter parameter, string key, bool positional, object? value);

    /// <summary>The plan of the measured statement (PostgreSQL: one analysed run, always rolled back); names its step to <paramref name="progress"/>.</summary>
    Task<QueryPlanSummary> ExplainAsync(DbConnection connection, DbTransaction? transaction, QueryMeasurementRequest request, bool modifies,
        Action<string> progress, CancellationToken cancellationToken);

    /// <summary>What a failed measurement ran into, or null for an exception that is not the engine's.</summary>
    QueryError? QueryError(Exception e);

    /// <summary>Every statement the engine's statistics hold for the databases and roles asked for.</summary>
    Task<StatementStatistics> ReadStatementsAsync(SlowQueryRequest request, CancellationToken cancellationToken);
}

/// <summary>One index's scan counter and size.</summary>
internal sealed record IndexScans(string Schema, string Index, long Scans, long SizeBytes);

/// <summary>What a measured statement ran into.</summary>
internal enum QueryErrorKind { Other, WouldWrite, MissingParameters }

/// <summary>A failed measurement: the kind, the server's code (PostgreSQL's SQLSTATE, or empty) and its message.</summary>
internal sealed record QueryError(QueryErrorKind Kind, string Code, string Message);

/// <summary>The statements read from the engine's statistics, and when they were last reset (null when unknown).</summary>
internal sealed record StatementStatistics(IReadOnlyList<SlowQuery.Row> Rows, DateTimeOffset? Since);
