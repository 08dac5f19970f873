using System.Data;
using System.Data.Common;
using System.Diagnostics;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbOps.Core.Performance;

/// <summary>What to measure and how.</summary>
/// <param name="Connection">The database.</param>
/// <param name="Query">One statement. Parameters are written @name (or $1, $2 on PostgreSQL with keys "1", "2").</param>
/// <param name="Parameters">Values by name (without the @), or null.</param>
/// <param name="Iterations">Timed executions (at least 1).</param>
/// <param name="Warmup">Untimed executions first (caches, plan cache, connection).</param>
/// <param name="AllowWrite">Let a data-modifying statement commit; otherwise it is rolled back after every execution.</param>
/// <param name="Baseline">An earlier measurement to compute SpeedUp and PlanChanged against.</param>
public sealed record QueryMeasurementRequest(
    DbOpsConnection Connection, string Query, IReadOnlyDictionary<string, object?>? Parameters = null,
    int Iterations = 30, int Warmup = 3, bool AllowWrite = false, QueryBenchmark? Baseline = null);

/// <summary>
/// Measures a statement from the client: the stopwatch runs around executing the prepared statement and reading
/// every row, as an application sees it. The plan comes from one extra analysed run that is not timed.
/// Read-only by default: a statement that only reads runs on a read-only connection; one that writes runs in a
/// transaction with a savepoint rolled back after each execution, so every execution sees the same data and
/// nothing is kept, unless <see cref="QueryMeasurementRequest.AllowWrite"/>.
/// </summary>
public static class QueryMeasurement
{
    private const string Savepoint = "dbops_measure";

    /// <summary>Measures one statement.</summary>
    public static async Task<QueryBenchmark> MeasureAsync(QueryMeasurementRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Query))
        {
            throw new DbOpsException(ErrorIds.InvalidQuery, ErrorKind.InvalidArgument, "The query is empty. Pass one SQL statement to -Query.");
        }
        if (request.Iterations < 1 || request.Warmup < 0)
        {
            throw new DbOpsException(ErrorIds.InvalidQuery, ErrorKind.InvalidArgument, "-Iterations must be at least 1 and -Warmup at least 0.");
        }
        var activity = $"Measure-QueryPerformance {Shorten(request.Query)}";
        observer.Progress(new OperationProgress(activity, "Planning", -1));
        try
        {
            return request.Connection.Provider == DatabaseProvider.PostgreSQL
                ? await MeasurePostgresAsync(request, observer, activity, cancellationToken)
                : await MeasureSqliteAsync(request, observer, activity, cancellationToken);
        }
        catch (Exception e) when (e is DbException && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("Measure-QueryPerformance was stopped.", e, cancellationToken);
        }
        catch (PostgresException e)
        {
            throw MapError(e.SqlState, e.MessageText, request);
        }
        catch (NpgsqlException e)
        {
            throw MapError("", e.Message, request);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 8 /* SQLITE_READONLY */)
        {
            throw MapError("25006", e.Message, request);
        }
        catch (SqliteException e)
        {
            throw MapError("", e.Message, request);
        }
    }

    private static async Task<QueryBenchmark> MeasurePostgresAsync(
        QueryMeasurementRequest request, IOperationObserver observer, string activity, CancellationToken cancellationToken)
    {
        // Npgsql would send every statement of "a; COMMIT; b" and the server run them all, even on a read-only
        // connection (a COMMIT ends the read-only transaction): refuse before anything is sent.
        if (!PostgresStatementText.IsSingleStatement(request.Query))
        {
            throw MoreThanOneStatement(request.Query);
        }
        // Classify on a read-only connection: EXPLAIN without ANALYZE runs nothing.
        var provider = PostgresEngine.Instance;
        bool modifies;
        await using (var session = await provider.OpenReadOnlyAsync(request.Connection, cancellationToken))
        {
            var probe = session.Connection;
            await using var explain = CreateCommand(probe, null, "EXPLAIN (VERBOSE, FORMAT JSON) " + request.Query, request.Parameters);
            await using var reader = await explain.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            modifies = PostgresPlanReader.Modifies(reader.GetString(0));
            // Npgsql splits "a; b" into a batch: only the first would be explained, the rest timed unseen.
            if (await reader.NextResultAsync(cancellationToken))
            {
                throw MoreThanOneStatement(request.Query);
            }
        }
        var mode = !modifies ? QueryExecutionMode.ReadOnly : request.AllowWrite ? QueryExecutionMode.Committed : QueryExecutionMode.RolledBack;
        observer.Verbose($"{(modifies ? "The statement modifies data" : "The statement only reads")}; it runs {Describe(mode)}.");

        // Opened and timed synchronously: see PostgresEngine.OpenBlocking.
        await using var connection = provider.OpenBlocking(request.Connection, readOnly: mode == QueryExecutionMode.ReadOnly);
        await using var transaction = mode == QueryExecutionMode.RolledBack ? connection.BeginTransaction() : null;
        var (samples, rows) = Time(connection, transaction, request, observer, activity, cancellationToken);

        // One analysed run for the plan. A write's run is always rolled back: it is not one of the executions asked for.
        observer.Progress(new OperationProgress(activity, "EXPLAIN ANALYZE", 99));
        await using var planTransaction = transaction is null && modifies ? await connection.BeginTransactionAsync(cancellationToken) : null;
        var scope = transaction ?? planTransaction;
        if (transaction is not null)
        {
            await ExecuteAsync(connection, transaction, $"SAVEPOINT {Savepoint}", cancellationToken);
        }
        await using var analyse = CreateCommand(connection, scope, "EXPLAIN (ANALYZE, BUFFERS, VERBOSE, FORMAT JSON) " + request.Query, request.Parameters);
        var json = (string)(await analyse.ExecuteScalarAsync(cancellationToken))!;
        var plan = await PostgresPlanReader.SummariseAsync(json, connection, scope, cancellationToken);
        if (scope is not null)
        {
            await scope.RollbackAsync(cancellationToken);
        }
        return new QueryBenchmark(request.Connection, request.Query, request.Parameters, request.Warmup, samples, rows, mode, plan, request.Baseline);
    }

    private static async Task<QueryBenchmark> MeasureSqliteAsync(
        QueryMeasurementRequest request, IOperationObserver observer, string activity, CancellationToken cancellationToken)
    {
        var modifies = await SqliteModifiesAsync(request.Connection, request.Query, cancellationToken);
        var mode = !modifies ? QueryExecutionMode.ReadOnly : request.AllowWrite ? QueryExecutionMode.Committed : QueryExecutionMode.RolledBack;
        observer.Verbose($"{(modifies ? "The statement modifies data" : "The statement only reads")}; it runs {Describe(mode)}.");

        await using var connection = mode == QueryExecutionMode.ReadOnly
            ? (await SqliteEngine.Instance.OpenReadOnlyAsync(request.Connection, cancellationToken)).Connection
            : (await SqliteEngine.Instance.OpenWritableAsync(request.Connection, cancellationToken)).Connection;
        await using var transaction = mode == QueryExecutionMode.RolledBack ? connection.BeginTransaction() : null;
        var (samples, rows) = Time(connection, transaction, request, observer, activity, cancellationToken);

        observer.Progress(new OperationProgress(activity, "EXPLAIN QUERY PLAN", 99));
        await using var explain = CreateCommand(connection, transaction, "EXPLAIN QUERY PLAN " + request.Query, request.Parameters);
        var planRows = new List<SqlitePlanReader.Row>();
        await using (var reader = await explain.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                planRows.Add(new SqlitePlanReader.Row(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(3)));
            }
        }
        var plan = await SqlitePlanReader.SummariseAsync(planRows, request.Query, connection, cancellationToken);
        if (transaction is not null)
        {
            await transaction.RollbackAsync(cancellationToken);
        }
        return new QueryBenchmark(request.Connection, request.Query, request.Parameters, request.Warmup, samples, rows, mode, plan, request.Baseline);
    }

    /// <summary>
    /// SQLite's own answer (sqlite3_stmt_readonly) on a read-only connection; one statement only, because
    /// a second one would run unmeasured and unclassified.
    /// </summary>
    private static async Task<bool> SqliteModifiesAsync(DbOpsConnection source, string query, CancellationToken cancellationToken)
    {
        await using var session = await SqliteEngine.Instance.OpenReadOnlyAsync(source, cancellationToken);
        var connection = (SqliteConnection)session.Connection;
        var rc = SQLitePCL.raw.sqlite3_prepare_v2(connection.Handle, query, out var statement, out var tail);
        using (statement)
        {
            if (rc != SQLitePCL.raw.SQLITE_OK)
            {
                throw new SqliteException(SQLitePCL.raw.sqlite3_errmsg(connection.Handle).utf8_to_string(), rc);
            }
            if (statement.IsInvalid || HasAnotherStatement(connection, tail))
            {
                throw MoreThanOneStatement(query);
            }
            return SQLitePCL.raw.sqlite3_stmt_readonly(statement) == 0;
        }
    }

    /// <summary>True when the text after the first statement holds another one (not just blanks, semicolons or comments).</summary>
    private static bool HasAnotherStatement(SqliteConnection connection, string tail)
    {
        while (!string.IsNullOrWhiteSpace(tail))
        {
            if (SQLitePCL.raw.sqlite3_prepare_v2(connection.Handle, tail, out var next, out var rest) != SQLitePCL.raw.SQLITE_OK)
            {
                return true;
            }
            using (next)
            {
                if (!next.IsInvalid)
                {
                    return true;
                }
            }
            if (rest.Length >= tail.Length)
            {
                return false;
            }
            tail = rest;
        }
        return false;
    }

    private static DbOpsException MoreThanOneStatement(string query) => new(ErrorIds.InvalidQuery, ErrorKind.InvalidArgument,
        "Measure-QueryPerformance measures one statement at a time; the query holds more than one (or none). Pass them separately.",
        Shorten(query));

    /// <summary>
    /// The timed loop. The statement is prepared once and re-executed (like <c>pgbench -M prepared</c>). Every call is
    /// synchronous, on a connection opened synchronously, so a round trip costs one thread wake-up as it does for
    /// libpq. A rolled-back write is wrapped in a savepoint per execution, outside the stopwatch.
    /// </summary>
    private static (List<double> Samples, long Rows) Time(
        DbConnection connection, DbTransaction? transaction, QueryMeasurementRequest request,
        IOperationObserver observer, string activity, CancellationToken cancellationToken)
    {
        using var command = CreateCommand(connection, transaction, request.Query, request.Parameters);
        command.Prepare();
        using var savepoint = CreateCommand(connection, transaction, $"SAVEPOINT {Savepoint}", null);
        // Released too: a savepoint per execution would otherwise pile up (PostgreSQL slows down past 64 subtransactions).
        using var rollback = CreateCommand(connection, transaction, $"ROLLBACK TO SAVEPOINT {Savepoint}; RELEASE SAVEPOINT {Savepoint}", null);
        using var cancel = cancellationToken.Register(() => TryCancel(command));
        var samples = new List<double>(request.Iterations);
        long rows = 0;
        var total = request.Warmup + request.Iterations;
        var lastReport = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (transaction is not null)
            {
                savepoint.ExecuteNonQuery();
            }
            var start = Stopwatch.GetTimestamp();
            rows = ExecuteAndRead(command);
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (transaction is not null)
            {
                rollback.ExecuteNonQuery();
            }
            if (i >= request.Warmup)
            {
                samples.Add(elapsed.TotalMilliseconds);
            }
            if (Stopwatch.GetElapsedTime(lastReport).TotalMilliseconds > 250)
            {
                lastReport = Stopwatch.GetTimestamp();
                observer.Progress(new OperationProgress(activity, i < request.Warmup ? "Warming up" : $"Iteration {i - request.Warmup + 1} of {request.Iterations}",
                    (int)(100L * (i + 1) / total)));
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        return (samples, rows);
    }

    private static long ExecuteAndRead(DbCommand command)
    {
        using var reader = command.ExecuteReader();
        long rows = 0;
        var returnsRows = false;
        do
        {
            returnsRows |= reader.FieldCount > 0;
            while (reader.Read())
            {
                rows++;
            }
        }
        while (reader.NextResult());
        return returnsRows ? rows : Math.Max(0, reader.RecordsAffected);
    }

    private static void TryCancel(DbCommand command)
    {
        try
        {
            command.Cancel();
        }
        catch (Exception e) when (e is DbException or InvalidOperationException)
        {
            // Nothing running to cancel.
        }
    }

    internal static DbCommand CreateCommand(DbConnection connection, DbTransaction? transaction, string sql, IReadOnlyDictionary<string, object?>? parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.CommandTimeout = 0;
        var values = parameters ?? new Dictionary<string, object?>();
        // Keys "1", "2", ... are positional ($1, $2: what pg_stat_statements shows); others are names.
        var positional = values.Count > 0 && values.Keys.All(k => int.TryParse(k, out _));
        foreach (var (name, value) in positional ? values.OrderBy(p => int.Parse(p.Key, System.Globalization.CultureInfo.InvariantCulture)) : values.AsEnumerable())
        {
            var parameter = command.CreateParameter();
            if (!positional || connection is SqliteConnection)
            {
                parameter.ParameterName = positional ? "$" + name : name.TrimStart('@');
            }
            parameter.Value = value ?? DBNull.Value;
            if (parameter is NpgsqlParameter npgsql && value is string)
            {
                // Text from a script ('2024-01-31', '42') takes the type the statement gives it, as a literal would,
                // instead of failing with "operator does not exist: date > text".
                npgsql.NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Unknown;
            }
            command.Parameters.Add(parameter);
        }
        return command;
    }

    private static Task ExecuteAsync(DbConnection connection, DbTransaction transaction, string sql, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, cancellationToken: cancellationToken));

    private static string Describe(QueryExecutionMode mode) => mode switch
    {
        QueryExecutionMode.ReadOnly => "on a read-only connection",
        QueryExecutionMode.RolledBack => "in a transaction rolled back after every execution (-AllowWrite commits)",
        _ => "committing every execution (-AllowWrite)",
    };

    private static DbOpsException MapError(string sqlState, string message, QueryMeasurementRequest request)
    {
        var query = Shorten(request.Query);
        return sqlState switch
        {
            "25006" => new DbOpsException(ErrorIds.QueryWouldWrite, ErrorKind.PermissionDenied,
                $"The query '{query}' tried to write on the read-only connection it is measured on ({message}). " +
                "Measure it with -AllowWrite if it may change data.", query),
            "42P02" or "08P01" when request.Parameters is null or { Count: 0 } => new DbOpsException(ErrorIds.QueryNeedsParameters, ErrorKind.InvalidArgument,
                $"The query '{query}' has parameter placeholders but no values were given ({message}). " +
                "Pass them with -Parameters, e.g. @{ '1' = 42 } for $1 (pg_stat_statements shows constants as $1, $2, ...).", query),
            _ => new DbOpsException(ErrorIds.QueryFailed, ErrorKind.OperationFailed,
                $"The query '{query}' failed on {request.Connection}: {(sqlState.Length > 0 ? sqlState + ": " : "")}{message}", query),
        };
    }

    /// <summary>
    /// The baseline for <paramref name="query"/>: the only one given, or the one measured with the same text
    /// (whitespace aside), so a whole set of "before" results can be passed as -Baseline; null when none matches.
    /// </summary>
    public static QueryBenchmark? SelectBaseline(IReadOnlyList<QueryBenchmark> baselines, string query)
    {
        if (baselines.Count == 1)
        {
            return baselines[0];
        }
        var key = Normalise(query);
        return baselines.FirstOrDefault(b => Normalise(b.Query) == key);
    }

    private static string Normalise(string query) =>
        string.Join(' ', query.Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries)).TrimEnd(';');

    internal static string Shorten(string query)
    {
        var oneLine = Normalise(query);
        return oneLine.Length <= 80 ? oneLine : oneLine[..77] + "...";
    }
}
