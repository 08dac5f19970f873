using DbOps.Core.Columns;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;

namespace DbOps.Core.Tests;

/// <summary>Find-DeprecatedColumn on SQLite: values, -Pattern, code references, dependents, hostile names, and the pipe into Remove-DeprecatedColumn.</summary>
public sealed class DeprecatedColumnSqliteTests : IDisposable
{
    private const string Setup = """"
        CREATE TABLE "we""ird.t" (id INTEGER PRIMARY KEY, blank TEXT, same INTEGER, varied TEXT, is_mock INTEGER, "odd ""col""" TEXT);
        INSERT INTO "we""ird.t" VALUES (1, NULL, 7, 'a', 0, 'x'), (2, NULL, 7, 'b', 1, 'y'), (3, NULL, 7, 'c', 0, 'z');
        CREATE INDEX ix_same ON "we""ird.t" (same);
        CREATE TABLE empty (id INTEGER PRIMARY KEY, note TEXT);
        """";

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static Task<IReadOnlyList<ColumnDeprecation>> FindAsync(DeprecatedColumnRequest request) =>
        DeprecatedColumnService.FindAsync(request, NullObserver.Instance, CancellationToken.None);

    /// <summary>A source folder naming "blank" once; a binary file and .git name is_mock, and are skipped.</summary>
    private string Code()
    {
        var src = _folder.File("src");
        Directory.CreateDirectory(Path.Combine(src, ".git"));
        File.WriteAllText(Path.Combine(src, "app.py"), "row.blank = None  # is_mockery is another word\n");
        File.WriteAllText(Path.Combine(src, ".git", "HEAD"), "is_mock\n");
        File.WriteAllBytes(Path.Combine(src, "blob.bin"), [0, 1, .. "is_mock"u8.ToArray(), 0]);
        return src;
    }

    [Fact]
    public async Task Each_column_outside_the_key_gets_a_verdict_from_its_values_name_code_and_dependents()
    {
        var db = await Sqlite.CreateAsync(_folder.File("app.db"), Setup);

        var found = (await FindAsync(new DeprecatedColumnRequest(db, Patterns: ["IS_MOCK"], CodePaths: [Code()]))).ToDictionary(c => c.Column);

        Assert.Equal(["blank", "is_mock", "note", "odd \"col\"", "same", "varied"], found.Keys.Order(StringComparer.Ordinal));
        var blank = found["blank"];
        Assert.Equal((true, 3L, 0L, ColumnVerdict.InUse), (blank.AllNull, blank.Rows!.Value, blank.NonNullValues!.Value, blank.Verdict));
        Assert.Equal(1, blank.CodeReferences);
        Assert.Equal([Path.Combine(_folder.File("src"), "app.py")], blank.CodeFiles);
        var same = found["same"];
        Assert.Equal((true, "7", ColumnVerdict.InUse), (same.Constant, same.ConstantValue, same.Verdict));
        Assert.Equal(["index ix_same"], same.Dependents);
        Assert.Contains("other objects need it (index ix_same", same.Reason);
        var mock = found["is_mock"];
        Assert.Equal((true, false, false, 0, ColumnVerdict.Deprecated), (mock.MatchesPattern, mock.AllNull, mock.Constant, mock.CodeReferences, mock.Verdict));
        Assert.Equal(ColumnVerdict.Active, found["varied"].Verdict);
        Assert.Equal(ColumnVerdict.Active, found["odd \"col\""].Verdict);
        var note = found["note"];
        Assert.Equal((false, ColumnVerdict.Active), (note.AllNull, note.Verdict));
        Assert.Contains("the table holds no rows", note.Evidence);
        Assert.Contains("SQLite keeps no column comments", mock.Evidence);
        Assert.Contains("SQLite records no statement texts", mock.Evidence);
        Assert.Null(mock.QueryReferences);
        Assert.Equal("\"we\"\"ird.t\"", mock.Table);
        Assert.Equal("empty", note.Table);
    }

    [Fact]
    public async Task A_result_names_the_table_so_Remove_DeprecatedColumn_finds_it_exactly()
    {
        var db = await Sqlite.CreateAsync(_folder.File("app.db"), Setup);
        var mock = Assert.Single(await FindAsync(new DeprecatedColumnRequest(db, Tables: ["*ird*"], Columns: ["is_*"], Patterns: ["is_mock"])));

        var removal = await ColumnRemovalService.RemoveAsync(new ColumnRemovalRequest(db, mock.Table, mock.Column, _folder.File("archives")),
            NullObserver.Instance, CancellationToken.None);

        Assert.True(removal.Removed);
        Assert.Equal(("we\"ird.t", "is_mock"), (removal.Table, removal.Column));
    }

    [Fact]
    public async Task Tables_and_columns_named_without_wildcards_must_exist_and_a_key_column_is_never_a_candidate()
    {
        var db = await Sqlite.CreateAsync(_folder.File("app.db"), Setup);

        Assert.Equal(ErrorIds.TableNotFound, (await Assert.ThrowsAsync<DbOpsException>(() => FindAsync(new DeprecatedColumnRequest(db, Tables: ["nosuch"])))).ErrorId);
        Assert.Equal(ErrorIds.ColumnNotFound, (await Assert.ThrowsAsync<DbOpsException>(() => FindAsync(new DeprecatedColumnRequest(db, Columns: ["nosuch"])))).ErrorId);
        Assert.Equal(ErrorIds.ColumnIsKey, (await Assert.ThrowsAsync<DbOpsException>(() => FindAsync(new DeprecatedColumnRequest(db, Columns: ["id"])))).ErrorId);
        Assert.Empty(await FindAsync(new DeprecatedColumnRequest(db, Columns: ["zz*"])));
    }
}

/// <summary>Find-DeprecatedColumn on PostgreSQL: comments, statistics and their age, pg_stat_statements present or absent, dependents, hostile names.</summary>
[Collection(PostgresCollection.Name)]
public sealed class DeprecatedColumnPostgresTests(PostgresCluster cluster)
{
    private const string Setup = """
        CREATE SCHEMA "Odd.Schema";
        CREATE TABLE "Odd.Schema"."Mixed Case" (id bigint PRIMARY KEY, nothing text, same int, varied text, is_mock boolean, noted text, viewed int);
        INSERT INTO "Odd.Schema"."Mixed Case" VALUES (1, NULL, 7, 'a', false, 'x', NULL), (2, NULL, 7, 'b', true, 'y', NULL), (3, NULL, 7, 'c', false, 'z', NULL);
        COMMENT ON COLUMN "Odd.Schema"."Mixed Case".noted IS 'Deprecated: notes live in the notes table';
        CREATE VIEW watching AS SELECT id, viewed FROM "Odd.Schema"."Mixed Case";
        """;

    private async Task<(string Name, DbOpsConnection Db)> CreateAsync(string sql = Setup)
    {
        var name = cluster.CreateDatabase("depcol");
        cluster.Execute(name, sql);
        return (name, await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(name), null, null, CancellationToken.None));
    }

    private static async Task<Dictionary<string, ColumnDeprecation>> FindAsync(DeprecatedColumnRequest request) =>
        (await DeprecatedColumnService.FindAsync(request, NullObserver.Instance, CancellationToken.None)).ToDictionary(c => c.Column);

    [Fact]
    public async Task Counted_values_a_comment_a_pattern_and_a_dependent_view_decide_and_a_missing_pg_stat_statements_is_said()
    {
        var (_, db) = await CreateAsync();

        var found = await FindAsync(new DeprecatedColumnRequest(db, Patterns: ["is_mock"]));

        Assert.Equal(["nothing", "same", "varied", "is_mock", "noted", "viewed"], found.Keys);
        Assert.Equal((true, ColumnVerdict.Deprecated), (found["nothing"].AllNull, found["nothing"].Verdict));
        Assert.Equal((true, "7", ColumnVerdict.Deprecated), (found["same"].Constant, found["same"].ConstantValue, found["same"].Verdict));
        Assert.Equal((true, ColumnVerdict.Deprecated), (found["noted"].CommentMarksDeprecated, found["noted"].Verdict));
        Assert.Contains("comment 'Deprecated: notes live in the notes table' marks it deprecated", found["noted"].Evidence);
        Assert.Equal((true, ColumnVerdict.Deprecated), (found["is_mock"].MatchesPattern, found["is_mock"].Verdict));
        Assert.Equal(ColumnVerdict.Active, found["varied"].Verdict);
        var viewed = found["viewed"];
        Assert.Equal((true, ColumnVerdict.InUse), (viewed.AllNull, viewed.Verdict));
        Assert.Equal(["view public.watching"], viewed.Dependents);
        Assert.Null(viewed.QueryReferences);
        Assert.Contains(viewed.Evidence, e => e.StartsWith("pg_stat_statements is not installed", StringComparison.Ordinal));
        Assert.Equal("\"Odd.Schema\".\"Mixed Case\"", viewed.Table);
        Assert.Contains("code was not searched", found["nothing"].Reason);
    }

    [Fact]
    public async Task A_recorded_query_naming_the_column_and_its_table_shows_it_in_use()
    {
        var (name, db) = await CreateAsync(Setup + "CREATE EXTENSION pg_stat_statements;");
        cluster.Execute(name, "SELECT is_mock FROM \"Odd.Schema\".\"Mixed Case\" WHERE id = 1");

        var found = await FindAsync(new DeprecatedColumnRequest(db, Columns: ["is_mock", "nothing"], Patterns: ["is_mock"]));

        Assert.True(found["is_mock"].QueryReferences >= 1);
        Assert.Equal(ColumnVerdict.InUse, found["is_mock"].Verdict);
        Assert.Equal((0, ColumnVerdict.Deprecated), (found["nothing"].QueryReferences, found["nothing"].Verdict));
    }

    [Fact]
    public async Task Statistics_give_all_NULL_and_constant_columns_with_their_age_and_say_when_there_are_none()
    {
        var (name, db) = await CreateAsync(Setup + "CREATE TABLE never (id int PRIMARY KEY, gone text);");
        cluster.Execute(name, "ANALYZE \"Odd.Schema\".\"Mixed Case\"");

        var found = await FindAsync(new DeprecatedColumnRequest(db, UseStatistics: true));

        var nothing = found["nothing"];
        Assert.Equal((true, true, 3L), (nothing.FromStatistics, nothing.AllNull, nothing.Rows!.Value));
        Assert.NotNull(nothing.StatisticsAge);
        Assert.Equal((true, ColumnVerdict.Deprecated), (found["same"].Constant, found["same"].Verdict));
        Assert.Equal(ColumnVerdict.Active, found["varied"].Verdict);
        var gone = found["gone"];
        Assert.Equal((false, null, ColumnVerdict.Active), (gone.AllNull, gone.StatisticsAge, gone.Verdict));
        Assert.Contains(gone.Evidence, e => e.StartsWith("the table was never analysed", StringComparison.Ordinal));
    }
}
