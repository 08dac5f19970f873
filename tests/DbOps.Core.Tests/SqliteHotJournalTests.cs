using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

/// <summary>
/// A SQLite file whose writer was killed in the middle of a large transaction: its -journal is hot, and a read-only
/// connection cannot roll it back ("attempt to write a readonly database"). DbOps's read-only work must still open it,
/// and see the last committed rows.
/// </summary>
public sealed class SqliteHotJournalTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_hot_journal_left_by_a_killed_writer_is_rolled_back_and_the_committed_rows_are_read()
    {
        var path = HotJournalCopy();
        var plain = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        plain.Open();
        using (var read = plain.CreateCommand())
        {
            // The setup really left a hot journal: a plain read-only connection fails on it.
            read.CommandText = "SELECT count(*) FROM sqlite_schema";
            Assert.Equal(776, Assert.Throws<SqliteException>(() => read.ExecuteScalar()).SqliteExtendedErrorCode);
        }
        plain.Dispose();

        var db = await DatabaseConnector.ConnectSqliteAsync(path, create: false, CancellationToken.None);
        var content = await TableChecksum.ComputeAsync(db, new TableRef("main", "events"), ["id", "note"], CancellationToken.None);

        Assert.Equal(20_000, content.Rows);
        Assert.Equal(20_000L, Sqlite.Count(path, "events"));
        await using var session = await DatabaseEngines.For(db).OpenReadOnlyAsync(db, CancellationToken.None);
        await using var command = session.Connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM events WHERE note LIKE 'changed%'";
        Assert.Equal(0L, await command.ExecuteScalarAsync()); // the uncommitted update is gone
        Assert.False(IsHot(path));
    }

    /// <summary>
    /// A copy of a database and its journal taken while a transaction had spilled changed pages into the file: what a
    /// killed writer leaves behind (the copy holds no lock, so its journal is hot).
    /// </summary>
    private string HotJournalCopy()
    {
        var original = _folder.File("original.db");
        Sqlite.Execute(original, """
            PRAGMA journal_mode = DELETE;
            CREATE TABLE events (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
            WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000)
            INSERT INTO events SELECT n, printf('%.200c', 'x') FROM g;
            """);
        var copy = _folder.File("killed.db");
        using var writer = new SqliteConnection($"Data Source={original};Pooling=False");
        writer.Open();
        using var command = writer.CreateCommand();
        // A tiny page cache makes SQLite write changed pages into the database file before COMMIT.
        command.CommandText = "PRAGMA cache_size = 10; BEGIN IMMEDIATE; UPDATE events SET note = 'changed ' || id;";
        command.ExecuteNonQuery();
        File.Copy(original, copy);
        File.Copy(original + "-journal", copy + "-journal");
        command.CommandText = "ROLLBACK";
        command.ExecuteNonQuery();
        return copy;
    }

    /// <summary>A journal is hot when a plain read-only read of its database is refused for it.</summary>
    private static bool IsHot(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var read = connection.CreateCommand();
        read.CommandText = "SELECT count(*) FROM sqlite_schema";
        try
        {
            read.ExecuteScalar();
            return false;
        }
        catch (SqliteException e) when (e.SqliteExtendedErrorCode == 776)
        {
            return true;
        }
    }
}
