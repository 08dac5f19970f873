namespace DbOps.PowerShell.Tests;

/// <summary>
/// Remove-DeprecatedColumn killed while it holds the table lock, after its re-checks and before its DROP, on both engines,
/// and on SQLite in the middle of a table rebuild: the column is whole afterwards, and a rerun uses the archive already
/// written and finishes. Killed between its COMMIT and its journal line, the drop still reads as archived, not lost.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ColumnRemovalKilledProcessTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private const string Retire = """
        param($db, $dest, [string[]]$dep = @())
        Remove-DeprecatedColumn -Database $db -Table users -Column is_mock -Destination $dest -Dependent $dep -Confirm:$false
        """;

    /// <summary>A table CHECK names is_mock, so SQLite's DROP COLUMN refuses it and the table is rebuilt.</summary>
    private const string CheckedUsers = """
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, is_mock INTEGER, CONSTRAINT mock_flag CHECK (is_mock IN (0, 1)));
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO users SELECT i, 'u' || i, i % 3 = 0 FROM n;
        CREATE VIEW names AS SELECT id, name FROM users;
        """;

    [Fact]
    public void On_SQLite_a_column_removal_killed_under_the_lock_leaves_the_column_whole_and_a_rerun_finishes()
    {
        var path = _folder.File("users.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, """
            CREATE TABLE users (id INTEGER PRIMARY KEY, is_mock INTEGER);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO users SELECT i, i % 3 = 0 FROM n;
            """);
        AssertKilledThenFinished(session, path, () => (long)session.SqliteScalar(path, "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'is_mock'"),
            () => (long)session.SqliteScalar(path, "SELECT sum(is_mock) FROM users"));
    }

    [Fact]
    public void On_PostgreSQL_a_column_removal_killed_under_the_lock_leaves_the_column_whole_and_a_rerun_finishes()
    {
        var database = cluster.CreateDatabase("killcol");
        cluster.Execute(database, "CREATE TABLE users AS SELECT g AS id, g % 3 = 0 AS is_mock FROM generate_series(1, 300) g; ALTER TABLE users ADD PRIMARY KEY (id)");
        using var session = new PowerShellSession();
        AssertKilledThenFinished(session, cluster.ConnectionString(database),
            () => cluster.Scalar<long>(database, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'is_mock' AND NOT attisdropped"),
            () => cluster.Scalar<long>(database, "SELECT count(*) FILTER (WHERE is_mock) FROM users"));
    }

    [Fact]
    public void On_SQLite_a_table_rebuild_killed_before_its_COMMIT_leaves_the_table_whole_and_a_rerun_finishes()
    {
        var path = _folder.File("rebuilt.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, CheckedUsers);
        long Scalar(string sql) => (long)session.SqliteScalar(path, sql);

        // Stopped with the new table renamed into place, before foreign_key_check and COMMIT; then killed.
        AssertKilledThenFinished(session, path, () => Scalar("SELECT count(*) FROM pragma_table_info('users') WHERE name = 'is_mock'"),
            () => Scalar("SELECT sum(is_mock) FROM users"), "ColumnDropped", "mock_flag",
            () =>
            {
                Assert.Equal(1, Scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'users' AND sql LIKE '%mock_flag%'"));
                Assert.Equal(0, Scalar("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'dbops_new_%'"));
                Assert.Equal(300, Scalar("SELECT count(*) FROM names"));
            });
        Assert.Equal(300, Scalar("SELECT count(*) FROM names"));
    }

    [Fact]
    public void A_column_removal_killed_between_its_COMMIT_and_its_journal_line_reads_as_archived_and_the_next_run_settles_it()
    {
        var path = _folder.File("window.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, CheckedUsers);
        var archives = _folder.File("archives");
        var script = _folder.File("retire-window.ps1");
        File.WriteAllText(script, Retire);
        session.Run("$before = Get-DatabaseSnapshot -Database $path -Checksum", new { path });

        RemovalKilledProcessTests.KillAtFaultPoint("ColumnCommitted", script, "-db", path, "-dest", archives, "-dep", "mock_flag");

        List<System.Text.Json.Nodes.JsonNode> Lines() => File.ReadAllLines(Environment.GetEnvironmentVariable("DBOPS_JOURNAL")!)
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!)
            .Where(e => (string?)e["database"] == Path.GetFullPath(path) && ((string?)e["operation"])!.StartsWith("ColumnRemov", StringComparison.Ordinal))
            .ToList();
        var intent = Assert.Single(Lines());
        Assert.Equal(("ColumnRemovalStarted", 300L), ((string?)intent["operation"], (long?)intent["rows"]));
        Assert.Equal(0, (long)session.SqliteScalar(path, "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'is_mock'"));

        // The column is gone and only the intent is journaled: its verified archive explains the values, so no data loss.
        var loss = session.Run("$d = @(Compare-DatabaseSnapshot $before (Get-DatabaseSnapshot -Database $path -Checksum) | Where-Object ObjectType -eq Column); " +
                               "\"$($d.Count) $($d[0].Name) $($d[0].DataLoss) $($d[0].Archive -ne $null)\"", new { path });
        Assert.Empty(session.Errors);
        Assert.Equal("1 is_mock False True", Assert.Single(loss).BaseObject);

        // The next column removal on that database writes the outcome line first.
        session.Run("$null = Remove-DeprecatedColumn -Database $path -Table users -Column name -Dependent names -Destination $dest -Confirm:$false",
            new { path, dest = archives });
        Assert.Empty(session.Errors);
        var settled = Lines().Where(e => (string?)e["column"] == "is_mock").ToList();
        Assert.Equal(["ColumnRemovalStarted", "ColumnRemoved"], settled.Select(e => (string?)e["operation"]));
        Assert.Equal((string?)intent["id"], (string?)settled[1]["id"]);
    }

    [Fact]
    public void An_intent_whose_COMMIT_never_ran_is_voided_by_the_next_run_and_explains_no_later_drop()
    {
        var path = _folder.File("voided.db");
        using var session = new PowerShellSession();
        session.ExecuteSqlite(path, CheckedUsers);
        var archives = _folder.File("archives");
        var script = _folder.File("retire-voided.ps1");
        File.WriteAllText(script, Retire);
        session.Run("$before = Get-DatabaseSnapshot -Database $path -Checksum", new { path });

        // Killed with its intent journaled and the drop not committed: the column is whole.
        RemovalKilledProcessTests.KillAtFaultPoint("ColumnIntended", script, "-db", path, "-dest", archives, "-dep", "mock_flag");
        Assert.Equal(1, (long)session.SqliteScalar(path, "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'is_mock'"));

        // The next removal (of another column) settles the intent as not committed.
        session.Run("$null = Remove-DeprecatedColumn -Database $path -Table users -Column name -Dependent names -Destination $dest -Confirm:$false",
            new { path, dest = archives });
        Assert.Empty(session.Errors);
        var outcomes = File.ReadAllLines(Environment.GetEnvironmentVariable("DBOPS_JOURNAL")!)
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!)
            .Where(e => (string?)e["database"] == Path.GetFullPath(path) && (string?)e["column"] == "is_mock"
                        && ((string?)e["operation"])!.StartsWith("ColumnRemov", StringComparison.Ordinal))
            .Select(e => $"{(string?)e["operation"]} {(string?)e["outcome"]}".Trim()).ToList();
        Assert.Equal(["ColumnRemovalStarted", "ColumnRemovalStarted NotCommitted"], outcomes);

        // The values change and the column is then dropped by hand, with no archive: that is data loss.
        session.ExecuteSqlite(path, "UPDATE users SET is_mock = 1 - is_mock; ALTER TABLE users RENAME TO old_users; " +
                                    "CREATE TABLE users AS SELECT id FROM old_users; DROP TABLE old_users;");
        var loss = session.Run("$d = @(Compare-DatabaseSnapshot $before (Get-DatabaseSnapshot -Database $path -Checksum) | " +
                               "Where-Object { $_.ObjectType -eq 'Column' -and $_.Name -eq 'is_mock' }); \"$($d.Count) $($d[0].DataLoss)\"", new { path });
        Assert.Equal("1 True", Assert.Single(loss).BaseObject);
    }

    private void AssertKilledThenFinished(PowerShellSession session, string db, Func<long> columnCount, Func<long> trueFlags,
        string point = "ColumnLocked", string? dependent = null, Action? whole = null)
    {
        var archives = _folder.File("archives");
        var script = _folder.File("retire.ps1");
        File.WriteAllText(script, Retire);
        string[] dep = dependent is null ? [] : ["-dep", dependent];

        RemovalKilledProcessTests.KillAtFaultPoint(point, script, ["-db", db, "-dest", archives, .. dep]);

        Assert.Equal(1, columnCount());
        Assert.Equal(100, trueFlags());
        whole?.Invoke();
        var again = session.Run("$r = Remove-DeprecatedColumn -Database $db -Table users -Column is_mock -Destination $dest -Dependent $dep -Confirm:$false; " +
                                "\"$($r.Removed) $($r.RowCount)\"", new { db, dest = archives, dep = dependent is null ? Array.Empty<string>() : [dependent] });
        Assert.Empty(session.Errors);
        Assert.Equal("True 300", Assert.Single(again).BaseObject);
        Assert.Equal(0, columnCount());
        Assert.Single(Directory.GetFiles(archives, "*.manifest.json"));
    }
}
