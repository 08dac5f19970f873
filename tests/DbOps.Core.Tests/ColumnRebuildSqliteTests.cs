using DbOps.Core.Archive;
using DbOps.Core.Columns;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

/// <summary>
/// Remove-DeprecatedColumn on SQLite when ALTER TABLE DROP COLUMN refuses the column because a constraint of the
/// table's own definition needs it: the constraint refuses the drop unless named, and a named one goes with the table
/// rebuilt without the column, keeping everything else of the table, its rows, and what references it.
/// </summary>
public sealed class ColumnRebuildSqliteTests : IDisposable
{
    private const string Setup = """
        CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
        INSERT INTO teams VALUES (1, 'red'), (2, 'blue');
        CREATE TABLE users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL DEFAULT 'nobody' COLLATE NOCASE,
            is_mock INTEGER CHECK (is_mock IN (0, 1)),
            email TEXT UNIQUE,
            code TEXT,
            score REAL CHECK (score >= 0),
            team_id INTEGER REFERENCES teams (id),
            CONSTRAINT real_users_named CHECK (is_mock = 1 OR name <> ''),
            CHECK (length(name) < 50),
            UNIQUE (code)
        );
        INSERT INTO users (name, is_mock, email, code, score, team_id) VALUES
            ('ann', 1, 'ann@x', 'A', 1.5, 1), ('bob', 0, 'bob@x', 'B', 0, 2), ('cy', NULL, NULL, NULL, 2, NULL), ('di', 1, 'di@x', 'D', 3, 1), ('gone', 0, 'g@x', 'G', 0, 1);
        DELETE FROM users WHERE name = 'gone';
        CREATE INDEX users_score ON users (score);
        CREATE VIEW scores AS SELECT name, score FROM users;
        CREATE TABLE audit (name TEXT);
        CREATE TRIGGER users_named AFTER INSERT ON users BEGIN INSERT INTO audit VALUES (new.name); END;
        """;

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Archives => _folder.File("archives");

    private Task<DbOpsConnection> CreateAsync(string sql = Setup) => Sqlite.CreateAsync(_folder.File("app.db"), sql);

    private ColumnRemovalRequest Request(DbOpsConnection db, string table, string column, params string[] dependents) =>
        new(db, table, column, Archives, dependents);

    private static Task<ColumnRemoval> RemoveAsync(ColumnRemovalRequest request) =>
        ColumnRemovalService.RemoveAsync(request, NullObserver.Instance, CancellationToken.None);

    private static Task<TableContent> ContentAsync(DbOpsConnection db, string table, params string[] columns) =>
        TableChecksum.ComputeAsync(db, new TableRef("main", table), columns, CancellationToken.None);

    private static readonly string[] OtherColumns = ["id", "name", "email", "code", "score", "team_id"];

    /// <summary>Runs statements with foreign keys enforced, as an application would; returns the last statement's first value.</summary>
    private static object? Run(DbOpsConnection db, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={db.Database};Pooling=False;Foreign Keys=True");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static string Definition(DbOpsConnection db, string table) =>
        (string)Run(db, $"SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = '{table.Replace("'", "''")}'")!;

    [Fact]
    public async Task A_column_in_a_table_CHECK_is_refused_unless_named_then_the_table_is_rebuilt_without_that_CHECK_keeping_the_rest()
    {
        var db = await CreateAsync();
        var before = await ContentAsync(db, "users", OtherColumns);
        var sequence = Run(db, "SELECT seq FROM sqlite_sequence WHERE name = 'users'");

        var refused = await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "users", "is_mock")));
        Assert.Contains("check constraint real_users_named", refused.Message);
        Assert.Contains("is_mock", Definition(db, "users"));

        var removal = await RemoveAsync(Request(db, "users", "is_mock", "real_users_named"));

        Assert.True(removal.Removed);
        Assert.Equal(["check constraint real_users_named: CHECK (is_mock = 1 OR name <> '')"], removal.DroppedDependents);
        Assert.Equal(["PRAGMA foreign_keys = OFF", "PRAGMA legacy_alter_table = ON", "PRAGMA busy_timeout = 5000", "BEGIN IMMEDIATE"], removal.Statements.Take(4));
        Assert.Contains(removal.Statements, s => s.StartsWith("CREATE TABLE \"dbops_new_users\" (", StringComparison.Ordinal));
        Assert.Contains("INSERT INTO \"dbops_new_users\" (rowid, \"id\", \"name\", \"email\", \"code\", \"score\", \"team_id\") SELECT rowid, ", string.Join("\n", removal.Statements));
        Assert.Equal(["PRAGMA foreign_key_check(\"users\")", "COMMIT"], removal.Statements.TakeLast(2));
        var definition = Definition(db, "users");
        Assert.DoesNotContain("is_mock", definition);
        Assert.DoesNotContain("real_users_named", definition);
        foreach (var kept in new[] { "DEFAULT 'nobody' COLLATE NOCASE", "CHECK (score >= 0)", "CHECK (length(name) < 50)", "UNIQUE (code)", "email TEXT UNIQUE", "REFERENCES teams (id)", "AUTOINCREMENT" })
        {
            Assert.Contains(kept, definition);
        }
        Assert.Equal(before, await ContentAsync(db, "users", OtherColumns));
        Assert.Equal(sequence, Run(db, "SELECT seq FROM sqlite_sequence WHERE name = 'users'"));
        Assert.Equal("ok", Run(db, "PRAGMA integrity_check"));
        // The CHECKs kept still hold; the index, view and trigger on other columns are there and work.
        Assert.Throws<SqliteException>(() => Run(db, "INSERT INTO users (name, score) VALUES ('neg', -1)"));
        // AUTOINCREMENT kept its counter: 5 was handed out before, to a row since deleted.
        Assert.Equal(6L, Run(db, "INSERT INTO users (name, score) VALUES ('eve', 4); SELECT id FROM users WHERE name = 'eve'"));
        Assert.Equal("eve", Run(db, "SELECT name FROM audit"));
        Assert.Equal(4.0, Run(db, "SELECT score FROM scores WHERE name = 'eve'"));
        Assert.Equal("users_score", Run(db, "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'users' AND sql IS NOT NULL"));

        var entry = OperationsJournal.Open().Read().Last(e => e.Database == db.Database && e.Column == "is_mock");
        Assert.Equal((JournalOperations.ColumnRemoved, removal.Checksum, removal.Undo), (entry.Operation, entry.Checksum, entry.Undo));
    }

    [Fact]
    public async Task A_rebuilt_drop_is_put_back_by_Import_TableArchive_with_the_same_values_and_checksum()
    {
        var db = await CreateAsync();
        Run(db, "DELETE FROM users WHERE id = 4");
        var archived = await ContentAsync(db, "users", "id", "is_mock");

        var removal = await RemoveAsync(Request(db, "users", "is_mock", "real_users_named"));
        Assert.Equal(archived, new TableContent(removal.RowCount!.Value, removal.Checksum!));
        var restored = await ArchiveService.ImportAsync(new ArchiveImportRequest(removal.ArchivePath!, db), NullObserver.Instance, CancellationToken.None);

        Assert.Equal((archived.Rows, archived.Checksum), (restored.RowCount, restored.Checksum));
        Assert.Equal(archived, await ContentAsync(db, "users", "id", "is_mock"));
    }

    [Fact]
    public async Task A_UNIQUE_column_goes_only_with_its_named_constraint_and_the_other_unique_keys_still_hold()
    {
        var db = await CreateAsync();
        var before = await ContentAsync(db, "users", "id", "name", "is_mock", "code", "score", "team_id");

        var refused = await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "users", "email")));
        var autoindex = (string)Run(db, "SELECT name FROM pragma_index_list('users') l WHERE origin = 'u' AND EXISTS (SELECT 1 FROM pragma_index_info(l.name) WHERE name = 'email')")!;
        Assert.Contains($"unique constraint {autoindex} on (email)", refused.Message);

        var removal = await RemoveAsync(Request(db, "users", "email", autoindex));

        Assert.True(removal.Removed);
        Assert.DoesNotContain("email", Definition(db, "users"));
        Assert.Equal(before, await ContentAsync(db, "users", "id", "name", "is_mock", "code", "score", "team_id"));
        Assert.Equal(1L, Run(db, "SELECT count(*) FROM pragma_index_list('users') WHERE origin = 'u'"));
        Assert.Throws<SqliteException>(() => Run(db, "INSERT INTO users (name, code) VALUES ('dup', 'A')"));
    }

    [Fact]
    public async Task A_FOREIGN_KEY_column_goes_only_with_its_named_constraint()
    {
        var db = await CreateAsync();

        var refused = await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "users", "team_id")));
        Assert.Contains("foreign key users_team_id_fkey (team_id) -> teams", refused.Message);

        var removal = await RemoveAsync(Request(db, "users", "team_id", "users_team_id_fkey"));

        Assert.True(removal.Removed);
        Assert.Equal(0L, Run(db, "SELECT count(*) FROM pragma_foreign_key_list('users')"));
        Assert.DoesNotContain("team_id", Definition(db, "users"));
        Run(db, "DELETE FROM teams WHERE id = 1");
    }

    [Fact]
    public async Task A_table_other_tables_reference_is_rebuilt_without_cascading_and_their_foreign_keys_still_hold()
    {
        var db = await CreateAsync(Setup + """
            CREATE TABLE posts (id INTEGER PRIMARY KEY, author INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE, body TEXT);
            INSERT INTO posts VALUES (1, 1, 'hello'), (2, 2, 'hi'), (3, 1, 'again');
            CREATE VIEW authors AS SELECT u.name, count(*) AS posts FROM users u JOIN posts p ON p.author = u.id GROUP BY u.name;
            """);
        var posts = await ContentAsync(db, "posts", "id", "author", "body");

        var removal = await RemoveAsync(Request(db, "users", "is_mock", "real_users_named"));

        Assert.Equal(["PRAGMA foreign_key_check(\"users\")", "PRAGMA foreign_key_check(\"posts\")", "COMMIT"], removal.Statements.TakeLast(3));
        // Dropping the old table ran no ON DELETE CASCADE, and the references point at the rebuilt table.
        Assert.Equal(posts, await ContentAsync(db, "posts", "id", "author", "body"));
        Assert.Equal(2L, Run(db, "SELECT posts FROM authors WHERE name = 'ann'"));
        Assert.Throws<SqliteException>(() => Run(db, "INSERT INTO posts VALUES (4, 99, 'nobody')"));
        Run(db, "DELETE FROM users WHERE id = 1");
        Assert.Equal(1L, Run(db, "SELECT count(*) FROM posts"));
    }

    [Fact]
    public async Task A_rebuild_that_foreign_key_check_does_not_pass_is_rolled_back_leaving_the_column_whole()
    {
        // A row written while foreign keys were off: the rebuild cannot show it kept every reference, so it refuses.
        var db = await CreateAsync(Setup + "PRAGMA foreign_keys = OFF; INSERT INTO users (name, team_id) VALUES ('lost', 99);");
        var before = await ContentAsync(db, "users", [.. OtherColumns, "is_mock"]);

        var failed = await Assertions.ThrowsDbOps(ErrorIds.ColumnRebuildFailed, () => RemoveAsync(Request(db, "users", "is_mock", "real_users_named")));

        Assert.Contains("foreign_key_check", failed.Message);
        Assert.Equal(before, await ContentAsync(db, "users", [.. OtherColumns, "is_mock"]));
        Assert.Contains("real_users_named", Definition(db, "users"));
        Assert.Equal(0L, Run(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'dbops_new_users'"));
        Assert.DoesNotContain(OperationsJournal.Open().Read(), e => e.Database == db.Database && e.Operation.StartsWith("ColumnRemov", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_constraint_of_the_definition_needing_it_the_column_is_dropped_in_place_with_its_own_CHECK()
    {
        var db = await CreateAsync();

        var removal = await RemoveAsync(Request(db, "users", "score", "users_score", "scores"));

        Assert.Equal(["PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 5000", "BEGIN IMMEDIATE", "DROP INDEX \"users_score\"", "DROP VIEW \"scores\"",
            "ALTER TABLE \"users\" DROP COLUMN \"score\"", "COMMIT"], removal.Statements);
        Assert.DoesNotContain("score", Definition(db, "users"));
    }

    [Fact]
    public async Task Another_columns_CHECK_naming_the_column_goes_with_a_rebuild_and_a_generated_column_using_it_refuses()
    {
        var db = await CreateAsync("""
            CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER NOT NULL CHECK (b = 0 OR a IS NOT NULL) DEFAULT 0, g INTEGER AS (b * 2));
            INSERT INTO t (id, a, b) VALUES (1, 1, 1), (2, NULL, 0);
            CREATE TABLE v (id INTEGER PRIMARY KEY, x INTEGER, y INTEGER AS (x + 1));
            INSERT INTO v (id, x) VALUES (1, 1);
            """);

        var refused = await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "t", "a")));
        Assert.Contains("check constraint t_a_check: CHECK (b = 0 OR a IS NOT NULL)", refused.Message);
        var removal = await RemoveAsync(Request(db, "t", "a", "t_a_check"));

        Assert.True(removal.Removed);
        Assert.Contains("b INTEGER NOT NULL  DEFAULT 0, g INTEGER AS (b * 2)", Definition(db, "t"));
        Assert.Equal(2L, Run(db, "SELECT g FROM t WHERE id = 1"));
        var generated = await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "v", "x", "y")));
        Assert.Contains("generated column y", generated.Message);
    }

    [Fact]
    public async Task WhatIf_shows_the_rebuild_and_changes_nothing()
    {
        var db = await CreateAsync();
        var definition = Definition(db, "users");

        var plan = await ColumnRemovalService.PlanAsync(Request(db, "users", "is_mock", "real_users_named"), CancellationToken.None);

        Assert.False(plan.Removed);
        Assert.Contains("DROP TABLE \"users\"", plan.Statements);
        Assert.Contains("ALTER TABLE \"dbops_new_users\" RENAME TO \"users\"", plan.Statements);
        Assert.Contains("CREATE INDEX users_score ON users (score)", plan.Statements);
        Assert.Equal(definition, Definition(db, "users"));
        Assert.False(Directory.Exists(Archives));
    }

    [Fact]
    public async Task Hostile_identifiers_are_quoted_through_the_rebuild_and_the_restore()
    {
        const string table = "we\"ird [t] 'x";
        const string column = "co\"l ]x";
        var db = await CreateAsync("""
            CREATE TABLE "we""ird [t] 'x" ("k""ey" TEXT PRIMARY KEY NOT NULL, "co""l ]x" INTEGER, [keep me] TEXT DEFAULT 'a''b',
                CONSTRAINT "c""k" CHECK ("co""l ]x" > 0 OR [keep me] IS NULL), CHECK (length([keep me]) > 0)) WITHOUT ROWID;
            INSERT INTO "we""ird [t] 'x" VALUES ('a', 1, 'x'), ('b', NULL, NULL), ('c', 3, 'z');
            """);
        var archived = await ContentAsync(db, table, "k\"ey", column);
        var kept = await ContentAsync(db, table, "k\"ey", "keep me");

        await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, table, column)));
        var removal = await RemoveAsync(Request(db, table, column, "c\"k"));

        Assert.True(removal.Removed);
        Assert.Equal(kept, await ContentAsync(db, table, "k\"ey", "keep me"));
        var definition = Definition(db, table);
        Assert.EndsWith("WITHOUT ROWID", definition);
        Assert.Contains("CHECK (length([keep me]) > 0)", definition);
        Assert.DoesNotContain("c\"\"k", definition);
        await ArchiveService.ImportAsync(new ArchiveImportRequest(removal.ArchivePath!, db), NullObserver.Instance, CancellationToken.None);
        Assert.Equal(archived, await ContentAsync(db, table, "k\"ey", column));
    }
}
