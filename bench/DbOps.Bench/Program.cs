using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Progress;

namespace DbOps.Bench;

/// <summary>What to run: database sizes, timed runs per tool, and which engines.</summary>
internal sealed record Options(long PgRows, int SqliteMb, int Runs, string? Only);

/// <summary>One engine's figures: the peer and DbOps timed alternately in this run, and DbOps's peak memory at two sizes.</summary>
internal sealed record Comparison(
    string Title, string PeerName, string OursName, Samples Samples, string OursPhase, double Target, MemoryPeak Small, MemoryPeak Large);

/// <summary>Peak resident memory of one backup in a fresh process: the .NET process itself and its largest child tool.</summary>
internal sealed record MemoryPeak(string Size, long ProcessBytes, long ChildToolBytes, string ChildTool);

/// <summary>Seconds per timed run, in run order (peer and ours of the same index ran back to back).</summary>
internal sealed class Samples
{
    public List<double> Peer { get; } = [];

    public List<double> Ours { get; } = [];

    /// <summary>How long DbOps took before it started counting rows (the pg_dump or backup-API step).</summary>
    public List<double> OursWrite { get; } = [];
}

internal static class Program
{
    private const string Usage =
        "Usage: dotnet run -c Release --project bench/DbOps.Bench -- [--pg-rows N] [--sqlite-mb N] [--runs K] [--only pg|sqlite]\n" +
        "       dotnet run -c Release --project bench/DbOps.Bench -- integrity|constraints|query|archive|docs|process|moves [options]";

    // The memory child gets the connection string (it holds the password) and pg_dump's folder through the environment, never argv.
    internal const string ConnectionVariable = "DBOPS_BENCH_PG_CONNECTION";
    internal const string ToolPathVariable = "DBOPS_BENCH_PG_BIN";

    private static async Task<int> Main(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        if (args is ["integrity", .. var integrityArgs]) { return await IntegrityBench.MainAsync(integrityArgs); }
        if (args is ["constraints", .. var constraintArgs]) { return await ConstraintBench.RunAsync(constraintArgs); }
        if (args is ["query", .. var queryArgs]) { return await QueryBench.RunAsync(queryArgs); }
        if (args is ["archive", .. var archiveArgs]) { return await ArchiveBench.MainAsync(archiveArgs); }
        if (args is ["docs", .. var docsArgs]) { return await DocsBench.RunAsync(docsArgs); }
        if (args is ["process", .. var processArgs]) { return await ProcessBench.MainAsync(processArgs); }
        if (args is ["floor", .. var floorArgs]) { return await FloorClient.MainAsync(floorArgs); }
        if (args is ["moves", .. var moveArgs]) { return await MoveBench.MainAsync(moveArgs); }
        if (args is ["--measure-memory", var engine, var target])
        {
            return await MeasureMemoryChildAsync(engine, target);
        }
        if (args is ["-h" or "--help"])
        {
            Console.WriteLine(Usage);
            return 0;
        }
        Options options;
        try
        {
            options = Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        Console.WriteLine($"DbOps.Bench on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, " +
                          $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var results = new List<Comparison>();
        if (options.Only is null or "pg" && await PostgresBench.RunAsync(options) is { } pg)
        {
            results.Add(pg);
        }
        if (options.Only is null or "sqlite" && await SqliteBench.RunAsync(options) is { } sqlite)
        {
            results.Add(sqlite);
        }
        Console.WriteLine();
        foreach (var result in results)
        {
            Print(result, options.Runs);
        }
        return 0;
    }

    private static Options Parse(string[] args)
    {
        var options = new Options(3_000_000, 400, 3, null);
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--pg-rows" => options with { PgRows = long.Parse(value, CultureInfo.InvariantCulture) },
                "--sqlite-mb" => options with { SqliteMb = int.Parse(value, CultureInfo.InvariantCulture) },
                "--runs" => options with { Runs = int.Parse(value, CultureInfo.InvariantCulture) },
                "--only" when value is "pg" or "sqlite" => options with { Only = value },
                _ => throw new ArgumentException($"Unknown option or value: {args[i]} {value}"),
            };
            i++;
        }
        if (options.PgRows < 100 || options.SqliteMb < 10 || options.Runs < 1)
        {
            throw new ArgumentException("Need --pg-rows >= 100, --sqlite-mb >= 10 and --runs >= 1.");
        }
        return options;
    }

    private static void Print(Comparison c, int runs)
    {
        string Runs(IEnumerable<double> seconds) => string.Join(" ", seconds.Select(s => s.ToString("F2")));
        var peer = Median(c.Samples.Peer);
        var ours = Median(c.Samples.Ours);
        var ratio = ours / peer;
        // Each pair ran back to back, so its ratio shares the machine's load at that moment.
        var paired = c.Samples.Ours.Zip(c.Samples.Peer, (o, p) => o / p);
        Console.WriteLine($"== {c.Title}; {runs} timed runs each, alternating, after one untimed warm-up ==");
        Console.WriteLine($"  {"",-28} {"median",9}   runs (s)");
        Console.WriteLine($"  {c.PeerName,-28} {peer,7:F2} s   {Runs(c.Samples.Peer)}");
        Console.WriteLine($"  {c.OursName,-28} {ours,7:F2} s   {Runs(c.Samples.Ours)}");
        Console.WriteLine($"    {"of which " + c.OursPhase,-26} {Median(c.Samples.OursWrite),7:F2} s   {Runs(c.Samples.OursWrite)}");
        Console.WriteLine($"  {"ratio (median/median)",-28} {ratio,7:F2} x   target <= {c.Target:F2}x: {(ratio <= c.Target ? "PASS" : "MISS")}" +
                          $"   (paired: {string.Join(" ", paired.Select(r => r.ToString("F2")))})");
        Console.WriteLine("  peak memory of one Backup-Database in a fresh process (process / largest child tool):");
        foreach (var m in new[] { c.Small, c.Large })
        {
            Console.WriteLine($"    {m.Size,-26} {Mb(m.ProcessBytes),7} MB / {(m.ChildToolBytes > 0 ? $"{Mb(m.ChildToolBytes)} MB ({m.ChildTool})" : "none")}");
        }
        Console.WriteLine($"    {"growth, large vs small",-26} {(double)c.Large.ProcessBytes / c.Small.ProcessBytes,7:F2} x");
        Console.WriteLine();
    }

    internal static string Mb(long bytes) => (bytes / 1048576.0).ToString("F0");

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN
            : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2]
            : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>
    /// Times peer and DbOps alternately (peer, ours, peer, ours, ...) so slow spells on a shared machine hit both alike.
    /// Round 0 is an untimed warm-up: the page cache cannot be dropped here, so both are measured warm instead.
    /// </summary>
    internal static async Task<Samples> AlternateAsync(int runs, Func<string, Task> peer, Func<string, IOperationObserver, Task> ours)
    {
        var samples = new Samples();
        for (var round = 0; round <= runs; round++)
        {
            var peerSeconds = await TimeInFreshFolderAsync(peer);
            var phases = new PhaseClock();
            var oursSeconds = await TimeInFreshFolderAsync(folder =>
            {
                phases.Restart();
                return ours(folder, phases);
            });
            var label = round == 0 ? "warm-up" : $"run {round}/{runs}";
            Console.WriteLine($"  {label,-9} peer {peerSeconds,6:F2} s   DbOps {oursSeconds,6:F2} s");
            if (round > 0)
            {
                samples.Peer.Add(peerSeconds);
                samples.Ours.Add(oursSeconds);
                samples.OursWrite.Add(phases.WriteSeconds ?? double.NaN);
            }
        }
        return samples;
    }

    /// <summary>Times <paramref name="action"/> writing into an empty folder; deleting the output is not timed.</summary>
    private static async Task<double> TimeInFreshFolderAsync(Func<string, Task> action)
    {
        var folder = NewTempFolder();
        try
        {
            var clock = Stopwatch.StartNew();
            await action(folder);
            return clock.Elapsed.TotalSeconds;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    internal static string NewTempFolder() =>
        Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "dbops-bench-out-" + Guid.NewGuid().ToString("N")[..12])).FullName;

    /// <summary>Runs a program without a shell and returns its stdout; a non-zero exit is an error with its stderr.</summary>
    internal static async Task<string> RunToolAsync(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', start.ArgumentList)} failed ({process.ExitCode}): {await stderr}");
        }
        return await stdout;
    }

    /// <summary>
    /// PeakWorkingSet64 only ever grows, so each size is measured by re-running this program in a fresh process that
    /// performs one backup and prints its own peak (see <see cref="MeasureMemoryChildAsync"/>).
    /// </summary>
    internal static async Task<MemoryPeak> MeasureMemoryAsync(string engine, string target, string sizeLabel, IReadOnlyDictionary<string, string>? environment = null)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot tell which program is running.");
        List<string> arguments = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(Program).Assembly.Location] : [];
        var output = await RunToolAsync(self, [.. arguments, "--measure-memory", engine, target], environment);
        var fields = output.Trim().Split(' ');
        return new MemoryPeak(sizeLabel, long.Parse(fields[0], CultureInfo.InvariantCulture), long.Parse(fields[1], CultureInfo.InvariantCulture), fields[2]);
    }

    /// <summary>The hidden child mode: one backup, then "peak-bytes largest-child-bytes largest-child-name" on stdout.</summary>
    private static async Task<int> MeasureMemoryChildAsync(string engine, string target)
    {
        var source = engine == "pg"
            ? await DatabaseConnector.ConnectPostgresAsync(Environment.GetEnvironmentVariable(ConnectionVariable)
                                                           ?? throw new InvalidOperationException($"{ConnectionVariable} is not set."), null, null, default)
            : await DatabaseConnector.ConnectSqliteAsync(target, create: false, default);
        var folder = NewTempFolder();
        using var stop = new CancellationTokenSource();
        var children = Task.Run(() => WatchChildren(stop.Token));
        try
        {
            await BackupService.BackupAsync(
                new BackupRequest(source, folder, ToolPath: Environment.GetEnvironmentVariable(ToolPathVariable)), NullObserver.Instance, default);
        }
        finally
        {
            await stop.CancelAsync();
            Directory.Delete(folder, recursive: true);
        }
        var (childBytes, childName) = await children;
        using var me = Process.GetCurrentProcess();
        Console.WriteLine($"{me.PeakWorkingSet64} {childBytes} {childName}");
        return 0;
    }

    /// <summary>
    /// Samples the peak RSS (VmHWM) of this process's children (pg_dump, pg_restore) every 20 ms until stopped.
    /// getrusage(RUSAGE_CHILDREN) cannot be used: Linux counts a child's RSS before exec, i.e. the forked .NET process.
    /// Only /proc/self/task/*/children and the children's status are read: scanning all of /proc would allocate enough
    /// garbage to inflate this process's own peak in proportion to how long the backup runs.
    /// </summary>
    private static (long Bytes, string Name) WatchChildren(CancellationToken stop)
    {
        var largest = (Bytes: 0L, Name: "none");
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var children = Directory.GetDirectories("/proc/self/task")
                    .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries));
                foreach (var pid in children)
                {
                    var status = File.ReadAllLines($"/proc/{pid}/status");
                    string Field(string name) => status.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal))?[(name.Length + 1)..].Trim() ?? "";
                    var peak = Field("VmHWM");
                    var bytes = peak.EndsWith(" kB", StringComparison.Ordinal) ? long.Parse(peak[..^3], CultureInfo.InvariantCulture) * 1024 : 0;
                    largest = bytes > largest.Bytes ? (bytes, Field("Name")) : largest;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A thread or child ended while being read; the next sample catches up.
            }
            stop.WaitHandle.WaitOne(20);
        }
        return largest;
    }

    /// <summary>Notes when DbOps moves from writing the backup to counting its rows, to split the time in two.</summary>
    private sealed class PhaseClock : IOperationObserver
    {
        private readonly Stopwatch _clock = new();

        public double? WriteSeconds { get; private set; }

        public void Restart()
        {
            WriteSeconds = null;
            _clock.Restart();
        }

        public void Progress(OperationProgress progress)
        {
            // BackupService reports this once, after the engine has written the file and counted its rows.
            if (WriteSeconds is null && progress.Status.StartsWith("Hashing and flushing", StringComparison.Ordinal))
            {
                WriteSeconds = _clock.Elapsed.TotalSeconds;
            }
        }

        public void Verbose(string message)
        {
        }

        public void Warning(string message)
        {
        }
    }
}
