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
/// Usage: dotnet run -c Release --project bench/DbOps.Bench -- archive [--rows N] [--runs K] [--export-only]
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
        args = args.Where(a => a != "--export-only").ToArray();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--rows": rows = long.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"Unknown option {args[i]}");
            }
        }
        Console.WriteLine($"DbOps.Bench archive on {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, .NET {Environment.Version}, " +
                          $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        using var cluster = new PostgresCluster();
        var version = cluster.Scalar<string>("postgres", "SHOW server_version");
        var large = Load(cluster, rows);
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
