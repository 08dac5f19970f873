using System.Data.Common;
using System.Diagnostics;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Engines;

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
    int Iterations = 30, int Warmup = 3, bool AllowWrite = false, QueryBenchmark? Baseline = null)
{
    /// <summary>The operations journal to record a comparison with <see cref="Baseline"/> in; null for the default one.</summary>
    public string? JournalPath { get; init; }
}

/// <summary>
/// Measures a statement from the client: the stopwatch runs around executing the prepared statement and reading
/// every row, as an application sees it. The plan comes from one extra analysed run that is not timed.
/// Read-only by default: a statement that only reads runs on a read-only connection; one that writes runs in a
/// transaction with a savepoint rolled back after each execution, so every execution sees the same data and
/// nothing is kept, unless <see cref="QueryMeasurementRequest.AllowWrite"/>.
/// </summary>
public static class QueryMeasurement
{
    internal const string Savepoint = "dbops_measure";

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
        var dialect = DatabaseEngines.For(request.Connection).Tuning;
        try
        {
            var benchmark = await MeasureAsync(dialect, request, observer, activity, cancellationToken);
            RecordComparison(request, benchmark, observer);
            return benchmark;
        }
        catch (Exception e) when (e is DbException && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("Measure-QueryPerformance was stopped.", e, cancellationToken);
        }
        catch (Exception e) when (dialect.QueryError(e) is { } error)
        {
            throw MapError(error, request);
        }
    }

    /// <summary>
    /// A measurement against a baseline is the before/after proof of a tuning step, so it is journalled with its
    /// medians and speed-up (the query's text, never its parameter values). A lone measurement changes nothing and is not.
    /// </summary>
    private static void RecordComparison(QueryMeasurementRequest request, QueryBenchmark benchmark, IOperationObserver observer)
    {
        if (request.Baseline is not { } baseline)
        {
            return;
        }
        var figures = new Dictionary<string, double> { ["baselineMedianMs"] = baseline.MedianMs, ["medianMs"] = benchmark.MedianMs };
        if (benchmark.SpeedUp is { } speedUp)
        {
            figures["speedUp"] = Math.Round(speedUp, 2);
        }
        OperationsJournal.Record(request.JournalPath, JournalEntry.For(request.Connection, JournalOperations.QueryCompared) with
        {
            Target = request.Query.Trim(),
            Objects = benchmark.Plan.IndexesUsed.Count > 0 ? benchmark.Plan.IndexesUsed : null,
            Rows = benchmark.Rows,
            Figures = figures,
        }, observer);
    }

    private static async Task<QueryBenchmark> MeasureAsync(
        ITuningDialect dialect, QueryMeasurementRequest request, IOperationObserver observer, string activity, CancellationToken cancellationToken)
    {
        var modifies = await dialect.ModifiesAsync(request, cancellationToken);
        var mode = !modifies ? QueryExecutionMode.ReadOnly : request.AllowWrite ? QueryExecutionMode.Committed : QueryExecutionMode.RolledBack;
        observer.Verbose($"{(modifies ? "The statement modifies data" : "The statement only reads")}; it runs {Describe(mode)}.");

        await using var readOnly = mode == QueryExecutionMode.ReadOnly ? await dialect.OpenTimedReadOnlyAsync(request.Connection, cancellationToken) : null;
        await using var writable = readOnly is null ? await dialect.OpenTimedWritableAsync(request.Connection, cancellationToken) : null;
        var connection = readOnly?.Connection ?? writable!.Connection;
        await using var transaction = mode == QueryExecutionMode.RolledBack ? connection.BeginTransaction() : null;
        var (samples, rows) = Time(dialect, connection, transaction, request, observer, activity, cancellationToken);

        var plan = await dialect.ExplainAsync(connection, transaction, request, modifies, step => observer.Progress(new OperationProgress(activity, step, 99)),
            cancellationToken);
        if (transaction is not null)
        {
            await transaction.RollbackAsync(cancellationToken);
        }
        return new QueryBenchmark(request.Connection, request.Query, request.Parameters, request.Warmup, samples, rows, mode, plan, request.Baseline);
    }

    internal static DbOpsException MoreThanOneStatement(string query) => new(ErrorIds.InvalidQuery, ErrorKind.InvalidArgument,
        "Measure-QueryPerformance measures one statement at a time; the query holds more than one (or none). Pass them separately.",
        Shorten(query));

    /// <summary>
    /// The timed loop. The statement is prepared once and re-executed (like <c>pgbench -M prepared</c>). Every call is
    /// synchronous, on a connection opened synchronously, so a round trip costs one thread wake-up as it does for
    /// libpq. A rolled-back write is wrapped in a savepoint per execution, outside the stopwatch.
    /// </summary>
    private static (List<double> Samples, long Rows) Time(
        ITuningDialect dialect, DbConnection connection, DbTransaction? transaction, QueryMeasurementRequest request,
        IOperationObserver observer, string activity, CancellationToken cancellationToken)
    {
        using var command = CreateCommand(dialect, connection, transaction, request.Query, request.Parameters);
        command.Prepare();
        using var savepoint = CreateCommand(dialect, connection, transaction, $"SAVEPOINT {Savepoint}", null);
        // Released too: a savepoint per execution would otherwise pile up (PostgreSQL slows down past 64 subtransactions).
        using var rollback = CreateCommand(dialect, connection, transaction, $"ROLLBACK TO SAVEPOINT {Savepoint}; RELEASE SAVEPOINT {Savepoint}", null);
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

    internal static DbCommand CreateCommand(
        ITuningDialect dialect, DbConnection connection, DbTransaction? transaction, string sql, IReadOnlyDictionary<string, object?>? parameters)
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
            dialect.Bind(parameter, name, positional, value);
            command.Parameters.Add(parameter);
        }
        return command;
    }

    private static string Describe(QueryExecutionMode mode) => mode switch
    {
        QueryExecutionMode.ReadOnly => "on a read-only connection",
        QueryExecutionMode.RolledBack => "in a transaction rolled back after every execution (-AllowWrite commits)",
        _ => "committing every execution (-AllowWrite)",
    };

    private static DbOpsException MapError(QueryError error, QueryMeasurementRequest request)
    {
        var query = Shorten(request.Query);
        return error.Kind switch
        {
            QueryErrorKind.WouldWrite => new DbOpsException(ErrorIds.QueryWouldWrite, ErrorKind.PermissionDenied,
                $"The query '{query}' tried to write on the read-only connection it is measured on ({error.Message}). " +
                "Measure it with -AllowWrite if it may change data.", query),
            QueryErrorKind.MissingParameters when request.Parameters is null or { Count: 0 } => new DbOpsException(ErrorIds.QueryNeedsParameters, ErrorKind.InvalidArgument,
                $"The query '{query}' has parameter placeholders but no values were given ({error.Message}). " +
                "Pass them with -Parameters, e.g. @{ '1' = 42 } for $1 (pg_stat_statements shows constants as $1, $2, ...).", query),
            _ => new DbOpsException(ErrorIds.QueryFailed, ErrorKind.OperationFailed,
                $"The query '{query}' failed on {request.Connection}: {(error.Code.Length > 0 ? error.Code + ": " : "")}{error.Message}", query),
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
