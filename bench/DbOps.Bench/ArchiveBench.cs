using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Progress;
using DbOps.Testing;
using Npgsql;

namespace DbOps.Bench;

/// <summary>
/// Export-TableArchive and Import-TableArchive against raw COPY on one PostgreSQL table, timed alternately in one run:
/// export against psql's <c>\copy t TO 'file' (FORMAT csv)</c> (COPY ... TO STDOUT written to a file), import against
/// <c>\copy t FROM 'file' (FORMAT csv)</c> into the same table definition (with its primary key); then DbOps's peak memory exporting and importing
/// at 1/5 and all of the rows, each in a fresh process.
/// Usage: dotnet run -c Release --project bench/DbOps.Bench -- archive [--rows N] [--runs K] [--export-only] [--parallel N]
/// With --parallel N (issue 22): only exports, COPY against Export-TableArchive -Parallel 1 and -Parallel N, alternating,
/// with the server's and this process's CPU seconds for each.
/// </summary>
internal static class ArchiveBench
{
    private const string ConnectionVariable = "DBOPS_BENCH_ARCHIVE_CONNECTION";

    /// <summary>A table of common types: keys, timestamps, text, numerics, a nullable column, a boolean and a double.</summary>
    private const string TableSql = """
        CREATE TABLE events (id bigint PRIMARY KEY, account integer NOT NULL, happened_at timestamptz NOT NULL,
                             kind text NOT NULL, amount numeric(12,2) NOT NULL, note text, ok boolean NOT NULL, score double precision)
        """;

    public static async Task<int> MainAsync(string[] args)
    {
        if (args is ["--measure-memory", var mode, var manifest])
        {
            return await MeasureChildAsync(mode, manifest);
        }
        long rows = 5_000_000;
        var runs = 3;
        var exportOnly = args.Contains("--export-only");
        var parallel = 1;
        args = args.Where(a => a != "--export-only").ToArray();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--rows": rows = long.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--parallel": parallel = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"Unknown option {args[i]}");
            }
        }
        Console.WriteLine($"DbOps.Bench archive on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, " +
                          $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        using var cluster = new PostgresCluster();
        var version = cluster.Scalar<string>("postgres", "SHOW server_version");
        var large = Load(cluster, rows);
        if (parallel > 1)
        {
            return await CompareParallelAsync(cluster, large, rows, runs, parallel);
        }
        var small = Load(cluster, rows / 5);
        var target = cluster.CreateDatabase("bench_target");
        Console.WriteLine($"PostgreSQL {version}: events with {rows:N0} rows ({Program.Mb(cluster.Scalar<long>(large, "SELECT pg_total_relation_size('events')"))} MB) " +
                          $"and {rows / 5:N0} rows");

        var source = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(large), null, null, default);
        var targetConnection = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(target), null, null, default);
        var folder = Program.NewTempFolder();
        try
        {
            // Export: peer and ours alternately, each into a fresh folder.
            var exportSamples = await Program.AlternateAsync(runs,
                peerFolder => PsqlCopyAsync(cluster, large, $"\\copy events TO '{Path.Combine(peerFolder, "events.csv")}' WITH (FORMAT csv)"),
                (oursFolder, observer) => ArchiveService.ExportAsync(new ArchiveExportRequest(source, "events", oursFolder, ToolPath: cluster.BinFolder),
                    observer, default));

            if (exportOnly)
            {
                Print("export", "COPY TO STDOUT csv -> file", "Export-TableArchive", exportSamples.Peer, exportSamples.Ours, 0.8);
                return 0;
            }
            // Import: one archive and one raw file, loaded alternately into an empty target.
            var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "events", folder, ToolPath: cluster.BinFolder), NullObserver.Instance, default);
            var peerImport = new List<double>();
            var oursImport = new List<double>();
            for (var round = 0; round <= runs; round++)
            {
                cluster.Execute(target, "DROP TABLE IF EXISTS events; " + TableSql);
                var clock = Stopwatch.StartNew();
                await PsqlCopyAsync(cluster, target, $"\\copy events FROM '{archive.DataPath}' WITH (FORMAT csv)");
                var peer = clock.Elapsed.TotalSeconds;
                cluster.Execute(target, "DROP TABLE events");
                clock.Restart();
                var phases = new Phases();
                var result = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, targetConnection), phases, default);
                var ours = clock.Elapsed.TotalSeconds;
                if (result.RowCount != rows)
                {
                    throw new InvalidOperationException($"Imported {result.RowCount} rows, expected {rows}.");
                }
                Console.WriteLine($"  {(round == 0 ? "warm-up" : $"run {round}/{runs}"),-9} import: peer {peer,6:F2} s   DbOps {ours,6:F2} s   ({phases})");
                if (round > 0)
                {
                    peerImport.Add(peer);
                    oursImport.Add(ours);
                }
            }
            cluster.Execute(target, "DROP TABLE IF EXISTS events");

            Console.WriteLine("  peak memory: one export and one import of each size in a fresh process...");
            var smallArchive = await ArchiveService.ExportAsync(new ArchiveExportRequest(
                await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(small), null, null, default), "events", Path.Combine(folder, "small"),
                ToolPath: cluster.BinFolder), NullObserver.Instance, default);
            var memory = new List<(string Label, long Bytes)>();
            foreach (var (label, database, manifestPath) in new[] { ($"{rows / 5:N0} rows", small, smallArchive.ManifestPath), ($"{rows:N0} rows", large, archive.ManifestPath) })
            {
                memory.Add(($"export {label}", await MeasureAsync("export", cluster.ConnectionString(database), manifestPath)));
                cluster.Execute(target, "DROP TABLE IF EXISTS events");
                memory.Add(($"import {label}", await MeasureAsync("import", cluster.ConnectionString(target), manifestPath)));
                cluster.Execute(target, "DROP TABLE IF EXISTS events");
            }

            Console.WriteLine();
            Console.WriteLine($"== PostgreSQL {version}: table events, {rows:N0} rows, CSV {Program.Mb(archive.SizeBytes)} MB; {runs} timed runs each, alternating, after one warm-up ==");
            Print("export", "COPY TO STDOUT csv -> file", "Export-TableArchive", exportSamples.Peer, exportSamples.Ours, 0.8);
            Print("import", "COPY FROM STDIN csv <- file", "Import-TableArchive", peerImport, oursImport, 0.7);
            Console.WriteLine("  peak memory (working set of a fresh process doing one operation):");
            foreach (var (label, bytes) in memory)
            {
                Console.WriteLine($"    {label,-28} {Program.Mb(bytes),6} MB");
            }
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Issue 22: psql's COPY, Export-TableArchive over one connection and over <paramref name="parallel"/>, in a rotating order
    /// each round (so none always runs first), each into a fresh folder; wall time, server CPU and client CPU seconds.
    /// </summary>
    private static async Task<int> CompareParallelAsync(PostgresCluster cluster, string database, long rows, int runs, int parallel)
    {
        var source = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, default);
        // The checkpointer lives as long as the server: its parent is the postmaster.
        var postmaster = ParentOf(cluster.Scalar<int>(database, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"));
        var size = cluster.Scalar<long>(database, "SELECT pg_total_relation_size('events')");
        var contenders = new (string Name, Func<string, Task<double?>> Run)[]
        {
            ("COPY TO STDOUT -> file (psql)", async folder =>
            {
                await PsqlCopyAsync(cluster, database, $"\\copy events TO '{Path.Combine(folder, "events.csv")}' WITH (FORMAT csv)");
                return null;
            }),
            ("Export-TableArchive -Parallel 1", async folder =>
            {
                await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "events", folder, ToolPath: cluster.BinFolder), NullObserver.Instance, default);
                return null;
            }),
            ($"Export-TableArchive -Parallel {parallel}", async folder =>
            {
                var joins = new JoinClock();
                await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "events", folder, ToolPath: cluster.BinFolder) { Parallel = parallel }, joins, default);
                return joins.Seconds;
            }),
        };
        var samples = contenders.Select(_ => new List<(double Wall, double Server, double Client, double? Join)>()).ToList();
        for (var round = 0; round <= runs; round++)
        {
            var line = new List<string>();
            for (var k = 0; k < contenders.Length; k++)
            {
                var c = (k + round) % contenders.Length;
                var folder = Program.NewTempFolder();
                try
                {
                    var (server, client) = (ServerCpuSeconds(postmaster), Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds);
                    var clock = Stopwatch.StartNew();
                    var join = await contenders[c].Run(folder);
                    var wall = clock.Elapsed.TotalSeconds;
                    var sample = (wall, ServerCpuSeconds(postmaster) - server, Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - client, join);
                    line.Add($"{contenders[c].Name.Split(' ')[^1]} {wall:F2} s");
                    if (round > 0)
                    {
                        samples[c].Add(sample);
                    }
                }
                finally
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
            Console.WriteLine($"  {(round == 0 ? "warm-up" : $"run {round}/{runs}"),-9} {string.Join("   ", line)}");
        }
        Console.WriteLine();
        Console.WriteLine($"== table events, {rows:N0} rows ({Program.Mb(size)} MB on disk); {runs} timed rounds after one warm-up, order rotating; medians ==");
        Console.WriteLine($"  {"",-36} {"wall s",7} {"server CPU s",13} {"client CPU s",13} {"join s",7}   wall times");
        for (var c = 0; c < contenders.Length; c++)
        {
            var s = samples[c];
            var joins = s.Where(x => x.Join is not null).Select(x => x.Join!.Value).ToList();
            Console.WriteLine($"  {contenders[c].Name,-36} {Program.Median(s.Select(x => x.Wall).ToList()),7:F2} {Program.Median(s.Select(x => x.Server).ToList()),13:F2} " +
                              $"{(c == 0 ? "   (psql)" : Program.Median(s.Select(x => x.Client).ToList()).ToString("F2", CultureInfo.InvariantCulture)),13} " +
                              $"{(joins.Count > 0 ? Program.Median(joins).ToString("F2", CultureInfo.InvariantCulture) : ""),7}   " +
                              string.Join(" ", s.Select(x => x.Wall.ToString("F2", CultureInfo.InvariantCulture))));
        }
        return 0;
    }

    /// <summary>
    /// The CPU seconds the server has used: the postmaster's own and its reaped backends' (utime, stime, cutime, cstime in
    /// /proc), plus those of its backends still running. Backends of other clusters on the machine are not counted.
    /// </summary>
    private static double ServerCpuSeconds(int postmaster)
    {
        var ticks = Fields(postmaster) is { } own ? own[11] + own[12] + own[13] + own[14] : 0;
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(folder), out var pid) && Fields(pid) is { } f && f[1] == postmaster)
            {
                ticks += f[11] + f[12];
            }
        }
        return ticks / 100.0; // USER_HZ
    }

    private static int ParentOf(int pid) => (int)(Fields(pid)?[1] ?? 0);

    /// <summary>The numeric fields of /proc/pid/stat after the command name (index 0 is the state, shown as 0); null when it is gone.</summary>
    private static long[]? Fields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ').Select(f => long.TryParse(f, out var v) ? v : 0).ToArray();
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>How long a parallel export took to join its parts, from its verbose message.</summary>
    private sealed class JoinClock : IOperationObserver
    {
        public double? Seconds { get; private set; }

        public void Progress(OperationProgress progress)
        {
        }

        public void Verbose(string message)
        {
            var at = message.LastIndexOf(" in ", StringComparison.Ordinal);
            if (message.StartsWith("Joined ", StringComparison.Ordinal) && at > 0)
            {
                Seconds = double.Parse(message[(at + 4)..].TrimEnd('s', '.', ' '), CultureInfo.InvariantCulture);
            }
        }

        public void Warning(string message) => Console.WriteLine($"  warning: {message}");
    }

    /// <summary>Throughput ratio: rows per second of DbOps over the peer's, i.e. peer time over DbOps time.</summary>
    private static void Print(string what, string peerName, string oursName, List<double> peer, List<double> ours, double target)
    {
        var ratio = Program.Median(peer) / Program.Median(ours);
        Console.WriteLine($"  {what}: {peerName,-28} {Program.Median(peer),6:F2} s   ({string.Join(" ", peer.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))})");
        Console.WriteLine($"  {what}: {oursName,-28} {Program.Median(ours),6:F2} s   ({string.Join(" ", ours.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))})");
        Console.WriteLine($"  {what}: throughput ratio {ratio:F2}x of the peer; target >= {target:F2}x: {(ratio >= target ? "PASS" : "MISS")}" +
                          $"   (paired: {string.Join(" ", peer.Zip(ours, (p, o) => (p / o).ToString("F2", CultureInfo.InvariantCulture)))})");
    }

    private static string Load(PostgresCluster cluster, long rows)
    {
        var db = cluster.CreateDatabase("bench_archive");
        cluster.Execute(db, TableSql);
        cluster.Execute(db, $"""
            INSERT INTO events
            SELECT i, 1 + (i::bigint * 7919) % 100000, timestamptz '2021-01-01 00:00:00+00' + i * interval '1.5 seconds',
                   (ARRAY['login', 'purchase', 'refund', 'logout'])[1 + i % 4], round((random() * 10000)::numeric, 2),
                   CASE WHEN i % 3 = 0 THEN 'note, "quoted" ' || md5(i::text) END, i % 7 <> 0, random() * 1e6
            FROM generate_series(1, {rows}) AS i
            """);
        cluster.Execute(db, "VACUUM (ANALYZE) events");
        return db;
    }

    /// <summary>The peer: psql's \copy, the usual way to COPY a table to or from a client-side file.</summary>
    private static Task PsqlCopyAsync(PostgresCluster cluster, string database, string command)
    {
        var connection = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database));
        return Program.RunToolAsync(Path.Combine(cluster.BinFolder, "psql"),
            ["-h", connection.Host!, "-p", connection.Port.ToString(CultureInfo.InvariantCulture), "-U", connection.Username!, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-q", "-c", command],
            new Dictionary<string, string> { ["PGPASSWORD"] = connection.Password ?? "" });
    }

    private static async Task<long> MeasureAsync(string mode, string connectionString, string manifest)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot tell which program is running.");
        List<string> arguments = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [typeof(ArchiveBench).Assembly.Location] : [];
        var output = await Program.RunToolAsync(self, [.. arguments, "archive", "--measure-memory", mode, manifest],
            new Dictionary<string, string> { [ConnectionVariable] = connectionString });
        return long.Parse(output.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>The child: one export (of the table the manifest names, to a temporary folder) or one import, then its peak working set.</summary>
    private static async Task<int> MeasureChildAsync(string mode, string manifest)
    {
        var connection = await DatabaseConnector.ConnectPostgresAsync(
            Environment.GetEnvironmentVariable(ConnectionVariable) ?? throw new InvalidOperationException($"{ConnectionVariable} is not set."), null, null, default);
        if (mode == "export")
        {
            var folder = Program.NewTempFolder();
            try
            {
                await ArchiveService.ExportAsync(new ArchiveExportRequest(connection, "events", folder, ToolPath: Path.GetDirectoryName(FindPgDump())), NullObserver.Instance, default);
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        else
        {
            await ArchiveService.ImportAsync(new ArchiveImportRequest(manifest, connection), NullObserver.Instance, default);
        }
        using var me = Process.GetCurrentProcess();
        Console.WriteLine(me.PeakWorkingSet64.ToString(CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>When each step of an import began, from its progress reports.</summary>
    private sealed class Phases : IOperationObserver
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly List<(string Step, double At)> _steps = [];

        public void Progress(OperationProgress progress)
        {
            var step = char.IsDigit(progress.Status[0]) ? "Loading rows" : progress.Status;
            if (_steps.Count == 0 || _steps[^1].Step != step)
            {
                _steps.Add((step, _clock.Elapsed.TotalSeconds));
            }
        }

        public void Verbose(string message)
        {
        }

        public void Warning(string message)
        {
        }

        public override string ToString() =>
            string.Join(", ", _steps.Select((s, i) => $"{s.Step} {((i + 1 < _steps.Count ? _steps[i + 1].At : _clock.Elapsed.TotalSeconds) - s.At):F2} s"));
    }

    private static string FindPgDump() =>
        Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "pg_dump")).First(File.Exists);
}
