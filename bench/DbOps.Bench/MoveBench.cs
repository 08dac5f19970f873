using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using DbOps.Core.Connections;
using DbOps.Core.Moves;
using DbOps.Core.Progress;
using DbOps.Testing;
using Npgsql;

namespace DbOps.Bench;

/// <summary>
/// Compare-TableData and Copy-TableData (issue 16) against the SQL a person would write instead, on one throw-away
/// cluster, timed alternately in one run: TableComparer against a two-way EXCEPT count; RangeComparer (two databases)
/// against shipping every row's md5 with COPY from both; TableCopier against one INSERT ... SELECT, also with pgbench
/// writing to the target; then the peak memory of a comparison and a copy in a fresh process at 1/10 and full size.
/// Usage: dotnet run -c Release --project bench/DbOps.Bench -- moves [--rows N] [--runs K] [--only one,two,copy,writers,memory]
/// </summary>
internal static class MoveBench
{
    private const string Usage = "Usage: dotnet run -c Release --project bench/DbOps.Bench -- moves [--rows N] [--runs K] [--only one,two,copy,writers,memory]";
    private const string SourceVariable = "DBOPS_BENCH_MOVE_SOURCE";
    private const string TargetVariable = "DBOPS_BENCH_MOVE_TARGET";
    private const int LargeBatch = 100_000;

    /// <summary>The fixed batch size that was the default before batches were sized by time, kept as a way for comparison.</summary>
    private const int FormerDefaultBatch = 10_000;
    private const int WriterRate = 200;
    private const double WriterTargetMs = 50;

    /// <summary>The legacy table's columns and the consolidated table's names for them: the three-column map.</summary>
    private static readonly (string Source, string Target)[] Columns = [("item_name", "name"), ("amount", "price"), ("created", "created_at")];

    private static readonly string SourceList = "id, " + string.Join(", ", Columns.Select(c => c.Source));
    private static readonly string TargetList = "id, " + string.Join(", ", Columns.Select(c => c.Target));

    /// <summary>One comparison of DbOps with its peer: the timed runs, the target, and what else the part printed.</summary>
    private sealed record Result(string Part, string PeerName, string OursName, List<double> Peer, List<double> Ours, double Target, string Note);

    /// <summary>The ten planted differences: keys the source lacks in the target, keys whose values differ, and target keys the source lacks.</summary>
    private sealed record Planted(long[] Missing, long[] Changed, long[] Extra);

    public static async Task<int> MainAsync(string[] args)
    {
        if (args is ["--measure-memory", var mode, var suffix])
        {
            return await MeasureChildAsync(mode, suffix == "-" ? "" : suffix);
        }
        long rows = 5_000_000;
        var runs = 3;
        var only = new HashSet<string> { "one", "two", "copy", "writers", "memory" };
        try
        {
            for (var i = 0; i < args.Length; i += 2)
            {
                var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--rows": rows = long.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--runs": runs = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "--only": only = value.Split(',').ToHashSet(); break;
                    default: throw new ArgumentException($"Unknown option {args[i]}.");
                }
            }
            if (rows < 1000 || runs < 1)
            {
                throw new ArgumentException("Need --rows >= 1000 and --runs >= 1.");
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }
        if (BenchCluster.TryStart() is not { } cluster)
        {
            return 1;
        }
        using (cluster)
        {
            Console.WriteLine($"DbOps.Bench moves on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, " +
                              $"PostgreSQL {cluster.Scalar<string>("postgres", "SHOW server_version")}, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, load {LoadAverage()}");
            var clock = Stopwatch.StartNew();
            var (one, other) = await LoadAsync(cluster, rows);
            Console.WriteLine($"  loaded in {clock.Elapsed.TotalSeconds:F0} s: {rows:N0} rows in legacy_items and items in database 1 and in items in database 2 " +
                              $"({Program.Mb(cluster.Scalar<long>(one, "SELECT pg_total_relation_size('legacy_items')"))} MB a table with its primary key); one tenth of that in *_small");
            var source = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(one), null, null, default);
            var target = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(other), null, null, default);
            var journalFolder = Program.NewTempFolder();
            var journal = Path.Combine(journalFolder, "journal.jsonl");
            var results = new List<Result>();
            var planted = Plant(rows);

            var oneDatabase = Map(source, null, "");
            var twoDatabases = Map(source, target, "");
            foreach (var differences in new[] { false, true })
            {
                var label = differences ? "10 planted differences" : "identical rows";
                if (differences)
                {
                    await PlantDifferencesAsync(cluster, one, "items", planted);
                    await PlantDifferencesAsync(cluster, other, "items", planted);
                    await PlantDifferencesAsync(cluster, other, "items_small", Plant(rows / 10));
                    Console.WriteLine($"  planted in items (both databases): missing {Keys(planted.Missing)}; changed {Keys(planted.Changed)}; extra {Keys(planted.Extra)}");
                }
                if (only.Contains("one"))
                {
                    results.Add(await CompareOneAsync(cluster, one, oneDatabase, label, differences ? planted : null, rows, runs));
                }
                if (only.Contains("two"))
                {
                    results.AddRange(await CompareTwoAsync(cluster, one, other, twoDatabases, label, differences ? planted : null, rows, runs));
                }
            }
            var copyTimes = new Dictionary<string, double>();
            if (only.Contains("copy"))
            {
                results.AddRange(await CopyAsync(cluster, one, source, journal, rows, runs, copyTimes));
            }
            var writerLines = new List<string>();
            if (only.Contains("writers"))
            {
                writerLines = await WritersAsync(cluster, one, source, journal, rows, copyTimes);
            }
            var memory = new List<string>();
            if (only.Contains("memory"))
            {
                memory = await MemoryAsync(cluster, one, other, rows);
            }

            Console.WriteLine();
            Console.WriteLine($"== Moving rows: {rows:N0} rows, a 3-column map; {runs} timed runs each, alternating, after one untimed warm-up; load {LoadAverage()} ==");
            foreach (var r in results)
            {
                Print(r);
            }
            if (writerLines.Count > 0)
            {
                Console.WriteLine($"  writers on the target: pgbench -R {WriterRate} (an UPDATE and an INSERT per transaction); target: max < {WriterTargetMs:F0} ms during Copy-TableData");
                writerLines.ForEach(Console.WriteLine);
            }
            if (memory.Count > 0)
            {
                Console.WriteLine("  peak memory (working set of a fresh process doing one operation):");
                memory.ForEach(Console.WriteLine);
            }
            Directory.Delete(journalFolder, recursive: true);
            return 0;
        }
    }

    private static void Print(Result r)
    {
        string Runs(IEnumerable<double> seconds) => string.Join(" ", seconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)));
        var ratio = Program.Median(r.Ours) / Program.Median(r.Peer);
        Console.WriteLine($"  {r.Part}");
        Console.WriteLine($"    {r.PeerName,-44} {Program.Median(r.Peer),8:F2} s   {Runs(r.Peer)}");
        Console.WriteLine($"    {r.OursName,-44} {Program.Median(r.Ours),8:F2} s   {Runs(r.Ours)}");
        Console.WriteLine($"    {"ratio (median/median)",-44} {ratio,8:F2} x   target <= {r.Target:F1}x: {(ratio <= r.Target ? "PASS" : "MISS")}" +
                          $"   (paired: {string.Join(" ", r.Ours.Zip(r.Peer, (o, p) => (o / p).ToString("F2", CultureInfo.InvariantCulture)))})");
        if (r.Note.Length > 0)
        {
            Console.WriteLine($"    {r.Note}");
        }
    }

    private static TableMap Map(DbOpsConnection source, DbOpsConnection? target, string suffix) => new()
    {
        Source = source,
        TargetDatabase = target,
        SourceTable = "legacy_items" + suffix,
        TargetTable = "items" + suffix,
        Keys = [new KeyPair("id", "id")],
        Map = Columns.Select(c => new KeyValuePair<string, string?>(c.Source, c.Target)).ToList(),
    };

    /// <summary>Part 1: TableComparer in one database against a two-way EXCEPT count written by hand.</summary>
    private static async Task<Result> CompareOneAsync(PostgresCluster cluster, string database, TableMap map, string label, Planted? planted, long rows, int runs)
    {
        Console.WriteLine($"  compare, one database, {label}: two-way EXCEPT count, then TableComparer.CompareAsync");
        var peerSql = $"SELECT (SELECT count(*) FROM (SELECT {SourceList} FROM legacy_items EXCEPT SELECT {TargetList} FROM items) AS source_only), " +
                      $"(SELECT count(*) FROM (SELECT {TargetList} FROM items EXCEPT SELECT {SourceList} FROM legacy_items) AS target_only)";
        var connectionString = cluster.ConnectionString(database);
        var peerCounts = "";
        var found = new List<string>();
        TableComparison? last = null;
        var (peer, ours) = await AlternateAsync(runs,
            async () =>
            {
                var counts = await ReadRowAsync(connectionString, peerSql);
                peerCounts = $"EXCEPT counts: {counts[0]} source-only and {counts[1]} target-only rows";
            },
            async () =>
            {
                last = await TableComparer.CompareAsync(map, NullObserver.Instance, default);
                found.Add(Found(last, planted, rows));
            },
            cluster, database);
        var profile = await TopStatementsAsync(cluster, database);
        return new Result($"compare, one database, {label}", "two-way EXCEPT count", "TableComparer (SetBased)", peer, ours, 1.2,
            $"{peerCounts}; DbOps: {string.Join(" | ", found.Distinct())} ({last!.Method})\n{profile}");
    }

    /// <summary>
    /// Part 2: RangeComparer across two databases, over one connection per side and with -Parallel 2 (issue 22), against COPY
    /// of every row's key and md5 from both, read fully here. Each way's client (this process) and server (the cluster's
    /// postmaster and its children) CPU seconds are summed over the timed runs.
    /// </summary>
    private static async Task<List<Result>> CompareTwoAsync(PostgresCluster cluster, string one, string other, TableMap map, string label, Planted? planted,
        long rows, int runs)
    {
        Console.WriteLine($"  compare, two databases, {label}: COPY (SELECT id, md5(row::text)) TO STDOUT from both, then TableComparer.CompareAsync -TargetDatabase, " +
                          "then the same with -Parallel 2");
        var shipped = "";
        var found = new List<string>[] { [], [] };
        var splits = new SplitCounter();
        var last = new TableComparison?[2];
        var profiles = new string[2];
        Func<Task> Ours(int parallel) => async () =>
        {
            splits.Restart();
            var result = await TableComparer.CompareAsync(map, parallel, splits, default);
            last[parallel - 1] = result;
            found[parallel - 1].Add(Found(result, planted, rows));
        };
        var postmaster = Postmaster();
        var cpu = new (double Client, double Server)[3];
        var started = (Client: 0.0, Server: 0.0);
        var samples = await AlternateWaysAsync(runs,
            [
                ("peer", async () =>
                {
                    var (sourceBytes, sourceLines) = await ShipHashesAsync(cluster.ConnectionString(one), "legacy_items");
                    var (targetBytes, targetLines) = await ShipHashesAsync(cluster.ConnectionString(other), "items");
                    shipped = $"COPY shipped {sourceLines + targetLines:N0} rows ({Program.Mb(sourceBytes + targetBytes)} MB)";
                }),
                ("DbOps", Ours(1)),
                ("DbOps -Parallel 2", Ours(2)),
            ],
            async (round, way) =>
            {
                if (round == runs && way > 0)
                {
                    await ResetStatementsAsync(cluster, one);
                }
                started = (ClientCpu(), ServerCpu(postmaster));
            },
            async (round, way) =>
            {
                if (round > 0)
                {
                    cpu[way] = (cpu[way].Client + ClientCpu() - started.Client, cpu[way].Server + ServerCpu(postmaster) - started.Server);
                }
                if (round == runs && way > 0)
                {
                    profiles[way - 1] = await TopStatementsAsync(cluster, one);
                }
            });
        string Cpu(int way) => $"CPU over the {runs} timed runs: client {cpu[way].Client:F1} s, server {cpu[way].Server:F1} s";
        string Note(int i) => $"{(i == 0 ? shipped + "; " + Cpu(0) + "\n    " : "")}DbOps: {string.Join(" | ", found[i].Distinct())}, RowsShipped {last[i]!.RowsShipped:N0}; " +
            $"{Cpu(i + 1)}\n{profiles[i]}";
        return
        [
            new Result($"compare, two databases, {label}", "COPY key + md5(row) from both sides", "TableComparer -TargetDatabase (KeyRanges)", samples[0], samples[1], 1.5,
                Note(0)),
            new Result($"compare, two databases, {label}, -Parallel 2", "COPY key + md5(row) from both sides", "TableComparer -TargetDatabase -Parallel 2",
                samples[0], samples[2], 1.5, Note(1)),
        ];

        // The cluster's postmaster is the parent of its checkpointer, which lives as long as the cluster.
        int Postmaster() => Stat(cluster.Scalar<int>(one, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")) is { } stat
            ? int.Parse(stat[1], CultureInfo.InvariantCulture) : -1;

        static double ClientCpu() => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;

        // The postmaster's own and its reaped children's CPU (utime, stime, cutime, cstime), and its live children's own:
        // a backend that exits moves its time from the second sum to the first.
        static double ServerCpu(int postmaster)
        {
            if (postmaster < 0 || Stat(postmaster) is not { } own)
            {
                return double.NaN;
            }
            double Ticks(string[] fields, int from, int count) => fields.Skip(from).Take(count).Sum(f => double.Parse(f, CultureInfo.InvariantCulture));
            var total = Ticks(own, 11, 4);
            foreach (var folder in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(folder), out var pid) && Stat(pid) is { } child && child[1] == postmaster.ToString(CultureInfo.InvariantCulture))
                {
                    total += Ticks(child, 11, 2);
                }
            }
            return total / 100; // USER_HZ
        }

        // /proc/<pid>/stat after the command name: [0] state, [1] ppid, ... [11] utime, [12] stime, [13] cutime, [14] cstime.
        static string[]? Stat(int pid)
        {
            try
            {
                var text = File.ReadAllText($"/proc/{pid}/stat");
                return text[(text.LastIndexOf(')') + 2)..].Split(' ');
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Part 3: TableCopier with its default batches (sized by time), at the former default and a larger fixed batch size, and
    /// at the former default over two connections (-Parallel 2), against one INSERT ... SELECT into the same empty table.
    /// </summary>
    private static async Task<List<Result>> CopyAsync(PostgresCluster cluster, string database, DbOpsConnection source, string journal, long rows, int runs,
        Dictionary<string, double> times)
    {
        const int defaultBatch = FormerDefaultBatch;
        (string Name, string Key, int? BatchSize, int Parallel)[] copies =
        [
            ("Copy-TableData (batches sized by time)", "adaptive", null, 1),
            ($"Copy-TableData -BatchSize {defaultBatch}", "default", defaultBatch, 1),
            ($"Copy-TableData -BatchSize {LargeBatch}", "large", LargeBatch, 1),
            ($"Copy-TableData -BatchSize {defaultBatch} -Parallel 2", "parallel", defaultBatch, 2),
        ];
        Console.WriteLine($"  copy: INSERT INTO items_copy SELECT ... FROM legacy_items, then {string.Join(", ", copies.Select(c => c.Name))} (items_copy emptied before each)");
        var connectionString = cluster.ConnectionString(database);
        var insert = $"INSERT INTO items_copy ({TargetList}) SELECT {SourceList} FROM legacy_items";
        var phases = copies.ToDictionary(c => c.Key, _ => new List<double>());
        var batches = new Dictionary<string, int>();
        var sizes = new Dictionary<string, string>();
        var profile = "";
        Func<Task> Copier((string Name, string Key, int? BatchSize, int Parallel) copy) => async () =>
        {
            var progress = new ProgressClock();
            var result = await TableCopier.CopyAsync(new CopyRequest(Map(source, null, "") with { TargetTable = "items_copy" }, BatchSize: copy.BatchSize, JournalPath: journal)
                { Parallel = copy.Parallel }, progress, default);
            if (result.Copied != rows)
            {
                throw new InvalidOperationException($"Copy-TableData copied {result.Copied} rows, expected {rows}.");
            }
            phases[copy.Key].Add(progress.LastProgressSeconds);
            batches[copy.Key] = result.Batches;
            sizes[copy.Key] = result.BatchTime is null ? "" : $" of {result.BatchSizes.Min():N0}..{result.BatchSizes.Max():N0} rows " +
                $"(first {string.Join(", ", result.BatchSizes.Take(8).Select(b => b.ToString("N0", CultureInfo.InvariantCulture)))}{(result.BatchSizes.Count > 8 ? ", ..." : "")})";
        };
        var samples = await AlternateWaysAsync(runs,
            [("INSERT ... SELECT", () => ExecuteAsync(connectionString, insert)), .. copies.Select(c => (c.Name, Copier(c)))],
            async (round, way) =>
            {
                await TruncateAsync(cluster, database);
                if (round == runs && way == 1)
                {
                    await ResetStatementsAsync(cluster, database);
                }
            },
            async (round, way) =>
            {
                if (round == runs && way == 1)
                {
                    profile = await TopStatementsAsync(cluster, database);
                }
            });
        if ((await ReadRowAsync(connectionString, "SELECT count(*) FROM items_copy"))[0] != rows)
        {
            throw new InvalidOperationException("items_copy does not hold every row after the last copy.");
        }
        times["insert"] = Program.Median(samples[0]);
        for (var i = 0; i < copies.Length; i++)
        {
            times[copies[i].Key] = Program.Median(samples[i + 1]);
        }
        string Note(string key) =>
            $"{batches[key]:N0} batches{sizes[key]}; of which batches (until the last progress report): {Program.Median(phases[key].Skip(1).ToList()):F2} s median " +
            $"({string.Join(" ", phases[key].Skip(1).Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))}, the warm-up left out); " +
            "the rest is waiting for the source checksum (read beside the batches) and the journal";
        return
        [
            .. copies.Select((c, i) => new Result(c.Parallel > 1 ? $"copy, batches of {c.BatchSize:N0} over {c.Parallel} connections"
                    : c.BatchSize is null ? "copy, adaptive (default)" : $"copy, batches of {c.BatchSize:N0}",
                "INSERT ... SELECT", c.Name, samples[0], samples[i + 1], 1.3, Note(c.Key) + (i == 0 ? "\n" + profile : ""))),
        ];
    }

    /// <summary>
    /// Part 3, writers: pgbench -R 200 updating and inserting into the copy's target while it fills, once per way; the writers'
    /// latencies come from pgbench's per-transaction log, split into before the copy (the writers alone) and during it.
    /// </summary>
    private static async Task<List<string>> WritersAsync(PostgresCluster cluster, string database, DbOpsConnection source, string journal, long rows,
        Dictionary<string, double> times)
    {
        var connectionString = cluster.ConnectionString(database);
        var connection = new NpgsqlConnectionStringBuilder(connectionString);
        var folder = Program.NewTempFolder();
        var script = Path.Combine(folder, "writer.sql");
        await RunAsync(cluster, database, $"DROP SEQUENCE IF EXISTS writer_ids; CREATE SEQUENCE writer_ids START {10 * rows}");
        // An update of a random source key (a copied row, once the copy has reached it) and an insert of a key the source never has.
        await File.WriteAllTextAsync(script, $"""
            \set id 2 * random(1, {rows})
            BEGIN;
            UPDATE items_copy SET price = price + 1 WHERE id = :id;
            INSERT INTO items_copy ({TargetList}) VALUES (nextval('writer_ids'), 'writer', 1.00, now());
            COMMIT;

            """);
        const int defaultBatch = FormerDefaultBatch;
        var ways = new (string Name, string Key, Func<Task> Run)[]
        {
            ("Copy-TableData (batches sized by time)", "adaptive", () => TableCopier.CopyAsync(
                new CopyRequest(Map(source, null, "") with { TargetTable = "items_copy" }, JournalPath: journal), NullObserver.Instance, default)),
            ($"Copy-TableData -BatchSize {defaultBatch}", "default", () => TableCopier.CopyAsync(
                new CopyRequest(Map(source, null, "") with { TargetTable = "items_copy" }, BatchSize: defaultBatch, JournalPath: journal), NullObserver.Instance, default)),
            ($"Copy-TableData -BatchSize {LargeBatch}", "large", () => TableCopier.CopyAsync(
                new CopyRequest(Map(source, null, "") with { TargetTable = "items_copy" }, BatchSize: LargeBatch, JournalPath: journal), NullObserver.Instance, default)),
            ($"Copy-TableData -BatchSize {defaultBatch} -Parallel 2", "parallel", () => TableCopier.CopyAsync(
                new CopyRequest(Map(source, null, "") with { TargetTable = "items_copy" }, BatchSize: defaultBatch, JournalPath: journal) { Parallel = 2 }, NullObserver.Instance, default)),
            ("INSERT ... SELECT (one transaction)", "insert", () => ExecuteAsync(connectionString, $"INSERT INTO items_copy ({TargetList}) SELECT {SourceList} FROM legacy_items")),
        };
        var lines = new List<string>
        {
            $"    {"during",-44} {"op (s)",7} {"tx",6} {"p50 ms",7} {"p99 ms",7} {"max ms",8} {"max lag",8}   writers alone before it: tx, p99, max ms",
        };
        const double Lead = 4;
        foreach (var (name, key, run) in ways)
        {
            await TruncateAsync(cluster, database);
            // pgbench runs for a fixed time: long enough to cover the lead, the copy (as timed above) and a margin.
            var expected = times.TryGetValue(key, out var seconds) ? seconds : 60;
            var duration = (int)Math.Ceiling(Lead + expected * 1.2 + 5);
            var prefix = Path.Combine(folder, key);
            var pgbench = Program.RunToolAsync(Path.Combine(cluster.BinFolder, "pgbench"),
                ["-h", connection.Host!, "-p", connection.Port.ToString(CultureInfo.InvariantCulture), "-U", connection.Username!, "-n",
                 "-c", "2", "-j", "1", "-R", WriterRate.ToString(CultureInfo.InvariantCulture), "-T", duration.ToString(CultureInfo.InvariantCulture),
                 "-f", script, "-l", "--log-prefix", prefix, database],
                new Dictionary<string, string> { ["PGPASSWORD"] = connection.Password ?? "" });
            await Task.Delay(TimeSpan.FromSeconds(Lead));
            var start = DateTimeOffset.UtcNow;
            await run();
            var end = DateTimeOffset.UtcNow;
            await pgbench;
            var log = ReadPgbenchLog(folder, key);
            var before = log.Where(t => t.End < start && t.End > start.AddSeconds(-Lead + 1)).ToList();
            var during = log.Where(t => t.End >= start && t.End.AddMilliseconds(-t.Ms) <= end).ToList();
            var covered = log.Count > 0 && log.Max(t => t.End) >= end ? "" : "   (pgbench ended before the copy did)";
            var verdict = key == "insert" ? "" : during.Count > 0 && during.Max(t => t.Ms) < WriterTargetMs ? "  PASS" : "  MISS";
            lines.Add($"    {name,-44} {(end - start).TotalSeconds,7:F2} {during.Count,6} {Percentile(during, 0.5),7:F1} {Percentile(during, 0.99),7:F1} " +
                      $"{Percentile(during, 1),8:F1} {(during.Count == 0 ? double.NaN : during.Max(t => t.LagMs)),8:F1}   {before.Count}, {Percentile(before, 0.99):F1}, " +
                      $"{Percentile(before, 1):F1}{verdict}{covered}");
        }
        Directory.Delete(folder, recursive: true);
        return lines;
    }

    private sealed record Transaction(DateTimeOffset End, double Ms, double LagMs);

    /// <summary>pgbench -l: "client transaction time_us script epoch_s epoch_us lag_us"; with -R the time counts from the scheduled start.</summary>
    private static List<Transaction> ReadPgbenchLog(string folder, string prefix) =>
        Directory.GetFiles(folder, prefix + ".*").SelectMany(File.ReadLines).Select(line => line.Split(' ')).Where(f => f.Length >= 7)
            .Select(f => new Transaction(
                DateTimeOffset.FromUnixTimeSeconds(long.Parse(f[4], CultureInfo.InvariantCulture)).AddTicks(long.Parse(f[5], CultureInfo.InvariantCulture) * 10),
                double.Parse(f[2], CultureInfo.InvariantCulture) / 1000, double.Parse(f[6], CultureInfo.InvariantCulture) / 1000))
            .ToList();

    private static double Percentile(List<Transaction> transactions, double p)
    {
        var sorted = transactions.Select(t => t.Ms).Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[Math.Max(0, Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1))];
    }

    /// <summary>Part 4: a comparison across the two databases and a copy, each in a fresh process, at 1/10 and full size.</summary>
    private static async Task<List<string>> MemoryAsync(PostgresCluster cluster, string one, string other, long rows)
    {
        var lines = new List<string>();
        var peaks = new Dictionary<string, long>();
        foreach (var (suffix, size) in new[] { ("_small", rows / 10), ("", rows) })
        {
            var environment = new Dictionary<string, string> { [SourceVariable] = cluster.ConnectionString(one), [TargetVariable] = cluster.ConnectionString(other) };
            foreach (var mode in new[] { "compare", "copy" })
            {
                await TruncateAsync(cluster, one, "items_copy" + suffix);
                var self = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot tell which program is running.");
                List<string> arguments = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(MoveBench).Assembly.Location] : [];
                var output = await Program.RunToolAsync(self, [.. arguments, "moves", "--measure-memory", mode, suffix.Length == 0 ? "-" : suffix], environment);
                var fields = output.Trim().Split(' ', 2);
                peaks[mode + suffix] = long.Parse(fields[0], CultureInfo.InvariantCulture);
                lines.Add($"    {mode + (mode == "compare" ? " (two databases)" : ""),-24} {size,12:N0} rows {Program.Mb(peaks[mode + suffix]),6} MB   ({fields[1]})");
            }
        }
        foreach (var mode in new[] { "compare", "copy" })
        {
            lines.Add($"    {mode,-24} growth for 10x the rows: {(double)peaks[mode] / peaks[mode + "_small"]:F2}x");
        }
        return lines;
    }

    /// <summary>The hidden child: one comparison (two databases) or one copy of the tables ending in <paramref name="suffix"/>, then its peak working set.</summary>
    private static async Task<int> MeasureChildAsync(string mode, string suffix)
    {
        string Variable(string name) => Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set.");
        var source = await DatabaseConnector.ConnectPostgresAsync(Variable(SourceVariable), null, null, default);
        string what;
        if (mode == "compare")
        {
            var target = await DatabaseConnector.ConnectPostgresAsync(Variable(TargetVariable), null, null, default);
            var result = await TableComparer.CompareAsync(Map(source, target, suffix), NullObserver.Instance, default);
            what = $"{result.Verdict}, {result.Missing}/{result.Changed}/{result.Extra} missing/changed/extra, RowsShipped {result.RowsShipped}";
        }
        else
        {
            var folder = Program.NewTempFolder();
            try
            {
                var result = await TableCopier.CopyAsync(new CopyRequest(Map(source, null, suffix) with { TargetTable = "items_copy" + suffix },
                    JournalPath: Path.Combine(folder, "journal.jsonl")), NullObserver.Instance, default);
                what = $"{result.Copied} copied in {result.Batches} batches";
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        using var me = Process.GetCurrentProcess();
        Console.WriteLine($"{me.PeakWorkingSet64.ToString(CultureInfo.InvariantCulture)} {what}");
        return 0;
    }

    /// <summary>
    /// Times the peer and DbOps alternately after one untimed warm-up round (see <see cref="AlternateWaysAsync"/>); the last DbOps
    /// run is profiled with pg_stat_statements.
    /// </summary>
    private static async Task<(List<double> Peer, List<double> Ours)> AlternateAsync(int runs, Func<Task> peer, Func<Task> ours, PostgresCluster cluster, string database)
    {
        var samples = await AlternateWaysAsync(runs, [("peer", peer), ("DbOps", ours)],
            (round, way) => round == runs && way == 1 ? ResetStatementsAsync(cluster, database) : Task.CompletedTask,
            (_, _) => Task.CompletedTask);
        return (samples[0], samples[1]);
    }

    /// <summary>
    /// Runs the ways one after another in each round (round 0 is an untimed warm-up, so all read a table already in the cache),
    /// so a slow spell on the shared machine hits them alike; <paramref name="before"/> and <paramref name="after"/> run untimed
    /// around each way.
    /// </summary>
    private static async Task<List<double>[]> AlternateWaysAsync(int runs, IReadOnlyList<(string Name, Func<Task> Run)> ways,
        Func<int, int, Task> before, Func<int, int, Task> after)
    {
        var samples = ways.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round <= runs; round++)
        {
            var line = new List<string>();
            for (var way = 0; way < ways.Count; way++)
            {
                await before(round, way);
                var clock = Stopwatch.StartNew();
                await ways[way].Run();
                var seconds = clock.Elapsed.TotalSeconds;
                await after(round, way);
                line.Add($"{ways[way].Name} {seconds,7:F2} s");
                if (round > 0)
                {
                    samples[way].Add(seconds);
                }
            }
            Console.WriteLine($"    {(round == 0 ? "warm-up" : $"run {round}/{runs}"),-9} {string.Join("   ", line)}   load {LoadAverage()}");
        }
        return samples;
    }

    /// <summary>Whether each planted key was reported as its kind, and nothing else: "found 10/10 (...)"; or the verdict for identical rows.</summary>
    private static string Found(TableComparison result, Planted? planted, long rows)
    {
        if (planted is null)
        {
            return $"{result.Verdict}, {result.Matched:N0} of {rows:N0} matched";
        }
        var changed = result.ChangedSamples.Select(c => c.Key).ToList();
        int Hits(long[] keys, IReadOnlyList<string> reported) => keys.Count(k => reported.Contains(k.ToString(CultureInfo.InvariantCulture)));
        var (missing, changes, extra) = (Hits(planted.Missing, result.MissingSamples), Hits(planted.Changed, changed), Hits(planted.Extra, result.ExtraSamples));
        var others = result.Missing + result.Changed + result.Extra - (missing + changes + extra);
        return $"found {missing + changes + extra}/10 (missing {missing}/{planted.Missing.Length}, changed {changes}/{planted.Changed.Length}, " +
               $"extra {extra}/{planted.Extra.Length}), {others} reported besides, verdict {result.Verdict}";
    }

    /// <summary>Ten keys spread over the table: 3 to delete from the target, 4 to change there, 3 (odd, so never a source key) to add there.</summary>
    private static Planted Plant(long rows)
    {
        var keys = Enumerable.Range(0, 10).Select(i => 2 * (1 + i * (rows / 10) + rows / 20)).ToArray();
        return new Planted(keys[..3], keys[3..7], keys[7..].Select(k => k + 1).ToArray());
    }

    private static async Task PlantDifferencesAsync(PostgresCluster cluster, string database, string table, Planted planted)
    {
        var (m, c, e) = (planted.Missing, planted.Changed, planted.Extra);
        await RunAsync(cluster, database, $"""
            DELETE FROM {table} WHERE id IN ({Keys(m)});
            UPDATE {table} SET name = name || '!' WHERE id = {c[0]};
            UPDATE {table} SET price = coalesce(price, 0) + 0.01 WHERE id = {c[1]};
            UPDATE {table} SET created_at = created_at + interval '1 second' WHERE id = {c[2]};
            UPDATE {table} SET price = NULL, name = upper(name) WHERE id = {c[3]};
            INSERT INTO {table} ({TargetList}) SELECT id, 'extra ' || id, 1.00, now() FROM unnest(ARRAY[{Keys(e)}]::bigint[]) AS id;
            """);
        await RunAsync(cluster, database, $"VACUUM (ANALYZE) {table}");
    }

    private static string Keys(long[] keys) => string.Join(", ", keys);

    /// <summary>
    /// Database 1: legacy_items (the source) and items (its rows under the new names) at full size and a tenth of it, and
    /// the copy's empty targets; database 2: items again. Keys are even, deterministic values, so both databases hold the same rows.
    /// </summary>
    private static async Task<(string One, string Other)> LoadAsync(PostgresCluster cluster, long rows)
    {
        var one = cluster.CreateDatabase("move1");
        var other = cluster.CreateDatabase("move2");
        string Rows(long count) => $"""
            SELECT 2 * i, 'item ' || md5(i::text), CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 100000) / 100.0 END,
                   timestamptz '2020-01-01 00:00:00+00' + i * interval '1 second'
            FROM generate_series(1, {count}) AS i
            """;
        foreach (var suffix in new[] { "", "_small" })
        {
            var count = suffix.Length == 0 ? rows : rows / 10;
            await RunAsync(cluster, one, $"CREATE TABLE legacy_items{suffix} (id bigint NOT NULL, item_name text NOT NULL, amount numeric(12,2), created timestamptz NOT NULL)");
            await RunAsync(cluster, one, $"INSERT INTO legacy_items{suffix} {Rows(count)}");
            await RunAsync(cluster, one, $"ALTER TABLE legacy_items{suffix} ADD PRIMARY KEY (id)");
            await RunAsync(cluster, one, $"CREATE TABLE items_copy{suffix} (id bigint PRIMARY KEY, name text NOT NULL, price numeric(12,2), created_at timestamptz NOT NULL)");
            foreach (var database in new[] { one, other })
            {
                await RunAsync(cluster, database, $"CREATE TABLE items{suffix} (id bigint NOT NULL, name text NOT NULL, price numeric(12,2), created_at timestamptz NOT NULL)");
                await RunAsync(cluster, database, $"INSERT INTO items{suffix} {Rows(count)}");
                await RunAsync(cluster, database, $"ALTER TABLE items{suffix} ADD PRIMARY KEY (id)");
            }
        }
        foreach (var database in new[] { one, other })
        {
            await RunAsync(cluster, database, "VACUUM (ANALYZE)");
            await RunAsync(cluster, database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        }
        return (one, other);
    }

    private static Task TruncateAsync(PostgresCluster cluster, string database, string table = "items_copy") => RunAsync(cluster, database, $"TRUNCATE {table}");

    /// <summary>Runs <paramref name="sql"/> without a command timeout (loading millions of rows on a busy machine takes minutes).</summary>
    private static Task RunAsync(PostgresCluster cluster, string database, string sql) => ExecuteAsync(cluster.ConnectionString(database), sql);

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<long>> ReadRowAsync(string connectionString, string sql)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand(sql, db) { CommandTimeout = 0 };
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return Enumerable.Range(0, reader.FieldCount).Select(reader.GetInt64).ToList();
    }

    /// <summary>The peer's shipping of one side: COPY of every row's key and md5 to this process, read to the end; its bytes and lines.</summary>
    private static async Task<(long Bytes, long Lines)> ShipHashesAsync(string connectionString, string table)
    {
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync();
        using var copy = await db.BeginTextExportAsync($"COPY (SELECT id, md5({table}::text) FROM {table}) TO STDOUT");
        var buffer = new char[1 << 16];
        long bytes = 0, lines = 0;
        int read;
        while ((read = await copy.ReadAsync(buffer, 0, buffer.Length)) > 0)
        {
            bytes += read; // one byte per character: digits, hex and separators
            lines += buffer.AsSpan(0, read).Count('\n');
        }
        return (bytes, lines);
    }

    private static async Task ResetStatementsAsync(PostgresCluster cluster, string database) =>
        await ExecuteAsync(cluster.ConnectionString(database), "SELECT pg_stat_statements_reset()");

    /// <summary>Where the server spent the profiled run: the costliest statements pg_stat_statements saw since its reset.</summary>
    private static async Task<string> TopStatementsAsync(PostgresCluster cluster, string database)
    {
        await using var db = new NpgsqlConnection(cluster.ConnectionString(database));
        await db.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT calls, round(total_exec_time::numeric, 0), rows, regexp_replace(query, '\s+', ' ', 'g')
            FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 5
            """, db);
        await using var reader = await command.ExecuteReaderAsync();
        var lines = new List<string> { "      server time in the last DbOps run, costliest statements (pg_stat_statements): calls, total ms, rows, statement" };
        while (await reader.ReadAsync())
        {
            var query = reader.GetString(3);
            lines.Add($"      {reader.GetInt64(0),6} {reader.GetDecimal(1),9:F0} {reader.GetInt64(2),10}  {(query.Length > 150 ? query[..150] + "..." : query)}");
        }
        return string.Join("\n", lines);
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "?";

    /// <summary>Counts the ranges a comparison across databases splits, and when it first split.</summary>
    private sealed class SplitCounter : IOperationObserver
    {
        private readonly Stopwatch _clock = new();

        public int Splits { get; private set; }

        public double FirstSplitSeconds { get; private set; } = double.NaN;

        public void Restart()
        {
            Splits = 0;
            FirstSplitSeconds = double.NaN;
            _clock.Restart();
        }

        public void Progress(OperationProgress progress)
        {
        }

        public void Verbose(string message)
        {
            if (message.StartsWith("A range of", StringComparison.Ordinal))
            {
                FirstSplitSeconds = Splits++ == 0 ? _clock.Elapsed.TotalSeconds : FirstSplitSeconds;
            }
        }

        public void Warning(string message)
        {
        }
    }

    /// <summary>When a copy last reported progress: after its last batch committed, before the source checksum and the journal.</summary>
    private sealed class ProgressClock : IOperationObserver
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public double LastProgressSeconds { get; private set; }

        public void Progress(OperationProgress progress) => LastProgressSeconds = _clock.Elapsed.TotalSeconds;

        public void Verbose(string message)
        {
        }

        public void Warning(string message)
        {
        }
    }
}
