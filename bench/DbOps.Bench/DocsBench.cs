using System.Diagnostics;
using System.Globalization;
using DbOps.Core.Connections;
using DbOps.Core.Documentation;
using DbOps.Core.Progress;
using DbOps.Testing;
using Microsoft.Data.Sqlite;

namespace DbOps.Bench;

/// <summary>
/// Export-DatabaseDocumentation on one wide-enough table of N rows (six columns: a key, repeating integers and
/// text, a float, a third NULL): what the column profile costs against catalog reads and row counts alone, on
/// SQLite (one aggregate query) and on PostgreSQL before ANALYZE (one aggregate query) and after it (pg_stats).
/// </summary>
internal static class DocsBench
{
    private const string Usage = "Usage: dotnet run -c Release --project bench/DbOps.Bench -- docs [--rows N] [--runs K]";

    public static async Task<int> RunAsync(string[] args)
    {
        var rows = 1_000_000L;
        var runs = 3;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            (rows, runs) = args[i] switch
            {
                "--rows" => (long.Parse(args[i + 1], CultureInfo.InvariantCulture), runs),
                "--runs" => (rows, int.Parse(args[i + 1], CultureInfo.InvariantCulture)),
                _ => throw new ArgumentException(Usage),
            };
        }
        Console.WriteLine($"Export-DatabaseDocumentation, one table of {rows:N0} rows x 6 columns; median of {runs} runs after a warm-up");
        using var folder = new TempFolder();

        var sqlitePath = folder.File("docs-bench.db");
        using (var connection = new SqliteConnection($"Data Source={sqlitePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"""
                CREATE TABLE big (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL, d TEXT, e INTEGER);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
                INSERT INTO big SELECT i, i % 1000, 'name-' || (i % 50000), i * 0.5, CASE WHEN i % 3 = 0 THEN NULL ELSE hex(i) END, i % 7 FROM n;
                """;
            command.ExecuteNonQuery();
        }
        var sqlite = await DatabaseConnector.ConnectSqliteAsync(sqlitePath, create: false, CancellationToken.None);
        await TimeAsync("SQLite, profiled (aggregate query)", sqlite, folder, profile: true, runs);
        await TimeAsync("SQLite, -NoProfile", sqlite, folder, profile: false, runs);

        using var cluster = new PostgresCluster();
        var database = cluster.CreateDatabase("docsbench");
        cluster.Execute(database, $"""
            CREATE TABLE big (id int PRIMARY KEY, a int, b text, c float8, d text, e int) WITH (autovacuum_enabled = off);
            INSERT INTO big SELECT i, i % 1000, 'name-' || (i % 50000), i * 0.5, CASE WHEN i % 3 = 0 THEN NULL ELSE md5(i::text) END, i % 7
            FROM generate_series(1, {rows}) i;
            """);
        var postgres = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);
        await TimeAsync("PostgreSQL, not analysed (aggregate query)", postgres, folder, profile: true, runs);
        await TimeAsync("PostgreSQL, -NoProfile", postgres, folder, profile: false, runs);
        cluster.Execute(database, "ANALYZE big");
        await TimeAsync("PostgreSQL, analysed (pg_stats)", postgres, folder, profile: true, runs);
        return 0;
    }

    private static async Task TimeAsync(string label, DbOpsConnection connection, TempFolder folder, bool profile, int runs)
    {
        var request = new DocumentationRequest(connection, folder.File("docs"), JournalPath: folder.File("journal.jsonl"), Profile: profile);
        await DocumentationService.ExportAsync(request, NullObserver.Instance, CancellationToken.None);
        var seconds = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var clock = Stopwatch.StartNew();
            await DocumentationService.ExportAsync(request, NullObserver.Instance, CancellationToken.None);
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        Console.WriteLine($"  {label,-44} {Program.Median(seconds),6:F2} s   runs: {string.Join(" ", seconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))}");
    }
}
