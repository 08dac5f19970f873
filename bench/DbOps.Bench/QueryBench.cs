using System.Globalization;
using System.Text.RegularExpressions;
using DbOps.Core.Connections;
using DbOps.Core.Performance;
using DbOps.Core.Progress;
using Npgsql;

namespace DbOps.Bench;

/// <summary>
/// Does Measure-QueryPerformance distort what it measures? A primary-key lookup timed by
/// <see cref="QueryMeasurement"/> (median) against pgbench's average latency for the same statement, both with a
/// prepared statement over TCP to the same throw-away cluster, alternating in one run.
/// Usage: <c>dotnet run -c Release --project bench/DbOps.Bench -- query [--rows N] [--transactions N] [--runs K] [--idle-cores]</c>.
/// </summary>
internal static partial class QueryBench
{
    private const double Target = 1.15;
    private const int LookupId = 4242;

    /// <summary>pgbench prints the average latency to 3 decimals (1 µs); with one client it is 1000 / tps ms, which has more digits.</summary>
    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex Tps();

    public static async Task<int> RunAsync(string[] args)
    {
        long rows = 1_000_000;
        var transactions = 20_000;
        var runs = 9;
        var keepCoresAwake = true;
        for (var i = 0; i < args.Length; i += 2)
        {
            if (args[i] == "--idle-cores")
            {
                keepCoresAwake = false;
                i--;
                continue;
            }
            if (i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"Option {args[i]} needs a value");
                return 2;
            }
            switch (args[i])
            {
                case "--rows": rows = long.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--transactions": transactions = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"Unknown option {args[i]}"); return 2;
            }
        }
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        if (BenchCluster.TryStart() is not { } cluster)
        {
            return 0;
        }
        using (cluster)
        {
            var pgbench = Path.Combine(cluster.BinFolder, "pgbench");
            var version = cluster.Scalar<string>("postgres", "SHOW server_version");
            Console.WriteLine($"DbOps.Bench query on {Environment.ProcessorCount} cores, .NET {Environment.Version}, PostgreSQL {version}, " +
                              $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
            var database = cluster.CreateDatabase("qbench");
            cluster.Execute(database, "CREATE TABLE accounts (id integer PRIMARY KEY, balance integer NOT NULL, filler char(84) NOT NULL DEFAULT '')");
            cluster.Execute(database, $"INSERT INTO accounts (id, balance) SELECT i, i % 1000 FROM generate_series(1, {rows}) i");
            cluster.Execute(database, "VACUUM ANALYZE accounts");
            Console.WriteLine($"  accounts: {rows:N0} rows, {Program.Mb(cluster.Scalar<long>(database, "SELECT pg_total_relation_size('accounts')"))} MB");

            var script = Path.Combine(Path.GetTempPath(), $"dbops-qbench-{Guid.NewGuid():N}.sql");
            // The same statement as DbOps runs: one $1 parameter (pgbench's built-in select-only script does the same).
            await File.WriteAllTextAsync(script, $"\\set id {LookupId}\nSELECT balance FROM accounts WHERE id = :id;\n");
            var connection = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database));
            var environment = new Dictionary<string, string> { ["PGPASSWORD"] = connection.Password ?? "" };
            var logFolder = Program.NewTempFolder();
            string[] Arguments(string mode) =>
                ["-h", connection.Host!, "-p", connection.Port.ToString(CultureInfo.InvariantCulture), "-U", connection.Username!, "-n",
                 "-M", mode, "-c", "1", "-j", "1", "-t", transactions.ToString(CultureInfo.InvariantCulture), "-f", script,
                 // Per-transaction latencies (measured before the log line is written), for pgbench's own median.
                 "-l", "--log-prefix", Path.Combine(logFolder, mode), database];
            var source = await DatabaseConnector.ConnectPostgresAsync(connection.ConnectionString, null, null, default);
            var request = new QueryMeasurementRequest(source, "SELECT balance FROM accounts WHERE id = @id",
                new Dictionary<string, object?> { ["id"] = LookupId }, transactions, Warmup: 100);

            var prepared = new List<double>();
            var preparedMedians = new List<double>();
            var simple = new List<double>();
            var medians = new List<double>();
            var means = new List<double>();
            var raws = new List<double>();
            // A round trip of ~20 µs is shorter than a CPU's wake-up from a deep idle state. pgbench sleeps in poll()
            // between round trips, so on an idle machine each of its round trips pays that wake-up (measured here: 50 µs
            // instead of 14 µs), while .NET's spinning thread pool keeps a core awake for our loop. Lowest-priority
            // spinners keep every core awake for both, so both measure the round trip and not the CPU's sleep.
            using var awake = keepCoresAwake ? CoreSpinners.Start() : null;
            Console.WriteLine(keepCoresAwake
                ? $"  {Environment.ProcessorCount} lowest-priority spinners keep the cores out of idle states (--idle-cores to measure without)"
                : "  cores left to idle (--idle-cores): latencies include CPU wake-ups");
            try
            {
                for (var round = 0; round <= runs; round++)
                {
                    var pgPrepared = Latency(await Program.RunToolAsync(pgbench, Arguments("prepared"), environment));
                    var pgPreparedMedian = LoggedMedian(logFolder, "prepared");
                    var ours = await QueryMeasurement.MeasureAsync(request, NullObserver.Instance, default);
                    var raw = RawNpgsqlMedian(connection.ConnectionString, transactions);
                    var pgSimple = Latency(await Program.RunToolAsync(pgbench, Arguments("simple"), environment));
                    var label = round == 0 ? "warm-up" : $"run {round}/{runs}";
                    Console.WriteLine($"  {label,-9} pgbench -M prepared {pgPrepared,7:F4} ms avg ({pgPreparedMedian:F4} median)   Measure-QueryPerformance {ours.MedianMs,7:F4} ms median " +
                                      $"({ours.MeanMs:F4} mean, {ours.P95Ms:F4} p95)   raw Npgsql loop {raw:F4} ms median   pgbench -M simple {pgSimple,7:F4} ms avg   plan: {ours.Plan}");
                    if (round > 0)
                    {
                        prepared.Add(pgPrepared);
                        preparedMedians.Add(pgPreparedMedian);
                        simple.Add(pgSimple);
                        medians.Add(ours.MedianMs);
                        means.Add(ours.MeanMs);
                        raws.Add(raw);
                    }
                }
            }
            finally
            {
                File.Delete(script);
                Directory.Delete(logFolder, recursive: true);
            }

            // The pinned headline: the median of the per-round ratios. Each round runs both tools back to back, so a slow
            // spell of the shared machine lands on both halves of a pair; a ratio of two medians taken over different
            // rounds does not have that property and swung from 0.71x to 1.88x between runs.
            var pairedRatios = medians.Zip(prepared, (o, p) => o / p).ToList();
            var headline = Program.Median(pairedRatios);
            var ratio = Program.Median(medians) / Program.Median(prepared);
            Console.WriteLine();
            Console.WriteLine($"== Primary-key lookup, {transactions:N0} executions per run, {runs} runs alternating after one warm-up ==");
            Console.WriteLine($"  pgbench -M prepared, average latency (median of runs)   {Program.Median(prepared):F4} ms   {string.Join(" ", prepared.Select(v => v.ToString("F4")))}");
            Console.WriteLine($"  Measure-QueryPerformance MedianMs (median of runs)      {Program.Median(medians):F4} ms   {string.Join(" ", medians.Select(v => v.ToString("F4")))}");
            Console.WriteLine($"  Measure-QueryPerformance MeanMs (median of runs)        {Program.Median(means):F4} ms   {string.Join(" ", means.Select(v => v.ToString("F4")))}");
            Console.WriteLine($"  raw Npgsql loop, no DbOps (median of runs)              {Program.Median(raws):F4} ms   {string.Join(" ", raws.Select(v => v.ToString("F4")))}");
            Console.WriteLine($"  pgbench -M simple, average latency (for reference)      {Program.Median(simple):F4} ms   {string.Join(" ", simple.Select(v => v.ToString("F4")))}");
            Console.WriteLine($"  headline: median of the paired ratios MedianMs / pgbench prepared average   {headline:F3} x   (target within {Target:F2}x either way: " +
                              $"{(headline <= Target && headline >= 1 / Target ? "PASS" : "MISS")})   spread {pairedRatios.Min():F3} to {pairedRatios.Max():F3}   paired: " +
                              string.Join(" ", pairedRatios.Select(r => r.ToString("F3"))));
            Console.WriteLine($"  ratio of the medians MedianMs / pgbench prepared average   {ratio:F3} x   (for reference)");
            Console.WriteLine($"  ratio raw Npgsql median / pgbench median    {Program.Median(raws) / Program.Median(preparedMedians):F3} x   (Npgsql against libpq, no DbOps)");
            Console.WriteLine($"  ratio MedianMs / raw Npgsql median          {Program.Median(medians) / Program.Median(raws):F3} x   (what the measurement adds to Npgsql)");
            Console.WriteLine($"  pgbench -M prepared, median latency from its log        {Program.Median(preparedMedians):F4} ms   {string.Join(" ", preparedMedians.Select(v => v.ToString("F4")))}");
            Console.WriteLine($"  best round: MedianMs {medians.Min():F4} ms, pgbench prepared average {prepared.Min():F4} ms, median {preparedMedians.Min():F4} ms, " +
                              $"raw Npgsql {raws.Min():F4} ms; ratios {medians.Min() / prepared.Min():F3} x (to the average), {medians.Min() / preparedMedians.Min():F3} x (to the median)");
            Console.WriteLine($"  ratio MeanMs / pgbench prepared average     {Program.Median(means) / Program.Median(prepared):F3} x   (like for like: both means)");
            Console.WriteLine($"  ratio MedianMs / pgbench prepared median    {Program.Median(medians) / Program.Median(preparedMedians):F3} x   (like for like: both medians)   paired: " +
                              string.Join(" ", medians.Zip(preparedMedians, (o, p) => (o / p).ToString("F3"))));
            return 0;
        }
    }

    /// <summary>
    /// The floor DbOps cannot go below: the same prepared statement executed and read in a bare Npgsql loop, median in ms.
    /// The difference to DbOps is what the measurement itself adds; the difference to pgbench is Npgsql against libpq.
    /// </summary>
    private static double RawNpgsqlMedian(string connectionString, int executions)
    {
        // Synchronous throughout, as DbOps times: one asynchronous call would move the socket to .NET's asynchronous engine.
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand("SELECT balance FROM accounts WHERE id = @id", connection) { Parameters = { new("id", LookupId) } };
        command.Prepare();
        var samples = new double[executions];
        for (var i = -100; i < executions; i++)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                }
            }
            if (i >= 0)
            {
                samples[i] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }
        return Program.Median(samples);
    }

    /// <summary>The median of the per-transaction latencies (µs, third field) pgbench -l wrote, in ms; the log files are removed.</summary>
    private static double LoggedMedian(string folder, string prefix)
    {
        var latencies = new List<double>();
        foreach (var file in Directory.GetFiles(folder, prefix + ".*"))
        {
            foreach (var line in File.ReadLines(file))
            {
                var fields = line.Split(' ');
                if (fields.Length > 2)
                {
                    latencies.Add(double.Parse(fields[2], CultureInfo.InvariantCulture) / 1000);
                }
            }
            File.Delete(file);
        }
        return Program.Median(latencies);
    }

    private static double Latency(string pgbenchOutput) =>
        Tps().Match(pgbenchOutput) is { Success: true } m
            ? 1000 / double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"pgbench printed no tps:\n{pgbenchOutput}");
}

/// <summary>One <c>nice -n 19</c> busy loop per core, killed on dispose: cores stay awake, and yield to any real work.</summary>
internal sealed class CoreSpinners : IDisposable
{
    private readonly List<System.Diagnostics.Process> _spinners = [];

    public static CoreSpinners Start()
    {
        var spinners = new CoreSpinners();
        for (var core = 0; core < Environment.ProcessorCount; core++)
        {
            spinners._spinners.Add(System.Diagnostics.Process.Start("nice", ["-n", "19", "sh", "-c", "while :; do :; done"]));
        }
        return spinners;
    }

    public void Dispose()
    {
        foreach (var spinner in _spinners)
        {
            spinner.Kill(entireProcessTree: true);
            spinner.Dispose();
        }
    }
}
