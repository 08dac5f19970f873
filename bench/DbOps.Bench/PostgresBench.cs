using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Testing;
using Npgsql;

namespace DbOps.Bench;

/// <summary>Backup-Database (no -Verify) against plain <c>pg_dump -Fc</c> on the same database of a throw-away cluster.</summary>
internal static class PostgresBench
{
    public static async Task<Comparison?> RunAsync(Options options)
    {
        if (BenchCluster.TryStart() is not { } cluster)
        {
            return null;
        }
        using (cluster)
        {
            var version = cluster.Scalar<string>("postgres", "SHOW server_version");
            Console.WriteLine($"PostgreSQL {version}: loading {options.PgRows:N0} rows and {options.PgRows / 10:N0} rows (generate_series, server-side)...");
            var large = Load(cluster, options.PgRows);
            var small = Load(cluster, options.PgRows / 10);
            Console.WriteLine($"  databases: {Program.Mb(large.Bytes)} MB and {Program.Mb(small.Bytes)} MB");

            var pgDump = Path.Combine(cluster.BinFolder, "pg_dump");
            var connection = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(large.Name));
            var environment = new Dictionary<string, string>
            {
                ["PGHOST"] = connection.Host!,
                ["PGPORT"] = connection.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["PGUSER"] = connection.Username!,
                ["PGPASSWORD"] = connection.Password ?? "",
            };
            long dumpBytes = 0;
            var samples = await Program.AlternateAsync(options.Runs,
                folder => Program.RunToolAsync(pgDump, ["-Fc", "-f", Path.Combine(folder, "peer.dump"), large.Name], environment),
                async (folder, observer) =>
                {
                    var source = await DatabaseConnector.ConnectPostgresAsync(connection.ConnectionString, null, null, default);
                    // The same pg_dump binary as the peer, so only what DbOps adds is measured.
                    var result = await BackupService.BackupAsync(new BackupRequest(source, folder, ToolPath: cluster.BinFolder), observer, default);
                    RequireRows(result, options.PgRows);
                    dumpBytes = result.SizeBytes;
                });

            Console.WriteLine("  peak memory: one backup of each size in a fresh process...");
            Task<MemoryPeak> MeasureAsync(string database, long rows) => Program.MeasureMemoryAsync("pg", database, $"{rows:N0} rows",
                new Dictionary<string, string>
                {
                    [Program.ConnectionVariable] = cluster.ConnectionString(database),
                    [Program.ToolPathVariable] = cluster.BinFolder,
                });
            var smallPeak = await MeasureAsync(small.Name, options.PgRows / 10);
            var largePeak = await MeasureAsync(large.Name, options.PgRows);

            return new Comparison(
                $"PostgreSQL {version}: {options.PgRows:N0} rows in 3 tables, database {Program.Mb(large.Bytes)} MB, dump {Program.Mb(dumpBytes)} MB",
                "pg_dump -Fc", "Backup-Database", samples, "dump + row count", 1.1, smallPeak, largePeak);
        }
    }

    private static void RequireRows(BackupResult result, long expected)
    {
        var counted = result.Tables.Sum(t => t.Rows);
        if (counted != expected)
        {
            throw new InvalidOperationException($"The backup counted {counted} rows, the database holds {expected}.");
        }
    }

    /// <summary>
    /// An orders schema (ints, timestamps, text, numerics) filled server-side in one statement per table; keys are added
    /// after loading because checking them row by row would dominate the set-up time. Returns the database and its size.
    /// </summary>
    private static (string Name, long Bytes) Load(PostgresCluster cluster, long rows)
    {
        var db = cluster.CreateDatabase("bench");
        var customers = Math.Max(1, rows / 15);
        var orders = Math.Max(1, rows * 2 / 5);
        var lines = rows - customers - orders;
        string[] statements =
        [
            """
            CREATE TABLE customers (id integer NOT NULL, name text NOT NULL, email text NOT NULL,
                                    created_at timestamptz NOT NULL, balance numeric(12,2) NOT NULL)
            """,
            $"""
            INSERT INTO customers
            SELECT i, 'Customer ' || i, md5(i::text) || '@example.com',
                   timestamptz '2020-01-01 00:00:00+00' + i * interval '37 seconds', round((random() * 10000)::numeric, 2)
            FROM generate_series(1, {customers}) AS i
            """,
            """
            CREATE TABLE orders (id bigint NOT NULL, customer_id integer NOT NULL, ordered_at timestamptz NOT NULL,
                                 status text NOT NULL, total numeric(12,2) NOT NULL, note text)
            """,
            $"""
            INSERT INTO orders
            SELECT i, 1 + (i::bigint * 7919) % {customers}, timestamptz '2021-01-01 00:00:00+00' + i * interval '11 seconds',
                   (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + i % 4], round((random() * 500)::numeric, 2),
                   CASE WHEN i % 5 = 0 THEN 'gift note ' || md5(i::text) END
            FROM generate_series(1, {orders}) AS i
            """,
            """
            CREATE TABLE order_lines (order_id bigint NOT NULL, line_no integer NOT NULL, sku text NOT NULL,
                                      quantity integer NOT NULL, unit_price numeric(10,2) NOT NULL)
            """,
            $"""
            INSERT INTO order_lines
            SELECT 1 + (i - 1) % {orders}, 1 + (i - 1) / {orders}, 'SKU-' || lpad((i * 7 % 50000)::text, 6, '0'),
                   1 + i % 9, round((random() * 100)::numeric, 2)
            FROM generate_series(1, {lines}) AS i
            """,
            "ALTER TABLE customers ADD PRIMARY KEY (id)",
            "ALTER TABLE orders ADD PRIMARY KEY (id), ADD FOREIGN KEY (customer_id) REFERENCES customers",
            "ALTER TABLE order_lines ADD PRIMARY KEY (order_id, line_no), ADD FOREIGN KEY (order_id) REFERENCES orders",
            // Sets hint bits now, so the first dump does not rewrite every page.
            "VACUUM (ANALYZE)",
        ];
        foreach (var sql in statements)
        {
            cluster.Execute(db, sql);
        }
        return (db, cluster.Scalar<long>(db, "SELECT pg_database_size(current_database())"));
    }
}
