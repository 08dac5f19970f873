using System.Diagnostics;
using System.Globalization;
using DbOps.Testing;
using Npgsql;

namespace DbOps.Bench;

/// <summary>
/// Whole processes, as a scheduler runs them: each DbOps run is a fresh <c>pwsh -NoProfile -File</c> that imports the
/// module, connects and does one job; each peer run is the tool a DBA would script instead, followed by <c>sync</c>
/// where it writes a file (DbOps flushes its own files). Peer and DbOps run back to back, alternating which goes first,
/// after one untimed warm-up of each; medians over the timed rounds. Peak RSS is GNU time's %M: the largest process
/// of the run (pwsh, or pg_dump/psql), in KiB. A second part times the phases inside one pwsh process (start-up,
/// import, first connection, a command's first and second call) to show where a whole process spends its time.
/// </summary>
internal static class ProcessBench
{
    private const string Usage =
        "Usage: dotnet run -c Release --project bench/DbOps.Bench -- process [--rows N] [--runs K] [--module <DbOps.psd1>] [--versus <DbOps.psd1>] [--pwsh <pwsh.dll>]\n" +
        "       --versus: instead of the peers, pair each DbOps process with the same process importing another build of the module (ReadyToRun)\n" +
        "       --pwsh: the pwsh.dll to run instead of the pinned tool's (a precompiled copy: bench/precompile-pwsh.ps1)\n" +
        "       --only export,backup,orphan: only these works (start-up is still timed), and not the phases inside one process\n" +
        "       --floor: the DbOps.Bench.dll whose FloorClient to run (a ReadyToRun publish of this project) instead of this one";

    public static async Task<int> MainAsync(string[] args)
    {
        long rows = 500_000;
        var runs = 3;
        var module = FindModule();
        string? versus = null;
        string? pwshDll = null;
        string[]? only = null;
        var floorDll = typeof(FloorClient).Assembly.Location;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rows": rows = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--module": module = Path.GetFullPath(args[++i]); break;
                case "--versus": versus = Path.GetFullPath(args[++i]); break;
                case "--pwsh": pwshDll = Path.GetFullPath(args[++i]); break;
                case "--only":
                    only = args[++i].Split(',');
                    if (only.Except(["export", "backup", "orphan"]).Any())
                    {
                        Console.Error.WriteLine(Usage);
                        return 2;
                    }
                    break;
                case "--floor": floorDll = Path.GetFullPath(args[++i]); break;
                default: Console.Error.WriteLine(Usage); return 2;
            }
        }
        using var cluster = BenchCluster.TryStart();
        if (cluster is null)
        {
            return 1;
        }
        Console.WriteLine($"Whole-process bench: {rows:N0} rows, {runs} timed rounds, module {module}, {Environment.ProcessorCount} cores, " +
                          $"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        var database = Load(cluster, rows);
        var folder = Program.NewTempFolder();
        try
        {
            var output = Path.Combine(folder, "out");
            var connection = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database));
            var environment = new Dictionary<string, string>
            {
                ["PGHOST"] = connection.Host!, ["PGPORT"] = connection.Port.ToString(CultureInfo.InvariantCulture),
                ["PGUSER"] = connection.Username!, ["PGPASSWORD"] = connection.Password ?? "", ["PGDATABASE"] = database,
                ["DBOPS_BENCH_PG_CONNECTION"] = connection.ConnectionString, ["DBOPS_BENCH_PG_BIN"] = cluster.BinFolder,
                ["DBOPS_BENCH_MODULE"] = module, ["DBOPS_BENCH_OUT"] = output, ["DBOPS_JOURNAL"] = Path.Combine(folder, "journal.jsonl"),
            };
            string[] pwsh = pwshDll is null ? await FindPwshAsync() : ["dotnet", pwshDll];
            Console.WriteLine($"pwsh: {string.Join(' ', pwsh)}; floor: {floorDll}");
            string[] Pwsh(string script) => [.. pwsh, "-NoProfile", "-NonInteractive", "-File", WriteScript(folder, script)];
            string[] Shell(string command) => ["/bin/sh", "-c", command];
            string[] Floor(params string[] work) => ["dotnet", floorDll, "floor", .. work];
            var bin = cluster.BinFolder;
            var import = ImportOf(module);
            if (versus is not null)
            {
                await VersusAsync(Pwsh, ImportOf(versus), import, runs, environment, output);
                return 0;
            }

            Console.WriteLine("\nStart-up alone (median of the timed runs)");
            foreach (var (name, command) in new[]
            {
                ("pwsh -c exit", Pwsh("exit 0")),
                ("pwsh + Import-Module DbOps", Pwsh(import)),
                ("... + Connect-Database", Pwsh(import + "$null = Connect-Database -ConnectionString $env:DBOPS_BENCH_PG_CONNECTION\n")),
                ("floor: dotnet start-up alone", Floor("hello")),
            })
            {
                var samples = new List<Run>();
                for (var round = 0; round <= runs; round++)
                {
                    var run = await TimeAsync(command, environment, output);
                    if (round > 0)
                    {
                        samples.Add(run);
                    }
                }
                Console.WriteLine($"  {name,-40} {Median(samples),6:F2} s  peak RSS {samples.Max(s => s.PeakKiB) / 1024,4} MiB");
            }

            Console.WriteLine($"\nWhole processes, the peer, the floor (a bare .NET client: FloorClient) and DbOps in turn, the first of each round " +
                              $"rotating; medians of {runs}; ratios to the peer");
            foreach (var (name, peer, floors, ours) in new (string, string[], (string Name, string[] Command)[], string[])[]
            {
                ("Export-TableArchive CSV",
                 Shell($"'{bin}/psql' -q -v ON_ERROR_STOP=1 -c \"\\copy events TO '{output}/events.csv' CSV HEADER\" && sync"),
                 [("floor: COPY to a file", Floor("export", $"{output}/events.csv")),
                  ("floor: + row and file hashes", Floor("export-hashed", $"{output}/events.csv"))],
                 Pwsh(import + "$null = Export-TableArchive -Database $env:DBOPS_BENCH_PG_CONNECTION -Table events -Destination $env:DBOPS_BENCH_OUT -ToolPath $env:DBOPS_BENCH_PG_BIN\n")),
                ("Backup-Database",
                 Shell($"'{bin}/pg_dump' -Fc -f '{output}/db.dump' && sync"),
                 [],
                 Pwsh(import + "$null = Backup-Database $env:DBOPS_BENCH_PG_CONNECTION -Destination $env:DBOPS_BENCH_OUT -ToolPath $env:DBOPS_BENCH_PG_BIN\n")),
                ("Test-DataIntegrity orphan check",
                 Shell($"'{bin}/psql' -q -At -v ON_ERROR_STOP=1 -c 'SELECT count(*) FROM orders o WHERE o.customer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)' > /dev/null"),
                 [("floor: the anti-join over Npgsql", Floor("orphan"))],
                 Pwsh(import + "$null = Test-DataIntegrity $env:DBOPS_BENCH_PG_CONNECTION -Table orders -Check OrphanedRows -Relationship @{ 'orders.customer_id' = 'customers.id' }\n")),
            })
            {
                if (only is not null && !only.Any(work => name.Contains(work, StringComparison.OrdinalIgnoreCase)))
                {
                    continue;
                }
                // Round 0 warms every one; then the one that goes first rotates (in a fixed cycle: each goes first equally
                // often when the rounds are a multiple of the contenders), so a slow spell does not hit one of them only.
                var contenders = new List<(string Name, string[] Command)> { ("peer", peer) };
                contenders.AddRange(floors);
                contenders.Add(("DbOps", ours));
                var samples = contenders.Select(_ => new List<Run>()).ToList();
                for (var round = 0; round <= runs; round++)
                {
                    for (var turn = 0; turn < contenders.Count; turn++)
                    {
                        var which = (round + turn) % contenders.Count;
                        var run = await TimeAsync(contenders[which].Command, environment, output);
                        if (round > 0)
                        {
                            samples[which].Add(run);
                        }
                    }
                }
                Console.WriteLine($"  {name}");
                for (var i = 0; i < contenders.Count; i++)
                {
                    Console.WriteLine($"    {contenders[i].Name,-36} {Median(samples[i]),6:F2}s {Median(samples[i]) / Median(samples[0]),5:F2}x  " +
                                      $"peak RSS {samples[i].Max(s => s.PeakKiB) / 1024,4} MiB  runs {string.Join(" ", samples[i].Select(p => p.Seconds.ToString("F2")))}");
                }
            }

            if (only is not null)
            {
                return 0;
            }
            Console.WriteLine($"\nInside one pwsh process (milliseconds, median of {runs}): a command's first call pays JIT and first connections, its second does not");
            var phases = new Dictionary<string, List<double>>();
            for (var round = 0; round < runs; round++)
            {
                var text = await Program.RunToolAsync(pwsh[0], Pwsh(Phases)[1..], environment);
                foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    var (phase, ms) = (line[..line.LastIndexOf(' ')], double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
                    (phases.TryGetValue(phase, out var list) ? list : phases[phase] = []).Add(ms);
                }
                Clean(output);
            }
            foreach (var (phase, values) in phases)
            {
                Console.WriteLine($"  {phase,-40} {Program.Median(values),8:F0}");
            }
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string ImportOf(string module) => $"$ErrorActionPreference = 'Stop'\nImport-Module '{module}'\n";

    // Each phase's wall time inside one process, as "name milliseconds" lines.
    private const string Phases = """
        $ErrorActionPreference = 'Stop'
        $clock = [Diagnostics.Stopwatch]::StartNew()
        function Lap([string] $name) { '{0} {1:F1}' -f $name, $clock.Elapsed.TotalMilliseconds; $clock.Restart() }
        '{0} {1:F1}' -f 'pwsh start to script (process uptime)', ((Get-Date) - (Get-Process -Id $PID).StartTime).TotalMilliseconds
        $clock.Restart()
        Import-Module $env:DBOPS_BENCH_MODULE; Lap 'Import-Module'
        $db = Connect-Database -ConnectionString $env:DBOPS_BENCH_PG_CONNECTION; Lap 'Connect-Database (first)'
        $null = Connect-Database -ConnectionString $env:DBOPS_BENCH_PG_CONNECTION; Lap 'Connect-Database (second)'
        $null = Test-DataIntegrity $db -Table orders -Check OrphanedRows -Relationship @{ 'orders.customer_id' = 'customers.id' }; Lap 'orphan check (first)'
        $null = Test-DataIntegrity $db -Table orders -Check OrphanedRows -Relationship @{ 'orders.customer_id' = 'customers.id' }; Lap 'orphan check (second)'
        $null = Export-TableArchive $db -Table customers -Destination (Join-Path $env:DBOPS_BENCH_OUT a) -ToolPath $env:DBOPS_BENCH_PG_BIN; Lap 'export customers (first)'
        $null = Export-TableArchive $db -Table customers -Destination (Join-Path $env:DBOPS_BENCH_OUT b) -ToolPath $env:DBOPS_BENCH_PG_BIN; Lap 'export customers (second)'
        $null = Export-TableArchive $db -Table events -Destination (Join-Path $env:DBOPS_BENCH_OUT c) -ToolPath $env:DBOPS_BENCH_PG_BIN; Lap 'export events (warm)'
        $null = Backup-Database $db -Destination $env:DBOPS_BENCH_OUT -ToolPath $env:DBOPS_BENCH_PG_BIN; Lap 'Backup-Database (first)'
        $null = Backup-Database $db -Destination $env:DBOPS_BENCH_OUT -ToolPath $env:DBOPS_BENCH_PG_BIN; Lap 'Backup-Database (second)'
        """;

    private sealed record Run(double Seconds, long PeakKiB);

    /// <summary>Import plus a first command, the other build first then this one, alternating; medians.</summary>
    private static async Task VersusAsync(
        Func<string, string[]> pwsh, string importOther, string importThis, int runs, IReadOnlyDictionary<string, string> environment, string output)
    {
        Console.WriteLine($"\nThe other build (--versus) against this one (--module), alternating; medians of {runs}");
        foreach (var (name, work) in new[]
        {
            ("import", ""),
            ("import + Connect-Database", "$null = Connect-Database -ConnectionString $env:DBOPS_BENCH_PG_CONNECTION\n"),
            ("import + orphan check", "$null = Test-DataIntegrity $env:DBOPS_BENCH_PG_CONNECTION -Table orders -Check OrphanedRows -Relationship @{ 'orders.customer_id' = 'customers.id' }\n"),
            ("import + Export-TableArchive", "$null = Export-TableArchive -Database $env:DBOPS_BENCH_PG_CONNECTION -Table events -Destination $env:DBOPS_BENCH_OUT -ToolPath $env:DBOPS_BENCH_PG_BIN\n"),
        })
        {
            var other = new List<Run>();
            var mine = new List<Run>();
            for (var round = 0; round <= runs; round++)
            {
                var otherFirst = round % 2 == 0;
                var first = await TimeAsync(pwsh((otherFirst ? importOther : importThis) + work), environment, output);
                var second = await TimeAsync(pwsh((otherFirst ? importThis : importOther) + work), environment, output);
                if (round > 0)
                {
                    other.Add(otherFirst ? first : second);
                    mine.Add(otherFirst ? second : first);
                }
            }
            Console.WriteLine($"  {name,-34} other {Median(other),6:F2}s  this {Median(mine),6:F2}s  other/this {Median(other) / Median(mine),5:F2}  " +
                              $"RSS {other.Max(r => r.PeakKiB) / 1024} / {mine.Max(r => r.PeakKiB) / 1024} MiB");
            Console.WriteLine($"  {"",-34} runs: other {string.Join(" ", other.Select(p => p.Seconds.ToString("F2")))} | this {string.Join(" ", mine.Select(p => p.Seconds.ToString("F2")))}");
        }
    }

    /// <summary>One process from start to exit, under GNU time for its peak RSS; the output folder is emptied before, untimed.</summary>
    private static async Task<Run> TimeAsync(string[] command, IReadOnlyDictionary<string, string> environment, string output)
    {
        Clean(output);
        var rss = Path.GetTempFileName();
        try
        {
            var clock = Stopwatch.StartNew();
            await Program.RunToolAsync("/usr/bin/time", ["-f", "%M", "-o", rss, .. command], environment);
            var seconds = clock.Elapsed.TotalSeconds;
            return new Run(seconds, long.Parse(File.ReadAllText(rss).Trim().Split('\n')[^1], CultureInfo.InvariantCulture));
        }
        finally
        {
            File.Delete(rss);
        }
    }

    private static void Clean(string output)
    {
        if (Directory.Exists(output))
        {
            Directory.Delete(output, recursive: true);
        }
        Directory.CreateDirectory(output);
    }

    private static double Median(List<Run> runs) => Program.Median(runs.Select(r => r.Seconds).ToList());

    private static string WriteScript(string folder, string text)
    {
        var path = Path.Combine(folder, $"run-{Guid.NewGuid():N}.ps1");
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>
    /// pwsh as an installed pwsh runs: the pinned tool's pwsh.dll under the dotnet host, without <c>dotnet pwsh</c>'s
    /// tool look-up and its second process.
    /// </summary>
    private static async Task<string[]> FindPwshAsync()
    {
        var home = (await Program.RunToolAsync("dotnet", ["pwsh", "-NoProfile", "-c", "$PSHOME"])).Trim();
        return ["dotnet", Path.Combine(home, "pwsh.dll")];
    }

    private static string FindModule()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "out", "DbOps", "DbOps.psd1");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("out/DbOps/DbOps.psd1 was not found: build the solution first.");
    }

    /// <summary>events (the export), customers and orders with 1% orphans (the orphan check); the whole database is the backup.</summary>
    private static string Load(PostgresCluster cluster, long rows)
    {
        var db = cluster.CreateDatabase("bench_process");
        cluster.Execute(db, $"""
            CREATE TABLE events (id bigint PRIMARY KEY, account integer NOT NULL, happened_at timestamptz NOT NULL,
                                 kind text NOT NULL, amount numeric(12,2), note text);
            INSERT INTO events
            SELECT i, 1 + (i * 7919) % 100000, timestamptz '2021-01-01 00:00:00+00' + i * interval '1.5 seconds',
                   (ARRAY['login', 'purchase', 'refund', 'logout'])[1 + i % 4], round((random() * 10000)::numeric, 2),
                   CASE WHEN i % 3 = 0 THEN md5(i::text) END
            FROM generate_series(1::bigint, {rows}) AS i;
            CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL);
            INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(1, {Math.Max(1, rows / 10)}) AS i;
            CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer, total numeric(12,2) NOT NULL);
            INSERT INTO orders SELECT i, CASE WHEN i % 100 = 0 THEN -i ELSE 1 + i % {Math.Max(1, rows / 10)} END, i % 1000
            FROM generate_series(1, {rows}) AS i;
            """);
        cluster.Execute(db, "VACUUM ANALYZE");
        return db;
    }
}
