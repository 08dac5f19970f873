using System.Data.Common;
using DbOps.Core.Connections;
using DbOps.Core.Integrity;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbOps.Core.Tests;

/// <summary>The goals tracker's seeded defects (examples/goals-tracker*.sql), as both engines must report them.</summary>
internal static class GoalsDefects
{
    public static readonly string[] OrphanedSessions = ["167", "334", "501", "668", "835", "1002", "1169", "1336", "1503", "1670"];
    public static readonly string[] OrphanedActivities = ["240", "480", "720", "960", "1200", "1440", "1680", "1920", "2160", "2400"];
    public static readonly string[] NullRoots = ["13", "27", "58", "99", "120", "151", "177"];
    public static readonly string[] EarlyDeadlines = ["5", "44", "87", "132", "190"];
    public static readonly string[] DuplicateGroups = ["41", "42", "43", "44"];

    public static IntegrityRequest Request(DbOpsConnection connection, IntegrityLevel level = IntegrityLevel.Standard) => new(connection)
    {
        Level = level,
        RequiredColumns = [new ColumnSpec("goals", ["root_id"])],
        UniqueKeys = [new ColumnSpec("activity_groups", ["root_id", "name"])],
        Conditions = [new ConditionSpec("goals", "deadline >= created_at")],
    };

    public static IntegrityFinding Single(IntegrityReport report, IntegrityCheck check, string table) =>
        Assert.Single(report.Findings, f => f.Check == check && (f.Table == table || f.Table == "public." + table));

    public static Task<IntegrityReport> RunAsync(IntegrityRequest request) =>
        IntegrityService.RunAsync(request, new RecordingObserver(), CancellationToken.None);

    /// <summary>Runs a finding's Query as a person would and returns its first column of every row, as sample keys are written.</summary>
    public static async Task<List<string>> RunQueryAsync(DbConnection connection, string query)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = query;
        await using var reader = await command.ExecuteReaderAsync();
        var keys = new List<string>();
        while (await reader.ReadAsync())
        {
            keys.Add(IntegritySql.FormatValue(reader.GetValue(0)));
        }
        return keys;
    }

    public static async Task AssertQueriesListTheSameRowsAsync(IntegrityReport report, Func<Task<DbConnection>> open)
    {
        await using var connection = await open();
        foreach (var finding in report.Findings.Where(f => f.Count > 0 && f.Check != IntegrityCheck.StorageIntegrity))
        {
            var rows = await RunQueryAsync(connection, finding.Query!);
            Assert.True(finding.Count == rows.Count, $"{finding}: Query returned {rows.Count} rows\n{finding.Query}");
            Assert.Equal(finding.Sample, rows.Take(IntegritySql.SampleSize));
        }
    }
}
