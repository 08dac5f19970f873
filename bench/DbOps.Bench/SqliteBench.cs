using Dapper;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using Microsoft.Data.Sqlite;

namespace DbOps.Bench;

/// <summary>Backup-Database against the sqlite3 shell's <c>.backup</c> on the same SQLite file.</summary>
internal static class SqliteBench
{
    /// <summary>Bump when the generated schema or data changes, so stale cached files are not reused.</summary>
    private const string DataVersion = "v1";

    public static async Task<Comparison?> RunAsync(Options options)
    {
        var sqlite3 = FindOnPath("sqlite3");
        if (sqlite3 is null)
        {
            Console.WriteLine("SQLite skipped: the sqlite3 command-line shell is not on PATH. Install it (Debian/Ubuntu: apt-get install sqlite3).");
            return null;
        }
        var cliVersion = (await Program.RunToolAsync(sqlite3, ["--version"])).Split(' ')[0];
        var smallMb = Math.Max(1, options.SqliteMb / 10);
        Console.WriteLine($"SQLite (shell {cliVersion}): databases of {options.SqliteMb} MB and {smallMb} MB, cached under {Path.GetTempPath()}...");
        var large = await EnsureDatabaseAsync(options.SqliteMb);
        var small = await EnsureDatabaseAsync(smallMb);
        var source = await DatabaseConnector.ConnectSqliteAsync(large.Path, create: false, default);
        Console.WriteLine($"  {large.Path}: {Program.Mb(new FileInfo(large.Path).Length)} MB, {large.Rows:N0} rows; DbOps uses SQLite {source.ServerVersion}");

        var samples = await Program.AlternateAsync(options.Runs,
            folder => Program.RunToolAsync(sqlite3, [large.Path, $".backup '{Path.Combine(folder, "peer.sqlite")}'"]),
            async (folder, observer) =>
            {
                var connection = await DatabaseConnector.ConnectSqliteAsync(large.Path, create: false, default);
                var result = await BackupService.BackupAsync(new BackupRequest(connection, folder), observer, default);
                var counted = result.Tables.Sum(t => t.Rows);
                if (counted != large.Rows)
                {
                    throw new InvalidOperationException($"The backup counted {counted} rows, the database holds {large.Rows}.");
                }
            });

        Console.WriteLine("  peak memory: one backup of each size in a fresh process...");
        var smallPeak = await Program.MeasureMemoryAsync("sqlite", small.Path, $"{Program.Mb(new FileInfo(small.Path).Length)} MB file");
        var largePeak = await Program.MeasureMemoryAsync("sqlite", large.Path, $"{Program.Mb(new FileInfo(large.Path).Length)} MB file");

        return new Comparison(
            $"SQLite: {Program.Mb(new FileInfo(large.Path).Length)} MB file, {large.Rows:N0} rows in 2 tables (shell {cliVersion}, DbOps {source.ServerVersion})",
            "sqlite3 .backup", "Backup-Database", samples, "copy + row count", 1.2, smallPeak, largePeak);
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program))
            .FirstOrDefault(File.Exists);

    /// <summary>
    /// A database of about <paramref name="megabytes"/> MB, built once and cached under /tmp (building 400 MB takes a while).
    /// It is built under a temporary name and renamed when complete, so an interrupted build is never reused.
    /// </summary>
    private static async Task<(string Path, long Rows)> EnsureDatabaseAsync(int megabytes)
    {
        var path = Path.Combine(Path.GetTempPath(), $"dbops-bench-sqlite-{DataVersion}-{megabytes}mb.db");
        if (!File.Exists(path))
        {
            Console.WriteLine($"  building {path} (once)...");
            var building = path + ".building";
            File.Delete(building);
            await using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = building, Pooling = false }.ToString()))
            {
                await connection.OpenAsync();
                await BuildAsync(connection, megabytes);
            }
            File.Move(building, path);
        }
        await using var check = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadOnly }.ToString());
        return (path, await check.ExecuteScalarAsync<long>("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM events)"));
    }

    /// <summary>
    /// Users and their events with random hex payloads (so pages hold real, varied data), inserted with a recursive CTE in
    /// batches until the file reaches the target size. Build-only speed-ups: no journal, no fsync.
    /// </summary>
    private static async Task BuildAsync(SqliteConnection connection, int megabytes)
    {
        var users = megabytes * 250L;
        // About 18 MB per 100,000 events: smaller batches for small files keep the overshoot past the target small.
        var batch = Math.Min(100_000L, users);
        await connection.ExecuteAsync($"""
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, created_at TEXT NOT NULL);
            CREATE TABLE events (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), occurred_at TEXT NOT NULL,
                                 kind TEXT NOT NULL, amount REAL, payload TEXT NOT NULL);
            CREATE INDEX events_user ON events (user_id);
            WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {users})
            INSERT INTO users SELECT i, 'User ' || i, lower(hex(randomblob(8))) || '@example.com', datetime(1500000000 + i * 60, 'unixepoch') FROM c;
            """);
        for (var from = 1L; await connection.ExecuteScalarAsync<long>("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")
                            < megabytes * 1048576L; from += batch)
        {
            await connection.ExecuteAsync($"""
                WITH RECURSIVE c(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM c WHERE i < {from + batch - 1})
                INSERT INTO events
                SELECT i, 1 + abs(random()) % {users}, datetime(1600000000 + i * 13, 'unixepoch'),
                       CASE i % 4 WHEN 0 THEN 'view' WHEN 1 THEN 'click' WHEN 2 THEN 'purchase' ELSE 'refund' END,
                       (abs(random()) % 100000) / 100.0, hex(randomblob(64))
                FROM c;
                """);
        }
    }
}
