using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;
using DbOps.Core.Integrity;
using DbOps.Core.Progress;
using DbOps.Core.Sql;

namespace DbOps.Core.Tests;

/// <summary>
/// One rule for user-supplied SQL expressions: Add-SafeConstraint -Check, Add-SafeIndex's expression keys and -Where,
/// and Test-DataIntegrity -Condition refuse the same hostile inputs, each with its own error id, on both engines.
/// </summary>
public static class HostileExpressions
{
    private const string Goals = "CREATE TABLE goals (id integer PRIMARY KEY, title text, deadline integer, created_at integer)";

    public const string SqliteSetup = Goals + "; INSERT INTO goals VALUES (1, 'a', 2, 1), (2, 'b', 3, 1);";

    public const string PostgresSetup = Goals + """
        ;
        INSERT INTO goals VALUES (1, 'a', 2, 1), (2, 'b', 3, 1);
        CREATE TABLE audit (n integer);
        CREATE FUNCTION noisy(t text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (1); RETURN true; END $$;
        """;

    /// <summary>Each input and what is wrong with it.</summary>
    public static TheoryData<string, string> All => new()
    {
        { "deadline >= created_at; DELETE FROM goals", "a statement separator" },
        { "deadline >= created_at -- ) OR (1 = 1", "a line comment hiding text" },
        { "deadline >= created_at /* ; */", "a block comment" },
        { "title = 'open", "an unclosed quote" },
        { "title = \"open", "an unclosed quoted name" },
        { "(deadline >= created_at", "an unclosed parenthesis" },
        { "deadline >= created_at) OR (1 = 1", "a parenthesis closed that was never opened" },
        { "EXISTS (WITH gone AS (DELETE FROM goals RETURNING 1) SELECT 1 FROM gone)", "a subquery that deletes" },
        { "id IN (SELECT id FROM goals FOR UPDATE)", "a subquery that locks rows" },
        { "id IN (WITH n AS (INSERT INTO goals (id) VALUES (99) RETURNING id) SELECT id FROM n)", "a subquery that inserts" },
    };

    /// <summary>
    /// On PostgreSQL '[' is a subscript, not a quote: text that a SQLite-minded lexer reads as a quoted name hides a
    /// comment that moves where the server's strings begin, letting ';' through to end a read-only transaction.
    /// </summary>
    public static TheoryData<string> PostgresOnly => new()
    {
        "a[/*] = '*/ 1] IS NULL); COMMIT; BEGIN READ WRITE; DROP TABLE audit; COMMIT; SELECT 1 WHERE NOT ((jsonb_build_object())[' [ '] IS NULL",
        "title[`] = 1; DROP TABLE audit; SELECT `",
    };

    /// <summary>Every place a user's expression goes in, with the error id it refuses with.</summary>
    public static async Task RefusedEverywhereAsync(DbOpsConnection db, string expression)
    {
        await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => ConstraintService.PlanAsync(
            db, ConstraintSpec.Check("goals", expression), ConstraintOptions.Default, NullObserver.Instance, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression, () => IndexMaintenance.PlanAddAsync(
            new AddIndexRequest(db, "goals", ["title"]) { Where = expression }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression, () => IndexMaintenance.PlanAddAsync(
            new AddIndexRequest(db, "goals", [expression]), CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidSpecification, () => IntegrityService.RunAsync(
            new IntegrityRequest(db) { Conditions = [new ConditionSpec("goals", expression)] }, NullObserver.Instance, CancellationToken.None));
    }
}

public sealed class SqlExpressionTests
{
    [Theory]
    [MemberData(nameof(HostileExpressions.All), MemberType = typeof(HostileExpressions))]
    public void Both_engines_give_the_same_reason_for_a_hostile_expression(string expression, string what)
    {
        var sqlite = SqlExpression.Problem(expression, SqliteEngine.Instance);
        Assert.True(sqlite is not null, $"{what} was accepted");
        Assert.Equal(sqlite, SqlExpression.Problem(expression, PostgresEngine.Instance));
    }

    [Theory]
    [InlineData("deadline >= created_at")]
    [InlineData("lower(title) <> 'it''s (not) ; -- here'")]
    [InlineData("\"Deadline\" IS NULL OR EXISTS (SELECT 1 FROM goals g WHERE g.id = id)")]
    [InlineData("updated_at > deleted_at")]
    public void An_expression_that_only_reads_is_accepted_on_both_engines(string expression)
    {
        Assert.Null(SqlExpression.Problem(expression, SqliteEngine.Instance));
        Assert.Null(SqlExpression.Problem(expression, PostgresEngine.Instance));
    }

    [Fact]
    public void A_dollar_inside_a_literal_is_accepted_and_a_backslash_is_refused_only_where_the_engine_has_escape_strings()
    {
        Assert.Null(SqlExpression.Problem("json_extract(doc, '$.status') = 'a\\b'", SqliteEngine.Instance));
        Assert.Null(SqlExpression.Problem("price_text NOT LIKE '$%' AND doc #> '{a}' = '$'", PostgresEngine.Instance));
        Assert.NotNull(SqlExpression.Problem("title ~ '^a\\.b$'", PostgresEngine.Instance));
        Assert.NotNull(SqlExpression.Problem("title <> E'\\');'", PostgresEngine.Instance));
        Assert.NotNull(SqlExpression.Problem("title <> $$;$$", SqliteEngine.Instance));
        Assert.Null(SqlExpression.Problem("\"pri$ce\" > 0 AND \"a\\b\" IS NOT NULL", PostgresEngine.Instance));
        Assert.Null(SqlExpression.Problem("[pri$ce] > 0", SqliteEngine.Instance));
        Assert.NotNull(SqlExpression.Problem("\"a$\" = $$;$$", PostgresEngine.Instance));
        Assert.NotNull(SqlExpression.Problem("title = $1", SqliteEngine.Instance));
    }
}

public sealed class SqlExpressionSqliteTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [MemberData(nameof(HostileExpressions.All), MemberType = typeof(HostileExpressions))]
    public async Task A_hostile_expression_is_refused_by_every_cmdlet_that_takes_one_and_nothing_changes(string expression, string what)
    {
        var path = _folder.File("hostile.db");
        var db = await Sqlite.CreateAsync(path, HostileExpressions.SqliteSetup);
        var before = await File.ReadAllBytesAsync(path);

        await HostileExpressions.RefusedEverywhereAsync(db, expression);

        var after = await File.ReadAllBytesAsync(path);
        Assert.True(before.SequenceEqual(after), $"{what}: the database file changed");
    }
}

[Collection(PostgresCollection.Name)]
public sealed class SqlExpressionPostgresTests(PostgresCluster cluster)
{
    private string Objects(DbOpsConnection db) => cluster.Scalar<string>(db.Database,
        "SELECT (SELECT count(*) FROM goals) || ' rows, ' || (SELECT count(*) FROM pg_constraint WHERE conrelid = 'goals'::regclass) || ' constraints, ' " +
        "|| (SELECT count(*) FROM pg_index WHERE indrelid = 'goals'::regclass) || ' indexes, ' || (SELECT count(*) FROM audit) || ' audit rows'");

    [Theory]
    [MemberData(nameof(HostileExpressions.All), MemberType = typeof(HostileExpressions))]
    public async Task A_hostile_expression_is_refused_by_every_cmdlet_that_takes_one_and_nothing_changes(string expression, string what)
    {
        var db = await cluster.CreateConnectedAsync(HostileExpressions.PostgresSetup);
        var before = Objects(db);

        await HostileExpressions.RefusedEverywhereAsync(db, expression);

        Assert.True(before == Objects(db), $"{what}: {before} became {Objects(db)}");
    }

    [Theory]
    [MemberData(nameof(HostileExpressions.PostgresOnly), MemberType = typeof(HostileExpressions))]
    public async Task Brackets_and_backticks_hide_nothing_from_the_check_on_PostgreSQL(string expression)
    {
        var db = await cluster.CreateConnectedAsync(HostileExpressions.PostgresSetup);
        var before = Objects(db);

        await HostileExpressions.RefusedEverywhereAsync(db, expression);

        Assert.Equal(before, Objects(db));
    }

    [Fact]
    public async Task A_function_that_writes_is_refused_by_the_server_everywhere_and_writes_nothing()
    {
        var db = await cluster.CreateConnectedAsync(HostileExpressions.PostgresSetup);
        var before = Objects(db);

        await Assertions.ThrowsDbOps(ErrorIds.InvalidConstraintExpression, () => ConstraintService.PlanAsync(
            db, ConstraintSpec.Check("goals", "noisy(title)"), ConstraintOptions.Default, NullObserver.Instance, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.QueryWouldWrite, () => IndexMaintenance.PlanAddAsync(
            new AddIndexRequest(db, "goals", ["title"]) { Where = "noisy(title)" }, CancellationToken.None));
        // Test-DataIntegrity runs in a read-only transaction: the check that evaluates the condition fails there.
        var report = await IntegrityService.RunAsync(
            new IntegrityRequest(db) { Conditions = [new ConditionSpec("goals", "noisy(title)")] }, NullObserver.Instance, CancellationToken.None);
        Assert.Contains(report.Checks, c => c.Check == IntegrityCheck.CheckViolation && c.ErrorId == ErrorIds.IntegrityCheckFailed);

        Assert.Equal(before, Objects(db));
    }
}
