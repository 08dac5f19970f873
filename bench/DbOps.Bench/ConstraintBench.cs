using System.Diagnostics;
using System.Globalization;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Indexes;
using DbOps.Core.Progress;
using DbOps.Testing;
using Npgsql;

namespace DbOps.Bench;

/// <summary>
/// Add-SafeConstraint against the naive DDL on one large PostgreSQL table while a steady writer inserts and updates
/// rows: the writer's statement latencies while each constraint goes on are the figures (see docs/performance.md).
/// </summary>
internal static class ConstraintBench
{
    private const string Usage = "Usage: dotnet run -c Release --project bench/DbOps.Bench -- constraints [--rows N] [--rate STATEMENTS_PER_SECOND] [--only CHECK|NOTNULL|UNIQUE|FK|INDEX]";
    private const double TargetMs = 50;

    private sealed record Kind(string Title, ConstraintSpec Spec, string NaiveName, string Naive, string Undo);

    private sealed record Window(string Kind, string Way, double Seconds, int Statements, double P50, double P99, double Max, int Retries, string Worst = "");

    public static async Task<int> RunAsync(string[] args)
    {
        long rows = 5_000_000;
        var rate = 200;
        string? only = null;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--rows": rows = long.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--rate": rate = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--only": only = args[i + 1].ToUpperInvariant(); break;
                default: Console.Error.WriteLine(Usage); return 2;
            }
        }
        if (args.Length % 2 != 0 || rows < 1000 || rate is < 1 or > 1000)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        if (BenchCluster.TryStart() is not { } cluster)
        {
            return 1;
        }
        using (cluster)
        {
            Console.WriteLine($"DbOps.Bench constraints on {Environment.ProcessorCount} cores, PostgreSQL {cluster.Scalar<string>("postgres", "SHOW server_version")}, " +
                              $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
            var clock = Stopwatch.StartNew();
            var database = Load(cluster, rows);
            Console.WriteLine($"  loaded {rows:N0} rows into events ({Program.Mb(cluster.Scalar<long>(database, "SELECT pg_total_relation_size('events')"))} MB with its primary key) " +
                              $"in {clock.Elapsed.TotalSeconds:F0} s; writer: {rate} statements/s (insert, update alternately), one connection");
            var connectionString = cluster.ConnectionString(database);
            var connection = await DatabaseConnector.ConnectPostgresAsync(connectionString, null, null, default);

            Kind[] kinds =
            [
                new("CHECK", ConstraintSpec.Check("events", "deadline >= created_at", "events_deadline_check"), "ALTER TABLE ADD CONSTRAINT CHECK",
                    "ALTER TABLE events ADD CONSTRAINT events_deadline_check CHECK (deadline >= created_at)",
                    "ALTER TABLE events DROP CONSTRAINT events_deadline_check"),
                new("NOT NULL", ConstraintSpec.NotNull("events", "code"), "ALTER TABLE ALTER COLUMN SET NOT NULL",
                    "ALTER TABLE events ALTER COLUMN code SET NOT NULL",
                    "ALTER TABLE events ALTER COLUMN code DROP NOT NULL"),
                new("UNIQUE", ConstraintSpec.Unique("events", ["code"], "events_code_key"), "CREATE UNIQUE INDEX",
                    "CREATE UNIQUE INDEX events_code_key ON events (code)",
                    "ALTER TABLE events DROP CONSTRAINT IF EXISTS events_code_key; DROP INDEX IF EXISTS events_code_key"),
                new("FOREIGN KEY", ConstraintSpec.ForeignKey("events", ["account_id"], "accounts", ["id"], "events_account_id_fkey"), "ALTER TABLE ADD FOREIGN KEY",
                    "ALTER TABLE events ADD CONSTRAINT events_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id)",
                    "ALTER TABLE events DROP CONSTRAINT events_account_id_fkey"),
            ];

            await using var writer = new Writer(connectionString, rows, rate);
            await writer.StartAsync();
            await Task.Delay(2000);
            var idle = writer.Measure(() => Task.Delay(3000));
            var windows = new List<Window> { Summarize("(none)", "writer alone, 3 s", await idle, 0) };
            // The application also writes the parent table: 400 ms transactions on accounts, 150 ms apart. A foreign key's
            // ADD ... NOT VALID locks events, then waits for accounts; meanwhile every writer of events queues behind it.
            await using var parentWriter = new ParentWriter(connectionString);
            bool Runs(string title) => only is null || only == title.Replace(" ", "") || (only == "FK" && title == "FOREIGN KEY");
            foreach (var kind in kinds.Where(k => Runs(k.Title)))
            {
                if (kind.Title == "FOREIGN KEY")
                {
                    parentWriter.Start();
                    await Task.Delay(1000);
                    // Before: each try of the locking statement waited up to the whole lock_timeout (2 s).
                    var before = await writer.Measure(async () =>
                    {
                        var result = await ConstraintService.AddAsync(connection, kind.Spec,
                            ConstraintOptions.Default with { BlockingTryTimeout = ConstraintOptions.Default.LockTimeout }, NullObserver.Instance, default);
                        if (result.Status != ConstraintStatus.Added)
                        {
                            throw new InvalidOperationException($"{kind.Title}: {result.Status}");
                        }
                    });
                    windows.Add(Summarize(kind.Title, "Add-SafeConstraint, 2 s tries (before)", before, 0));
                    await ExecuteAsync(connectionString, kind.Undo);
                    await Task.Delay(1000);
                }
                // Naive first, undone, then DbOps: both scan a table that is already in the cache.
                windows.Add(Summarize(kind.Title, "naive " + kind.NaiveName, await writer.Measure(() => ExecuteAsync(connectionString, kind.Naive)), 0));
                await ExecuteAsync(connectionString, kind.Undo);
                await Task.Delay(1000);
                var retries = 0;
                var steps = new StepClock();
                var measured = await writer.Measure(async () =>
                {
                    steps.Restart();
                    var result = await ConstraintService.AddAsync(connection, kind.Spec, ConstraintOptions.Default, steps, default);
                    if (result.Status != ConstraintStatus.Added)
                    {
                        throw new InvalidOperationException($"{kind.Title}: {result.Status}");
                    }
                    retries = result.LockWaitRetries;
                });
                windows.Add(Summarize(kind.Title, "Add-SafeConstraint", measured, retries) with { Worst = $"max at +{measured.WorstAt:F2} s, during: {steps.At(measured.WorstAt)}" });
                if (kind.Title == "FOREIGN KEY")
                {
                    await parentWriter.StopAsync();
                }
                Console.WriteLine($"  {kind.Title}: {steps}");
                await ExecuteAsync(connectionString, kind.Undo);
                await Task.Delay(1000);
            }
            // Add-SafeIndex beside the naive CREATE INDEX, on the same table and writer.
            if (!Runs("INDEX"))
            {
                await writer.StopAsync();
                return Report(windows, rows, rate);
            }
            const string naiveIndex = "CREATE INDEX events_created_at_ix ON events (created_at)";
            const string undoIndex = "DROP INDEX IF EXISTS events_created_at_ix";
            windows.Add(Summarize("INDEX", "naive CREATE INDEX", await writer.Measure(() => ExecuteAsync(connectionString, naiveIndex)), 0));
            await ExecuteAsync(connectionString, undoIndex);
            await Task.Delay(1000);
            var indexSteps = new StepClock();
            var indexed = await writer.Measure(async () =>
            {
                indexSteps.Restart();
                var plan = await IndexMaintenance.PlanAddAsync(new AddIndexRequest(connection, "events", ["created_at"], "events_created_at_ix"), default);
                await IndexMaintenance.ApplyAsync(plan, indexSteps, default);
            });
            windows.Add(Summarize("INDEX", "Add-SafeIndex", indexed, 0) with { Worst = $"max at +{indexed.WorstAt:F2} s, during: {indexSteps.At(indexed.WorstAt)}" });
            await ExecuteAsync(connectionString, undoIndex);
            await writer.StopAsync();

            return Report(windows, rows, rate);
        }
    }

    private static int Report(List<Window> windows, long rows, int rate)
    {
        Console.WriteLine();
        Console.WriteLine($"== Writer latency while a constraint goes on: {rows:N0}-row table, {rate} writes/s; target: max < {TargetMs:F0} ms with DbOps ==");
        Console.WriteLine($"  {"kind",-12} {"way",-44} {"op (s)",7} {"writes",7} {"p50 ms",8} {"p99 ms",8} {"max ms",9} {"retries",8}");
        foreach (var w in windows)
        {
            var verdict = w.Way is "Add-SafeConstraint" or "Add-SafeIndex" ? (w.Max < TargetMs ? "  PASS" : "  MISS") : "";
            Console.WriteLine($"  {w.Kind,-12} {w.Way,-44} {w.Seconds,7:F2} {w.Statements,7} {w.P50,8:F1} {w.P99,8:F1} {w.Max,9:F1} {w.Retries,8}{verdict}");
            if (w.Worst.Length > 0)
            {
                Console.WriteLine($"  {"",-12}   {w.Worst}");
            }
        }
        return 0;
    }

    private static Window Summarize(string kind, string way, (double Seconds, List<double> Latencies, double WorstAt) measured, int retries)
    {
        var sorted = measured.Latencies.Order().ToList();
        double Percentile(double p) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
        return new Window(kind, way, measured.Seconds, sorted.Count, Percentile(0.5), Percentile(0.99), sorted.Count == 0 ? double.NaN : sorted[^1], retries);
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// accounts (1/50 of the rows) and events, whose rows satisfy every constraint the benchmark adds, so each one
    /// scans the whole table and succeeds. The primary key is added after loading; VACUUM sets hint bits up front.
    /// </summary>
    private static string Load(PostgresCluster cluster, long rows)
    {
        var db = cluster.CreateDatabase("cbench");
        var accounts = Math.Max(10, rows / 50);
        foreach (var sql in new[]
        {
            $"CREATE TABLE accounts (id integer PRIMARY KEY, name text NOT NULL)",
            $"INSERT INTO accounts SELECT i, 'account ' || i FROM generate_series(1, {accounts}) AS i",
            """
            CREATE TABLE events (id bigint NOT NULL, account_id integer, created_at timestamptz NOT NULL,
                                 deadline timestamptz, code text, amount numeric(12,2), note text)
            """,
            $"""
            INSERT INTO events
            SELECT i, 1 + (i::bigint * 7919) % {accounts}, timestamptz '2022-01-01 00:00:00+00' + i * interval '7 seconds',
                   timestamptz '2022-01-01 00:00:00+00' + i * interval '7 seconds' + interval '30 days', 'E' || i,
                   round((random() * 1000)::numeric, 2), CASE WHEN i % 3 = 0 THEN md5(i::text) END
            FROM generate_series(1, {rows}) AS i
            """,
            "ALTER TABLE events ADD PRIMARY KEY (id)",
            "VACUUM (ANALYZE) events",
            "VACUUM (ANALYZE) accounts",
        })
        {
            cluster.Execute(db, sql);
        }
        return db;
    }

    /// <summary>
    /// One connection writing at a steady rate, alternating a single-row INSERT and an UPDATE of a random existing row,
    /// each in its own transaction; every statement's latency is kept with the time it started.
    /// </summary>
    private sealed class Writer(string connectionString, long rows, int rate) : IAsyncDisposable
    {
        private readonly List<(long Start, double Ms)> _samples = [];
        private readonly CancellationTokenSource _stop = new();
        private Task? _loop;

        public async Task StartAsync()
        {
            var db = new NpgsqlConnection(connectionString);
            await db.OpenAsync();
            _loop = Task.Run(() => LoopAsync(db));
        }

        /// <summary>Runs <paramref name="operation"/> and returns its duration and the latencies of the writes that overlapped it.</summary>
        /// <summary>
        /// Runs <paramref name="operation"/> and returns its duration, the latencies of the writes that overlapped it,
        /// and when (seconds after the start) the slowest of them began.
        /// </summary>
        public async Task<(double Seconds, List<double> Latencies, double WorstAt)> Measure(Func<Task> operation)
        {
            var start = Stopwatch.GetTimestamp();
            await operation();
            var end = Stopwatch.GetTimestamp();
            // A write blocked by the operation finishes just after it: wait for the writer to catch up.
            await Task.Delay(200);
            lock (_samples)
            {
                var overlapping = _samples.Where(s => s.Start + (long)(s.Ms * Stopwatch.Frequency / 1000) >= start && s.Start <= end).ToList();
                var worst = overlapping.Count == 0 ? default : overlapping.MaxBy(s => s.Ms);
                return (Stopwatch.GetElapsedTime(start, end).TotalSeconds, overlapping.Select(s => s.Ms).ToList(),
                        (worst.Start - start) / (double)Stopwatch.Frequency);
            }
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            if (_loop is not null)
            {
                await _loop;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
        }

        private async Task LoopAsync(NpgsqlConnection db)
        {
            await using (db)
            {
                await using var insert = new NpgsqlCommand(
                    "INSERT INTO events VALUES (@id, @account, now(), now() + interval '1 day', 'W' || @id, 1.00, NULL)", db);
                var id = new NpgsqlParameter<long>("id", 0L);
                insert.Parameters.Add(id);
                var account = new NpgsqlParameter<int>("account", 1);
                insert.Parameters.Add(account);
                await using var update = new NpgsqlCommand("UPDATE events SET amount = amount + 1 WHERE id = @id", db);
                var target = new NpgsqlParameter<long>("id", 0L);
                update.Parameters.Add(target);
                var random = new Random(42);
                var next = rows + 1;
                var interval = TimeSpan.FromSeconds(1.0 / rate);
                var due = Stopwatch.GetTimestamp();
                for (var n = 0; !_stop.IsCancellationRequested; n++)
                {
                    var started = Stopwatch.GetTimestamp();
                    if (n % 2 == 0)
                    {
                        id.TypedValue = next++;
                        account.TypedValue = 1 + random.Next(0, (int)Math.Max(10, rows / 50));
                        await insert.ExecuteNonQueryAsync();
                    }
                    else
                    {
                        target.TypedValue = 1 + random.NextInt64(0, rows);
                        await update.ExecuteNonQueryAsync();
                    }
                    var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    lock (_samples)
                    {
                        _samples.Add((started, ms));
                    }
                    // A steady rate: a blocked write does not make the writer catch up in a burst afterwards.
                    due = Math.Max(due + (long)(interval.TotalSeconds * Stopwatch.Frequency), Stopwatch.GetTimestamp());
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait);
                    }
                }
            }
        }
    }

    /// <summary>Notes when each step of Add-SafeConstraint started (its progress reports), to tell which step a slow write overlapped.</summary>
    /// <summary>Writes the parent table in transactions of 400 ms, 150 ms apart, on its own connection.</summary>
    private sealed class ParentWriter(string connectionString) : IAsyncDisposable
    {
        private CancellationTokenSource? _stop;
        private Task? _loop;

        public void Start()
        {
            _stop = new CancellationTokenSource();
            var token = _stop.Token;
            _loop = Task.Run(async () =>
            {
                await using var db = new NpgsqlConnection(connectionString);
                await db.OpenAsync(token);
                while (!token.IsCancellationRequested)
                {
                    await using (var tx = new NpgsqlCommand("BEGIN; UPDATE accounts SET name = name WHERE id = 1; SELECT pg_sleep(0.4); COMMIT", db))
                    {
                        await tx.ExecuteNonQueryAsync(CancellationToken.None);
                    }
                    try { await Task.Delay(150, token); } catch (OperationCanceledException) { }
                }
            });
        }

        public async Task StopAsync()
        {
            if (_stop is not null && _loop is not null)
            {
                await _stop.CancelAsync();
                await _loop;
                (_stop, _loop) = (null, null);
            }
        }

        public async ValueTask DisposeAsync() => await StopAsync();
    }

    private sealed class StepClock : IOperationObserver
    {
        private readonly List<(double At, string Step)> _steps = [];
        private long _start = Stopwatch.GetTimestamp();

        public void Restart()
        {
            _start = Stopwatch.GetTimestamp();
            lock (_steps)
            {
                _steps.Clear();
            }
        }

        public string At(double seconds)
        {
            lock (_steps)
            {
                return _steps.LastOrDefault(s => s.At <= seconds).Step ?? "(before the first step)";
            }
        }

        public void Progress(OperationProgress progress)
        {
            lock (_steps)
            {
                _steps.Add((Stopwatch.GetElapsedTime(_start).TotalSeconds, progress.Status.Length > 60 ? progress.Status[..60] + "..." : progress.Status));
            }
        }

        public void Verbose(string message)
        {
        }

        public void Warning(string message)
        {
        }

        public override string ToString()
        {
            lock (_steps)
            {
                return string.Join(" | ", _steps.Select(s => $"+{s.At:F2} s {s.Step}"));
            }
        }
    }
}
