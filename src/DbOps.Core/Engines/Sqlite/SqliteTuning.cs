using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;
using DbOps.Core.Performance;
using DbOps.Core.Progress;
using DbOps.Core.Schema;
using DbOps.Core.Sql;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

/// <summary>
/// SQLite's constraint and index DDL (a table rebuild for every constraint, plain CREATE/DROP INDEX), its result
/// codes, EXPLAIN QUERY PLAN. The longer procedures live in <see cref="SqliteConstraints"/> and <see cref="SqliteQueries"/>.
/// </summary>
internal sealed class SqliteTuning : ITuningDialect
{
    public static readonly SqliteTuning Instance = new();

    // Constraints

    public bool HasEscapeQuoting => false;

    public bool QuotesNamesWithBrackets => true;

    public StringComparer IdentifierComparer => StringComparer.OrdinalIgnoreCase;


    public string RowKeyAsText(string quotedKey) => quotedKey;

    public string ListingColumns(TableSchema table) => "c.*";

    public string? SingleCoreScanSetting => null;

    public Task<ConstraintPlan> PlanConstraintAsync(DbOpsConnection connection, ReadOnlySession session, DatabaseSchema schema, ResolvedConstraint constraint,
        ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken) =>
        SqliteConstraints.PlanAsync(connection, session.Connection, schema, constraint, options, cancellationToken);

    public Task<ConstraintResult> ApplyConstraintAsync(WritableSession session, ConstraintPlan plan, ConstraintOptions options,
        IOperationObserver observer, CancellationToken cancellationToken) =>
        SqliteConstraints.ApplyAsync(session, plan, options, observer, cancellationToken);

    // SQLite has no DROP CONSTRAINT: the constraint went on by rebuilding the table, and only another rebuild (or the
    // backup taken before) takes it off.
    public string? ConstraintUndoSql(ConstraintPlan plan) => null;

    public bool IsStatementError(Exception e) => e is SqliteException;

    // SQLite has no privileges: a file it may open, it may read.
    public bool IsPermissionDenied(Exception e) => false;

    public string ServerMessage(Exception e) => SqliteConstraints.ServerMessage(e);

    // Indexes

    public string CreateIndexCommand => "CREATE INDEX";

    public string DropIndexCommand => "DROP INDEX";

    public void RequireIndexKind(TableSchema table, IndexMethod method, IReadOnlyList<string> include)
    {
        if (method != IndexMethod.BTree || include.Count > 0)
        {
            throw new DbOpsException(ErrorIds.IndexKindNotSupported, ErrorKind.InvalidArgument,
                $"SQLite builds B-tree indexes only, without INCLUDE columns; {table.Table} cannot have " +
                $"{(method != IndexMethod.BTree ? $"a {IndexDefinition.MethodName(method)} index" : "INCLUDE columns")}. Leave out -Using and -Include " +
                "(SQLite does support expressions and -Where).", table.Table);
        }
    }

    // The text from the key list on (keys with COLLATE and order, WHERE), in the lexer's loose form: the stored SQL
    // keeps the user's quoting and spacing.
    public string IndexComparisonKey(string definition)
    {
        var tokens = SqlText.Tokens(definition).ToList();
        var on = tokens.FindIndex(t => t.Kind == SqlText.TokenKind.Word && definition.Substring(t.Start, t.Length).Equals("ON", StringComparison.OrdinalIgnoreCase));
        var open = on < 0 ? -1 : tokens.FindIndex(on, t => t.Kind == SqlText.TokenKind.Symbol && definition[t.Start] == '(');
        return SqlText.Loose(open < 0 ? definition : definition[tokens[open].Start..]);
    }

    // EXPLAIN compiles the statement on a read-only connection without running it.
    public async Task<string> ProbeIndexAsync(DbOpsConnection source, IndexDefinition index, CancellationToken cancellationToken)
    {
        var sql = index.CreateSql(SqliteEngine.Instance, "dbops_index_probe");
        await using var session = await SqliteEngine.Instance.OpenReadOnlyAsync(source, cancellationToken);
        try
        {
            await session.Connection.ExecuteAsync(new CommandDefinition("EXPLAIN " + sql, cancellationToken: cancellationToken));
        }
        catch (SqliteException e)
        {
            throw index.Refused(ErrorIds.InvalidIndexExpression, e.Message);
        }
        return sql;
    }

    // A failed CREATE INDEX leaves nothing behind.
    public Task DropFailedBuildAsync(DbOpsConnection source, IndexChangePlan plan, IOperationObserver observer) => Task.CompletedTask;

    public Task<IReadOnlyList<IndexScans>> ReadIndexScansAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<IndexScans>>([]);

    // Performance

    public Task<bool> ModifiesAsync(QueryMeasurementRequest request, CancellationToken cancellationToken) =>
        SqliteQueries.ModifiesAsync(request, cancellationToken);

    public Task<ReadOnlySession> OpenTimedReadOnlyAsync(DbOpsConnection connection, CancellationToken cancellationToken) =>
        SqliteEngine.Instance.OpenReadOnlyAsync(connection, cancellationToken);

    public Task<WritableSession> OpenTimedWritableAsync(DbOpsConnection connection, CancellationToken cancellationToken) =>
        SqliteEngine.Instance.OpenWritableAsync(connection, cancellationToken);

    public void Bind(DbParameter parameter, string key, bool positional, object? value)
    {
        parameter.ParameterName = positional ? "$" + key : key.TrimStart('@');
        parameter.Value = value ?? DBNull.Value;
    }

    public Task<QueryPlanSummary> ExplainAsync(DbConnection connection, DbTransaction? transaction, QueryMeasurementRequest request, bool modifies,
        Action<string> progress, CancellationToken cancellationToken) =>
        SqliteQueries.ExplainQueryPlanAsync(connection, transaction, request, progress, cancellationToken);

    public QueryError? QueryError(Exception e) => e switch
    {
        SqliteException { SqliteErrorCode: SQLitePCL.raw.SQLITE_READONLY } sqlite => new(QueryErrorKind.WouldWrite, "", sqlite.Message),
        SqliteException sqlite => new(QueryErrorKind.Other, "", sqlite.Message),
        _ => null,
    };

    public Task<StatementStatistics> ReadStatementsAsync(SlowQueryRequest request, CancellationToken cancellationToken) =>
        throw new DbOpsException(ErrorIds.ProviderNotSupported, ErrorKind.InvalidArgument,
            $"Get-SlowQuery reads PostgreSQL's pg_stat_statements; {request.Connection} is SQLite, which records no statement statistics. " +
            "Measure candidate queries with Measure-QueryPerformance instead.", request.Connection.ToString());
}
