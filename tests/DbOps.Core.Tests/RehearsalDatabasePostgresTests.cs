using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Databases;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Snapshots;

namespace DbOps.Core.Tests;

/// <summary>Restore-Database -Create and Remove-Database on the test cluster: staging copies made, compared and dropped.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RehearsalDatabasePostgresTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Journal => _folder.File("journal.jsonl");

    private static string NewName(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private Task<DbOpsConnection> ConnectAsync(string database) =>
        DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);

    private async Task<BackupResult> BackUpAsync(DbOpsConnection source) =>
        await BackupService.BackupAsync(new BackupRequest(source, _folder.File("backups")), NullObserver.Instance, CancellationToken.None);

    private async Task<RestoreResult> CreateAsync(BackupResult backup, string name) =>
        await BackupService.RestoreAsync(backup.Path,
            await DatabaseConnector.DescribePostgresTargetAsync(cluster.ConnectionString(name), CancellationToken.None),
            new RestoreOptions(Force: false, NoOwner: false) { Create = true, JournalPath = Journal }, null, NullObserver.Instance, CancellationToken.None);

    private static Task<DatabaseSnapshot> SnapshotAsync(DbOpsConnection connection) =>
        SnapshotService.CaptureAsync(new SnapshotRequest(connection, false), NullObserver.Instance, CancellationToken.None);

    private Task<DatabaseRemoval> RemoveAsync(DbOpsConnection connection, string name, bool force = false, bool endSessions = false) =>
        Task.Run(async () =>
        {
            var target = RehearsalDatabases.Resolve(connection, name);
            var mark = await RehearsalDatabases.CheckAsync(target, force, CancellationToken.None);
            return await RehearsalDatabases.RemoveAsync(target, mark, endSessions, Journal, NullObserver.Instance, CancellationToken.None);
        });

    private bool Exists(string name) =>
        cluster.Scalar<long>("postgres", $"SELECT count(*) FROM pg_database WHERE datname = '{name.Replace("'", "''")}'") == 1;

    private static string Undo(string entry) => System.Text.Json.Nodes.JsonNode.Parse(entry)!["undo"]!.GetValue<string>();

    private string[] JournalLines(string operation) =>
        File.Exists(Journal) ? File.ReadAllLines(Journal).Where(l => l.Contains($"\"operation\":\"{operation}\"", StringComparison.Ordinal)).ToArray() : [];

    [Fact]
    public async Task Create_makes_the_database_with_the_sources_encoding_and_locale_and_it_compares_cleanly_with_the_source()
    {
        var production = NewName("prod");
        cluster.Execute("postgres", $"CREATE DATABASE {production} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'");
        cluster.Execute(production, """
            CREATE TABLE goals(id int PRIMARY KEY, title text NOT NULL);
            CREATE TABLE sessions(id int PRIMARY KEY, goal_id int REFERENCES goals(id), note text);
            CREATE INDEX ix_sessions_goal_id ON sessions(goal_id);
            INSERT INTO goals SELECT g, 'Ziel ' || g FROM generate_series(1, 20) g;
            INSERT INTO sessions SELECT s, 1 + s % 20, 'Übung' FROM generate_series(1, 300) s;
            """);
        var source = await ConnectAsync(production);
        var backup = await BackUpAsync(source);
        var manifest = BackupManifest.Load(backup.ManifestPath).Manifest;
        Assert.Equal(("LATIN1", "C", "C"), (manifest.Encoding, manifest.Collate, manifest.Ctype));
        var staging = "app \"staging\"; DROP DATABASE postgres;--" + Guid.NewGuid().ToString("N")[..6];

        var result = await CreateAsync(backup, staging);

        Assert.True(result.Created);
        Assert.Equal("Restored", result.Status);
        Assert.Equal(320, result.TotalRows);
        Assert.Equal("LATIN1 C C", cluster.Scalar<string>("postgres",
            $"SELECT pg_encoding_to_char(encoding) || ' ' || datcollate || ' ' || datctype FROM pg_database WHERE datname = '{staging.Replace("'", "''")}'"));
        Assert.StartsWith(CreationMarks.Prefix, cluster.Scalar<string>("postgres",
            $"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{staging.Replace("'", "''")}'"));
        // Same tables, different database names: no differences, no data loss.
        var comparison = SnapshotComparer.Compare(await SnapshotAsync(source), await SnapshotAsync(source.WithDatabase(staging)), Journal);
        Assert.Empty(comparison.Differences);
        Assert.False(comparison.DataLoss);
        var entry = Assert.Single(JournalLines(JournalOperations.DatabaseCreated));
        Assert.Contains($"\"target\":\"{production}\"", entry);
        Assert.StartsWith($"Remove-Database -Name '{staging}' -Database 'Host=", Undo(entry));

        // Nothing but this process's pooled connections (the snapshot's) is on it: those are closed, not counted.
        var removal = await RemoveAsync(source, staging);
        Assert.True(removal.CreatedByDbOps);
        Assert.False(Exists(staging));
        Assert.Single(JournalLines(JournalOperations.DatabaseRemoved));
    }

    [Fact]
    public async Task Create_onto_an_existing_database_is_refused_and_touches_nothing()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t(id int); INSERT INTO t VALUES (1), (2);");
        var backup = await BackUpAsync(source);
        var existing = cluster.CreateDatabase("existing");
        cluster.Execute(existing, "CREATE TABLE keep(id int); INSERT INTO keep VALUES (7);");

        await Assertions.ThrowsDbOps(ErrorIds.DatabaseExists, () => CreateAsync(backup, existing));

        Assert.Equal(1L, cluster.Scalar<long>(existing, "SELECT count(*) FROM keep"));
        Assert.False(cluster.Scalar<bool>(existing, "SELECT to_regclass('public.t') IS NOT NULL"));
        Assert.Empty(JournalLines(JournalOperations.DatabaseCreated));
    }

    [Fact]
    public async Task Remove_refuses_a_database_DbOps_did_not_create_unless_Force()
    {
        var server = await ConnectAsync("postgres");
        var other = cluster.CreateDatabase("theirs");

        await Assertions.ThrowsDbOps(ErrorIds.DatabaseNotCreatedByDbOps, () => RemoveAsync(server, other));
        Assert.True(Exists(other));
        Assert.Empty(JournalLines(JournalOperations.DatabaseRemoved));

        var removal = await RemoveAsync(server, other, force: true);
        Assert.False(removal.CreatedByDbOps);
        Assert.False(Exists(other));
    }

    [Fact]
    public async Task Remove_refuses_while_another_session_is_connected_unless_EndSessions()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t(id int); INSERT INTO t VALUES (1);");
        var staging = NewName("staging");
        var created = await CreateAsync(await BackUpAsync(source), staging);
        var session = await PostgresEngine.Instance.OpenReadOnlyAsync(created.Target!, CancellationToken.None);
        try
        {
            var refused = await Assertions.ThrowsDbOps(ErrorIds.DatabaseHasSessions, () => RemoveAsync(source, staging));
            Assert.Contains("pid ", refused.Message);
            Assert.True(Exists(staging));
            Assert.Empty(JournalLines(JournalOperations.DatabaseRemoved));

            await RemoveAsync(source, staging, endSessions: true);
            Assert.False(Exists(staging));
        }
        finally
        {
            await session.DisposeAsync();
        }
    }

    [Fact]
    public async Task Remove_refuses_the_database_the_connection_is_on_and_a_missing_one()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t(id int);");

        await Assertions.ThrowsDbOps(ErrorIds.CannotRemoveConnectedDatabase, () => RemoveAsync(source, source.Database, force: true));
        await Assertions.ThrowsDbOps(ErrorIds.DatabaseNotFound, () => RemoveAsync(source, NewName("missing"), force: true));
        Assert.True(Exists(source.Database));
    }

    [Fact]
    public async Task A_manifest_without_a_locale_still_restores_with_Create_using_the_servers()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t(id int); INSERT INTO t VALUES (1), (2), (3);");
        var backup = await BackUpAsync(source);
        var json = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(backup.ManifestPath))!.AsObject();
        json.Remove("encoding");
        json.Remove("collate");
        json.Remove("ctype");
        await File.WriteAllTextAsync(backup.ManifestPath, json.ToJsonString());
        var staging = NewName("old_manifest");

        var result = await CreateAsync(backup, staging);

        Assert.Equal(3, result.TotalRows);
        Assert.True(Exists(staging));
        await RemoveAsync(source, staging);
    }
}
