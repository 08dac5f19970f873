using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresCluster>
{
    public const string Name = "PostgreSQL";
}

/// <summary>Records what Core reports, to assert on warnings and progress.</summary>
internal sealed class RecordingObserver : IOperationObserver
{
    public List<OperationProgress> ProgressReports { get; } = [];
    public List<string> Warnings { get; } = [];
    public List<string> VerboseMessages { get; } = [];

    public void Progress(OperationProgress progress) { lock (ProgressReports) { ProgressReports.Add(progress); } }
    public void Verbose(string message) { lock (VerboseMessages) { VerboseMessages.Add(message); } }
    public void Warning(string message) { lock (Warnings) { Warnings.Add(message); } }
}

internal static class Sqlite
{
    /// <summary>Creates a SQLite file by running <paramref name="sql"/> and returns a DbOps connection to it.</summary>
    public static async Task<DbOpsConnection> CreateAsync(string path, string sql)
    {
        Execute(path, sql);
        return await DatabaseConnector.ConnectSqliteAsync(path, create: false, CancellationToken.None);
    }

    public static void Execute(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static long Count(string path, string table)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM \"{table.Replace("\"", "\"\"")}\"";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>The goals tracker sample with its seeded defects (examples/goals-tracker.sql).</summary>
    public static async Task<DbOpsConnection> GoalsTrackerAsync(TempFolder folder)
    {
        var path = folder.File("goals.db");
        return await CreateAsync(path, await File.ReadAllTextAsync(Datasets.Example("goals-tracker.sql")));
    }

    /// <summary>A copy of the Chinook sample (11 tables, Track 3503 rows); the file in tests/data is never written.</summary>
    public static async Task<DbOpsConnection> ChinookAsync(TempFolder folder)
    {
        var path = folder.File("chinook.db");
        File.Copy(Datasets.File("chinook", "Chinook_Sqlite.sqlite"), path);
        File.SetAttributes(path, FileAttributes.Normal);
        return await DatabaseConnector.ConnectSqliteAsync(path, create: false, CancellationToken.None);
    }
}

internal static class Assertions
{
    public static async Task<DbOpsException> ThrowsDbOps(string errorId, Func<Task> action)
    {
        var error = await Assert.ThrowsAsync<DbOpsException>(action);
        Assert.True(error.ErrorId == errorId, $"Expected {errorId}, got {error.ErrorId}: {error.Message}");
        return error;
    }
}

/// <summary>Damages a backup and rewrites its manifest to match, so verification gets past the SHA-256 check.</summary>
internal static class ManifestTampering
{
    public static async Task DamageAndResignAsync(string backupPath, string manifestPath)
    {
        await using (var file = new FileStream(backupPath, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = file.Length / 2;
            var junk = new byte[8192];
            new Random(7).NextBytes(junk);
            file.Write(junk);
        }
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(manifestPath))!;
        await using (var stream = File.OpenRead(backupPath))
        {
            manifest["sha256"] = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream));
        }
        manifest["sizeBytes"] = new FileInfo(backupPath).Length;
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());
    }
}

internal static class ClusterExtensions
{
    /// <summary>Creates a database, runs <paramref name="setupSql"/> in it, and connects to it as DbOps would.</summary>
    public static Task<DbOpsConnection> CreateConnectedAsync(this PostgresCluster cluster, string setupSql, string prefix = "t")
    {
        var database = cluster.CreateDatabase(prefix);
        cluster.Execute(database, setupSql);
        return DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);
    }
}

/// <summary>What a server restart does to a run: every session it holds is ended under it (SQLSTATE 57P01).</summary>
internal static class SessionLoss
{
    /// <summary>
    /// Waits until rows are being copied into a scratch database (so the loss lands mid-load, not after it), then ends every session in it and in <paramref name="source"/>, as a restart would. Returns how many it ended.
    /// </summary>
    public static async Task<long> EndSessionsDuringScratchWorkAsync(PostgresCluster cluster, string source, Task run)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        const string busy = "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'dbops\\_verify\\_%' AND state = 'active' AND query ILIKE 'COPY %'";
        while (cluster.Scalar<long>("postgres", busy) == 0)
        {
            if (run.IsCompleted)
            {
                await run;
                Assert.Fail("the run ended before its scratch database was in use");
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "no session was ever active in a scratch database");
            await Task.Delay(5);
        }
        return cluster.Scalar<long>("postgres", $"""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE (datname LIKE 'dbops\_verify\_%' OR datname = '{source}') AND pid <> pg_backend_pid()
            """);
    }

    public static long ScratchDatabases(PostgresCluster cluster) =>
        cluster.Scalar<long>("postgres", "SELECT count(*) FROM pg_database WHERE datname ~ '^dbops_verify_[0-9a-f]{13}$'");
}
