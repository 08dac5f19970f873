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

    /// <summary>A copy of the Chinook sample (11 tables, Track 3503 rows); the shared file is never written.</summary>
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
