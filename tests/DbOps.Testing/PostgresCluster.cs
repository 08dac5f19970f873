using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Npgsql;

namespace DbOps.Testing;

/// <summary>
/// A PostgreSQL server for the tests. By default a throw-away cluster that the test run starts from the
/// installed server binaries on a free port and stops at the end; DBOPS_TEST_POSTGRES may instead name an
/// existing server by a superuser connection string. If neither works, every test that needs it fails with a
/// message saying what to install: PostgreSQL tests never skip silently.
/// </summary>
public sealed class PostgresCluster : IDisposable
{
    public const string SuperUser = "postgres";
    public const string Password = "dbops-test-secret-7Q";

    private readonly string? _dataRoot;
    private readonly string? _binFolder;
    private readonly NpgsqlConnectionStringBuilder _admin;

    public PostgresCluster()
    {
        if (Environment.GetEnvironmentVariable("DBOPS_TEST_POSTGRES") is { Length: > 0 } external)
        {
            _admin = new NpgsqlConnectionStringBuilder(external);
            BinFolder = FindBinFolder() ?? "";
            return;
        }
        _binFolder = FindBinFolder() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin or DBOPS_PG_BIN. " +
            "Install them (Debian: apt-get install postgresql-15) or set DBOPS_TEST_POSTGRES to a superuser connection string.");
        BinFolder = _binFolder;
        RemoveStaleClusters();
        _dataRoot = Path.Combine(Path.GetTempPath(), $"dbops-pg-{Environment.ProcessId}-{Guid.NewGuid():N}"[..28]);
        var port = FreePort();
        Start(port);
        _admin = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = port, Username = SuperUser, Password = Password, Database = "postgres", Pooling = false,
        };
    }

    /// <summary>The folder holding pg_dump, pg_restore and psql of the server version under test.</summary>
    public string BinFolder { get; }

    public string Host => _admin.Host!;

    public int Port => _admin.Port;

    /// <summary>A superuser connection string for <paramref name="database"/>.</summary>
    public string ConnectionString(string database, string? password = null) =>
        new NpgsqlConnectionStringBuilder(_admin.ConnectionString) { Database = database, Password = password ?? _admin.Password }.ConnectionString;

    /// <summary>Creates an empty database with a unique name and returns that name.</summary>
    public string CreateDatabase(string prefix = "t")
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(40, prefix.Length + 13)].ToLowerInvariant();
        Execute("postgres", $"CREATE DATABASE \"{name}\"");
        return name;
    }

    public void Execute(string database, string sql)
    {
        using var connection = new NpgsqlConnection(ConnectionString(database));
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 300 };
        command.ExecuteNonQuery();
    }

    public T Scalar<T>(string database, string sql)
    {
        using var connection = new NpgsqlConnection(ConnectionString(database));
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return (T)command.ExecuteScalar()!;
    }

    /// <summary>Runs a SQL script file with psql (the sample datasets use psql's COPY ... FROM stdin).</summary>
    public void RunScript(string database, string file)
    {
        var psql = Path.Combine(BinFolder, "psql");
        var start = new ProcessStartInfo(File.Exists(psql) ? psql : "psql")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        foreach (var argument in new[] { "-h", Host, "-p", Port.ToString(), "-U", _admin.Username!, "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-f", file })
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["PGPASSWORD"] = _admin.Password;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"psql -f {file} failed ({process.ExitCode}): {stderr}");
        }
        _ = stdout.Result;
    }

    /// <summary>Creates a database holding the Pagila sample (DVD rental: partitions, views, triggers, domains).</summary>
    public string CreatePagila()
    {
        var name = CreateDatabase("pagila");
        RunScript(name, Datasets.File("pagila", "pagila-schema.sql"));
        RunScript(name, Datasets.File("pagila", "pagila-data.sql"));
        return name;
    }

    /// <summary>
    /// Creates a database holding the goals tracker sample with its seeded defects (examples/goals-tracker.postgres.sql,
    /// the same rows and ids as the SQLite examples/goals-tracker.sql).
    /// </summary>
    public string CreateGoalsTracker()
    {
        var name = CreateDatabase("goals");
        RunScript(name, Datasets.Example("goals-tracker.postgres.sql"));
        return name;
    }

    public void Dispose()
    {
        if (_dataRoot is null || _binFolder is null)
        {
            return;
        }
        RunAsPostgres(Path.Combine(_binFolder, "pg_ctl"), "-D", DataFolder, "-m", "immediate", "-w", "stop");
        try
        {
            Directory.Delete(_dataRoot, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string DataFolder => Path.Combine(_dataRoot!, "data");

    private void Start(int port)
    {
        Directory.CreateDirectory(_dataRoot!);
        var passwordFile = Path.Combine(_dataRoot!, "pwfile");
        File.WriteAllText(passwordFile, Password + "\n");
        if (IsRoot)
        {
            Run("chown", "-R", $"{SuperUser}:{SuperUser}", _dataRoot!);
        }
        RunAsPostgres(Path.Combine(_binFolder!, "initdb"), "-D", DataFolder, "-U", SuperUser, "--pwfile", passwordFile,
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync");
        // Test-only speed-ups: nothing here must survive a crash. pg_stat_statements is preloaded for Get-SlowQuery.
        RunAsPostgres(Path.Combine(_binFolder!, "pg_ctl"), "-D", DataFolder, "-l", Path.Combine(_dataRoot!, "server.log"), "-w", "-t", "60",
            "-o", $"-p {port} -k {_dataRoot} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_preload_libraries=pg_stat_statements",
            "start");
    }

    /// <summary>Stops clusters left behind by test runs that were killed before they could clean up.</summary>
    private void RemoveStaleClusters()
    {
        foreach (var folder in Directory.GetDirectories(Path.GetTempPath(), "dbops-pg-*"))
        {
            var parts = Path.GetFileName(folder).Split('-');
            if (parts.Length < 3 || !int.TryParse(parts[2], out var pid) || ProcessIsAlive(pid))
            {
                continue;
            }
            try
            {
                if (Directory.Exists(Path.Combine(folder, "data")))
                {
                    RunAsPostgres(Path.Combine(_binFolder!, "pg_ctl"), "-D", Path.Combine(folder, "data"), "-m", "immediate", "-w", "stop");
                }
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                // Another user's cluster (a run as root, seen by a normal user): not ours to stop.
            }
        }
    }

    private static bool ProcessIsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string? FindBinFolder()
    {
        if (Environment.GetEnvironmentVariable("DBOPS_PG_BIN") is { Length: > 0 } bin)
        {
            return bin;
        }
        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(v => Path.Combine(v, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")))
                .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();

    public static bool IsRoot => !OperatingSystem.IsWindows() && GetEffectiveUserId() == 0;

    /// <summary>PostgreSQL refuses to run as root, so server commands run as the postgres user then.</summary>
    private static void RunAsPostgres(string program, params string[] arguments)
    {
        if (IsRoot)
        {
            Run("runuser", ["-u", SuperUser, "--", program, .. arguments]);
        }
        else
        {
            Run(program, arguments);
        }
    }

    private static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        // pg_ctl start leaves the server holding our pipes open: read to the end only after it exits.
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {process.StandardError.ReadToEnd()}");
        }
    }
}
