using DbOps.Core.Errors;
using DbOps.Core.Indexes;
using DbOps.Core.Progress;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

/// <summary>Add-SafeIndex's index kinds on SQLite: expressions and partial indexes; other methods and INCLUDE are refused.</summary>
public sealed class IndexKindSqliteTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static long IndexCount(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_schema WHERE type = 'index'";
        return (long)command.ExecuteScalar()!;
    }

    private static async Task<IndexChange> AddAsync(AddIndexRequest request)
    {
        var plan = await IndexMaintenance.PlanAddAsync(request, CancellationToken.None);
        return await IndexMaintenance.ApplyAsync(plan, NullObserver.Instance, CancellationToken.None);
    }

    [Fact]
    public async Task Expression_partial_and_composite_indexes_are_built_and_an_identical_one_is_not_built_twice()
    {
        var path = _folder.File("kinds.db");
        var db = await Sqlite.CreateAsync(path, """
            CREATE TABLE goals (id INTEGER PRIMARY KEY, owner TEXT, title TEXT, deleted_at TEXT, phases TEXT);
            INSERT INTO goals (owner, title, phases) VALUES ('a', 'One', '{"status":"active"}'), ('b', 'Two', NULL);
            """);

        var expression = await AddAsync(new AddIndexRequest(db, "goals", ["lower(title)"]));
        Assert.Equal("CREATE INDEX \"ix_goals_lower_title\" ON \"goals\" ((lower(title)))", expression.Sql);
        var partial = await AddAsync(new AddIndexRequest(db, "goals", ["owner", "title"]) { Where = "deleted_at IS NULL" });
        Assert.Equal("CREATE INDEX \"ix_goals_owner_title\" ON \"goals\" (\"owner\", \"title\") WHERE deleted_at IS NULL", partial.Sql);
        var json = await AddAsync(new AddIndexRequest(db, "goals", ["json_extract(phases, '$.status')"]) { Where = "phases IS NOT NULL" });
        Assert.Equal(IndexChangeStatus.Created, json.Status);

        // The same partial index spelled differently exists already; a plain index on the same columns does not.
        var again = await IndexMaintenance.PlanAddAsync(
            new AddIndexRequest(db, "goals", ["OWNER", "Title"], "ix_other") { Where = "deleted_at  is null" }, CancellationToken.None);
        Assert.Equal(IndexChangeStatus.Exists, again.Outcome);
        Assert.Contains("ix_goals_owner_title", again.Note);
        Assert.Equal(IndexChangeStatus.Created, (await AddAsync(new AddIndexRequest(db, "goals", ["owner", "title"], "ix_plain"))).Status);

        Assert.Equal(4, IndexCount(path));
    }

    [Fact]
    public async Task An_index_kind_SQLite_lacks_an_expression_with_a_second_statement_and_a_bad_predicate_are_refused_and_change_nothing()
    {
        var path = _folder.File("bad.db");
        var db = await Sqlite.CreateAsync(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, doc TEXT); INSERT INTO t (a) VALUES (1);");

        await Assertions.ThrowsDbOps(ErrorIds.IndexKindNotSupported,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "t", ["doc"]) { Method = IndexMethod.Gin }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.IndexKindNotSupported,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "t", ["a"]) { Include = ["doc"] }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "t", ["lower(doc)); DROP TABLE t; --"]), CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "t", ["a"]) { Where = "a > 0; DELETE FROM t" }, CancellationToken.None));
        // SQLite itself refuses what would make the index depend on more than the row: subqueries, random().
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "t", ["a"]) { Where = "a IN (SELECT a FROM t)" }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidIndexExpression,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "t", ["a"]) { Where = "random() > 0" }, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.ColumnNotFound,
            () => IndexMaintenance.PlanAddAsync(new AddIndexRequest(db, "t", ["nope"]), CancellationToken.None));

        Assert.Equal(0, IndexCount(path));
        Assert.Equal(1, Sqlite.Count(path, "t"));
    }

    [Fact]
    public async Task A_partial_expression_or_collated_index_is_never_called_a_duplicate_of_a_plain_one()
    {
        var db = await Sqlite.CreateAsync(_folder.File("dup.db"), """
            CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER);
            CREATE INDEX ix_a ON t (a);
            CREATE INDEX ix_a_partial ON t (a) WHERE b > 0;
            CREATE INDEX ix_a_nocase ON t (a COLLATE NOCASE);
            CREATE INDEX ix_a_lower ON t (lower(a));
            CREATE INDEX ix_a_desc ON t (a DESC);
            CREATE INDEX "ix_a_same" ON "t"("a");
            """);

        var findings = await IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(db), NullObserver.Instance, CancellationToken.None);

        Assert.Equal(["ix_a_same Duplicate ix_a"], findings.Select(f => $"{f.Index} {f.Reason} {f.CoveredBy}"));
    }

    [Fact]
    public async Task Find_MissingIndex_is_not_satisfied_by_a_partial_or_expression_index_on_the_foreign_key()
    {
        var db = await Sqlite.CreateAsync(_folder.File("fk.db"), """
            CREATE TABLE parent (id INTEGER PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id), other_id INTEGER REFERENCES parent (id));
            CREATE INDEX ix_child_parent_partial ON child (parent_id) WHERE parent_id > 10;
            CREATE INDEX ix_child_other_expr ON child (other_id + 0);
            """);

        var missing = await IndexAdvisor.FindMissingAsync(db, NullObserver.Instance, CancellationToken.None);

        Assert.Equal(["other_id", "parent_id"], missing.Select(m => Assert.Single(m.Columns)).Order());
    }
}
