using System.Diagnostics;
using System.Globalization;
using DbOps.Core.Connections;
using DbOps.Core.Integrity;
using DbOps.Core.Progress;
using DbOps.Testing;
using Npgsql;

namespace DbOps.Bench;

/// <summary>
/// Test-DataIntegrity (IntegrityService) against the equivalent hand-written count queries, on a PostgreSQL child of
/// ~5 million rows and a parent of ~200 thousand, timed alternately in one run; then DbOps's peak memory in a fresh
/// process at one tenth and at full size. Run: dotnet run -c Release --project bench/DbOps.Bench -- integrity [--child-rows N] [--runs K]
/// </summary>
internal static class IntegrityBench
{
    private const string ConnectionVariable = "DBOPS_BENCH_INTEGRITY_CONNECTION";

    /// <summary>The hand-written checks a person would run, one per DbOps check, each returning the number DbOps reports.</summary>
    private static readonly (string Name, string Sql)[] HandWritten =
    [
        ("orphans", "SELECT count(*) FROM orders o WHERE o.customer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)"),
        ("nulls", "SELECT count(*) FROM orders WHERE status IS NULL"),
        ("duplicates", "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM orders WHERE reference IS NOT NULL GROUP BY reference HAVING count(*) > 1) d"),
        ("condition", "SELECT count(*) FROM orders WHERE NOT (total >= 0)"),
    ];

    public static async Task<int> MainAsync(string[] args)
    {
        if (args is ["--measure-memory"])
        {
            var db = await DatabaseConnector.ConnectPostgresAsync(Environment.GetEnvironmentVariable(ConnectionVariable)!, null, null, default);
            await IntegrityService.RunAsync(Request(db), NullObserver.Instance, default);
            using var me = Process.GetCurrentProcess();
            Console.WriteLine(me.PeakWorkingSet64.ToString(CultureInfo.InvariantCulture));
            return 0;
        }
        long childRows = 5_000_000;
        var runs = 3;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            (childRows, runs) = args[i] switch
            {
                "--child-rows" => (long.Parse(args[i + 1], CultureInfo.InvariantCulture), runs),
                "--runs" => (childRows, int.Parse(args[i + 1], CultureInfo.InvariantCulture)),
                _ => throw new ArgumentException($"Unknown option {args[i]}; use --child-rows N, --runs K."),
            };
        }

        if (BenchCluster.TryStart() is not { } cluster)
        {
            return 1;
        }
        using (cluster)
        {
            var version = cluster.Scalar<string>("postgres", "SHOW server_version");
            Console.WriteLine($"DbOps.Bench integrity on {Environment.ProcessorCount} cores, PostgreSQL {version}, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
            var clock = Stopwatch.StartNew();
            var large = Load(cluster, childRows);
            var small = Load(cluster, childRows / 10);
            Console.WriteLine($"  loaded {childRows:N0} orders / {childRows / 25:N0} customers and a one-tenth copy in {clock.Elapsed.TotalSeconds:F0} s; " +
                              $"database {Program.Mb(cluster.Scalar<long>(large, "SELECT pg_database_size(current_database())"))} MB");

            var connection = cluster.ConnectionString(large);
            var db = await DatabaseConnector.ConnectPostgresAsync(connection, null, null, default);
            var peer = new List<double>();
            var ours = new List<double>();
            var perCheck = new Dictionary<string, List<double>>();
            for (var round = 0; round <= runs; round++)
            {
                var (peerSeconds, expected) = await RunHandWrittenAsync(connection, perCheck, round > 0);
                var watch = Stopwatch.StartNew();
                var report = await IntegrityService.RunAsync(Request(db), NullObserver.Instance, default);
                var oursSeconds = watch.Elapsed.TotalSeconds;
                var found = report.Findings.Select(f => f.Count).Order().ToList();
                if (!found.SequenceEqual(expected.Order()) || report.CouldNotRunCount > 0)
                {
                    throw new InvalidOperationException($"DbOps found [{string.Join(", ", found)}], the hand-written checks [{string.Join(", ", expected)}].");
                }
                Console.WriteLine($"  {(round == 0 ? "warm-up" : $"run {round}/{runs}"),-9} hand-written {peerSeconds,6:F2} s   Test-DataIntegrity {oursSeconds,6:F2} s" +
                                  $"   ({string.Join(", ", report.Checks.Select(c => $"{c.Check} {c.Duration.TotalSeconds:F2}"))})");
                if (round > 0)
                {
                    peer.Add(peerSeconds);
                    ours.Add(oursSeconds);
                }
            }

            Console.WriteLine("  peak memory: one Test-DataIntegrity run of each size in a fresh process...");
            var smallPeak = await MeasureMemoryAsync(cluster.ConnectionString(small));
            var largePeak = await MeasureMemoryAsync(connection);

            var ratio = Program.Median(ours) / Program.Median(peer);
            Console.WriteLine();
            Console.WriteLine($"== Test-DataIntegrity vs the same checks hand-written: {childRows:N0} orders, {childRows / 25:N0} customers; {runs} timed runs, alternating ==");
            Console.WriteLine($"  hand-written (sum of {HandWritten.Length}) {Program.Median(peer),7:F2} s   {string.Join(" ", peer.Select(s => s.ToString("F2")))}");
            foreach (var (name, _) in HandWritten)
            {
                Console.WriteLine($"    {name,-26} {Program.Median(perCheck[name]),7:F2} s");
            }
            Console.WriteLine($"  Test-DataIntegrity           {Program.Median(ours),7:F2} s   {string.Join(" ", ours.Select(s => s.ToString("F2")))}");
            Console.WriteLine($"  ratio (median/median)        {ratio,7:F2} x   target <= 1.30x: {(ratio <= 1.3 ? "PASS" : "MISS")}" +
                              $"   (paired: {string.Join(" ", ours.Zip(peer, (o, p) => (o / p).ToString("F2")))})");
            Console.WriteLine($"  peak memory {childRows / 10,12:N0} orders  {Program.Mb(smallPeak),5} MB");
            Console.WriteLine($"  peak memory {childRows,12:N0} orders  {Program.Mb(largePeak),5} MB   growth {(double)largePeak / smallPeak:F2} x");
            return 0;
        }
    }

    /// <summary>What the benchmark asks of DbOps: Standard (the inferred orders.customer_id relationship) plus three stated rules.</summary>
    private static IntegrityRequest Request(DbOpsConnection db) => new(db)
    {
        RequiredColumns = [new ColumnSpec("orders", ["status"])],
        UniqueKeys = [new ColumnSpec("orders", ["reference"])],
        Conditions = [new ConditionSpec("orders", "total >= 0")],
    };

    private static async Task<(double Seconds, List<long> Counts)> RunHandWrittenAsync(string connectionString, Dictionary<string, List<double>> perCheck, bool record)
    {
        var total = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var counts = new List<long>();
        foreach (var (name, sql) in HandWritten)
        {
            var watch = Stopwatch.StartNew();
            await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
            var count = Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
            if (count > 0)
            {
                counts.Add(count);
            }
            if (record)
            {
                (perCheck.TryGetValue(name, out var list) ? list : perCheck[name] = []).Add(watch.Elapsed.TotalSeconds);
            }
        }
        return (total.Elapsed.TotalSeconds, counts);
    }

    private static async Task<long> MeasureMemoryAsync(string connectionString)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot tell which program is running.");
        List<string> arguments = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(Program).Assembly.Location] : [];
        var output = await Program.RunToolAsync(self, [.. arguments, "integrity", "--measure-memory"],
            new Dictionary<string, string> { [ConnectionVariable] = connectionString });
        return long.Parse(output.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// customers (1 per 25 orders) and orders, filled server-side; no foreign key is declared (a legacy schema: the
    /// relationship is inferred). Seeded: 1 order in 10,000 references a missing customer, 1 in 100,000 has no status,
    /// 1 in 50,000 repeats an earlier reference, 1 in 20,000 has a negative total.
    /// </summary>
    private static string Load(PostgresCluster cluster, long orders)
    {
        var db = cluster.CreateDatabase("integrity");
        var customers = Math.Max(1, orders / 25);
        string[] statements =
        [
            "CREATE TABLE customers (id integer NOT NULL, name text NOT NULL, region text NOT NULL, created_at timestamptz NOT NULL)",
            $"""
            INSERT INTO customers SELECT i, 'Customer ' || i, (ARRAY['eu', 'us', 'apac'])[1 + i % 3],
                   timestamptz '2020-01-01 00:00:00+00' + i * interval '37 seconds'
            FROM generate_series(1, {customers}) AS i
            """,
            """
            CREATE TABLE orders (id bigint NOT NULL, customer_id integer, reference text, status text, total numeric(12,2) NOT NULL,
                                 ordered_at timestamptz NOT NULL, note text)
            """,
            $"""
            INSERT INTO orders
            SELECT i,
                   CASE WHEN i % 10000 = 0 THEN {customers} + i ELSE 1 + (i::bigint * 7919) % {customers} END,
                   'R-' || CASE WHEN i % 50000 = 0 THEN i - 1 ELSE i END,
                   CASE WHEN i % 100000 = 0 THEN NULL ELSE (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + i % 4] END,
                   CASE WHEN i % 20000 = 0 THEN -1 ELSE round((random() * 500)::numeric, 2) END,
                   timestamptz '2021-01-01 00:00:00+00' + i * interval '11 seconds',
                   CASE WHEN i % 5 = 0 THEN 'gift note ' || md5(i::text) END
            FROM generate_series(1, {orders}) AS i
            """,
            "ALTER TABLE customers ADD PRIMARY KEY (id)",
            "ALTER TABLE orders ADD PRIMARY KEY (id)",
            "VACUUM (ANALYZE)",
        ];
        foreach (var sql in statements)
        {
            cluster.Execute(db, sql);
        }
        return db;
    }
}
