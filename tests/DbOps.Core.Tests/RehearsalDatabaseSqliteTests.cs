using Dapper;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Databases;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Snapshots;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

/// <summary>Restore-Database -Create and Remove-Database on SQLite files: a rehearsal copy is a new file beside a mark.</summary>
public sealed class RehearsalDatabaseSqliteTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Journal => _folder.File("journal.jsonl");

    private async Task<(DbOpsConnection Production, BackupResult Backup)> BackUpGoalsAsync()
    {
        var production = await Sqlite.GoalsTrackerAsync(_folder);
        var backup = await BackupService.BackupAsync(new BackupRequest(production, _folder.File("backups")), NullObserver.Instance, CancellationToken.None);
        return (production, backup);
    }

    private Task<RestoreResult> CreateAsync(BackupResult backup, string path) =>
        BackupService.RestoreAsync(backup.Path, DatabaseConnector.DescribeSqliteTarget(path),
            new RestoreOptions(Force: false, NoOwner: false) { Create = true, JournalPath = Journal }, null, NullObserver.Instance, CancellationToken.None);

    private static Task<DatabaseSnapshot> SnapshotAsync(DbOpsConnection connection) =>
        SnapshotService.CaptureAsync(new SnapshotRequest(connection, false), NullObserver.Instance, CancellationToken.None);

    private Task<DatabaseRemoval> RemoveAsync(DbOpsConnection? connection, string name, bool force = false, bool endSessions = false) =>
        Task.Run(async () =>
        {
            var target = RehearsalDatabases.Resolve(connection, name);
            var mark = await RehearsalDatabases.CheckAsync(target, force, CancellationToken.None);
            return await RehearsalDatabases.RemoveAsync(target, mark, endSessions, Journal, NullObserver.Instance, CancellationToken.None);
        });

    private static string Undo(string entry) => System.Text.Json.Nodes.JsonNode.Parse(entry)!["undo"]!.GetValue<string>();

    private string[] JournalLines(string operation) =>
        File.Exists(Journal) ? File.ReadAllLines(Journal).Where(l => l.Contains($"\"operation\":\"{operation}\"", StringComparison.Ordinal)).ToArray() : [];

    [Fact]
    public async Task Create_restores_into_a_new_file_that_compares_cleanly_with_production_and_is_marked_and_journaled()
    {
        var (production, backup) = await BackUpGoalsAsync();
        var staging = _folder.File("it's \"staging\"; copy.db");

        var result = await CreateAsync(backup, staging);

        Assert.True(result.Created);
        Assert.Equal("Restored", result.Status);
        Assert.StartsWith(CreationMarks.Prefix, await File.ReadAllTextAsync(staging + SqliteDatabases.MarkSuffix));
        // The restored file is the backup's pages, byte for byte: nothing of DbOps's is written into it.
        Assert.Equal(await File.ReadAllBytesAsync(backup.Path), await File.ReadAllBytesAsync(staging));
        var comparison = SnapshotComparer.Compare(await SnapshotAsync(production),
            await SnapshotAsync(await DatabaseConnector.ConnectSqliteAsync(staging, false, CancellationToken.None)), Journal);
        Assert.Empty(comparison.Differences);
        Assert.False(comparison.DataLoss);
        var entry = Assert.Single(JournalLines(JournalOperations.DatabaseCreated));
        Assert.Equal($"Remove-Database -Name '{staging.Replace("'", "''")}'", Undo(entry)); // PowerShell's quoting of the path
        // A SQLite manifest has no locale, and leaves the fields out rather than writing nulls.
        Assert.DoesNotContain("encoding", await File.ReadAllTextAsync(backup.ManifestPath), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Create_onto_an_existing_file_is_refused_and_touches_nothing()
    {
        var (production, backup) = await BackUpGoalsAsync();
        var existing = _folder.File("existing.db");
        Sqlite.Execute(existing, "CREATE TABLE keep(id integer); INSERT INTO keep VALUES (1)");
        var before = await File.ReadAllBytesAsync(existing);

        await Assertions.ThrowsDbOps(ErrorIds.DatabaseExists, () => CreateAsync(backup, existing));
        await Assertions.ThrowsDbOps(ErrorIds.DatabaseExists, () => CreateAsync(backup, production.Database));

        Assert.Equal(before, await File.ReadAllBytesAsync(existing));
        Assert.False(File.Exists(existing + SqliteDatabases.MarkSuffix));
        Assert.Empty(JournalLines(JournalOperations.DatabaseCreated));
    }

    [Fact]
    public async Task Remove_deletes_the_file_its_siblings_and_its_mark_and_journals_DatabaseRemoved()
    {
        var (_, backup) = await BackUpGoalsAsync();
        var staging = _folder.File("staging.db");
        await CreateAsync(backup, staging);
        foreach (var sibling in new[] { "-wal", "-shm", "-journal" })
        {
            await File.WriteAllBytesAsync(staging + sibling, []); // empty ones, as a crash can leave them
        }

        var removal = await RemoveAsync(null, staging);

        Assert.True(removal.CreatedByDbOps);
        Assert.Equal(5, removal.Removed.Count);
        Assert.Empty(Directory.GetFiles(_folder.Path, "staging.db*"));
        Assert.Contains(staging, Assert.Single(JournalLines(JournalOperations.DatabaseRemoved)));
    }

    [Fact]
    public async Task Remove_refuses_a_file_DbOps_did_not_create_unless_Force()
    {
        var (production, _) = await BackUpGoalsAsync();

        await Assertions.ThrowsDbOps(ErrorIds.DatabaseNotCreatedByDbOps, () => RemoveAsync(null, production.Database));
        Assert.True(File.Exists(production.Database));
        Assert.Empty(JournalLines(JournalOperations.DatabaseRemoved));

        var removal = await RemoveAsync(null, production.Database, force: true);
        Assert.False(removal.CreatedByDbOps);
        Assert.False(File.Exists(production.Database));
    }

    [Fact]
    public async Task Remove_counts_only_DbOps_text_as_a_mark()
    {
        var (production, _) = await BackUpGoalsAsync();
        await File.WriteAllTextAsync(production.Database + SqliteDatabases.MarkSuffix, "notes\n");

        await Assertions.ThrowsDbOps(ErrorIds.DatabaseNotCreatedByDbOps, () => RemoveAsync(null, production.Database));
        Assert.True(File.Exists(production.Database));
    }

    [Fact]
    public async Task Remove_refuses_a_file_a_WAL_reader_has_open_unless_EndSessions()
    {
        var (_, backup) = await BackUpGoalsAsync();
        var staging = _folder.File("read.db");
        await CreateAsync(backup, staging);
        await using var reader = await SqliteEngine.OpenFileAsync(staging, SqliteOpenMode.ReadWrite, CancellationToken.None);
        await reader.ExecuteAsync("PRAGMA journal_mode = WAL; CREATE TABLE scratch (x); BEGIN; SELECT count(*) FROM goals");

        await Assertions.ThrowsDbOps(ErrorIds.DatabaseHasSessions, () => RemoveAsync(null, staging));
        Assert.True(File.Exists(staging));

        await RemoveAsync(null, staging, endSessions: true);
        Assert.False(File.Exists(staging));
    }

    [Fact]
    public async Task Remove_refuses_a_file_another_connection_is_writing_unless_EndSessions()
    {
        var (_, backup) = await BackUpGoalsAsync();
        var staging = _folder.File("busy.db");
        await CreateAsync(backup, staging);
        await using var writer = await SqliteEngine.OpenFileAsync(staging, SqliteOpenMode.ReadWrite, CancellationToken.None);
        await writer.ExecuteAsync("BEGIN IMMEDIATE; DELETE FROM goals");

        await Assertions.ThrowsDbOps(ErrorIds.DatabaseHasSessions, () => RemoveAsync(null, staging));
        Assert.True(File.Exists(staging));

        await RemoveAsync(null, staging, endSessions: true);
        Assert.False(File.Exists(staging));
    }

    [Fact]
    public async Task Remove_refuses_the_file_the_connection_itself_is_on_and_a_missing_one()
    {
        var (production, _) = await BackUpGoalsAsync();

        await Assertions.ThrowsDbOps(ErrorIds.CannotRemoveConnectedDatabase, () => RemoveAsync(production, production.Database, force: true));
        await Assertions.ThrowsDbOps(ErrorIds.DatabaseNotFound, () => RemoveAsync(null, _folder.File("missing.db"), force: true));
        Assert.True(File.Exists(production.Database));
    }
}
