namespace DbOps.PowerShell.Tests;

/// <summary>
/// Remove-DeprecatedColumn killed while it holds the table lock, after its re-checks and before its DROP, on both engines:
/// the column is whole afterwards, and a rerun uses the archive already written and finishes.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ColumnRemovalKilledProcessTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private const string Retire = "param($db, $dest) Remove-DeprecatedColumn -Database $db -Table users -Column is_mock -Destination $dest -Confirm:$false\n";

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

    private void AssertKilledThenFinished(PowerShellSession session, string db, Func<long> columnCount, Func<long> trueFlags)
    {
        var archives = _folder.File("archives");
        var script = _folder.File("retire.ps1");
        File.WriteAllText(script, Retire);

        RemovalKilledProcessTests.KillAtFaultPoint("ColumnLocked", script, "-db", db, "-dest", archives);

        Assert.Equal(1, columnCount());
        Assert.Equal(100, trueFlags());
        var again = session.Run("$r = Remove-DeprecatedColumn -Database $db -Table users -Column is_mock -Destination $dest -Confirm:$false; \"$($r.Removed) $($r.RowCount)\"",
            new { db, dest = archives });
        Assert.Empty(session.Errors);
        Assert.Equal("True 300", Assert.Single(again).BaseObject);
        Assert.Equal(0, columnCount());
        Assert.Single(Directory.GetFiles(archives, "*.manifest.json"));
    }
}
