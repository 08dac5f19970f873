using DbOps.Core.Connections;
using DbOps.Core.Moves;
using DbOps.Core.Progress;

namespace DbOps.Core.Tests;

/// <summary>Compare-TableData -TargetDatabase: key-range checksums in each database, bisecting only the ranges that differ.</summary>
public abstract class MovesAcrossDatabasesTests : IDisposable
{
    protected readonly TempFolder Folder = new();

    public void Dispose() => Folder.Dispose();

    protected abstract Task<DbOpsConnection> CreateSourceAsync(string sql);

    protected abstract Task<DbOpsConnection> CreateTargetAsync(string sql);

    protected abstract void ExecuteOnTarget(DbOpsConnection target, string sql);

    /// <summary>2000 rows with numerics written 1.00 and 1.5, booleans, and NULLs: enough rows for many key ranges.</summary>
    private const string Items = """
        CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, amount NUMERIC(10,2), flag BOOLEAN);
        INSERT INTO items WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
            SELECT i, 'item ' || i, CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 4) * 0.5 END, i % 2 = 0 FROM n;
        """;

    private static Task<TableComparison> CompareAsync(DbOpsConnection source, DbOpsConnection target) => TableComparer.CompareAsync(new TableMap
    {
        Source = source,
        TargetDatabase = target,
        SourceTable = "items",
        TargetTable = "items",
        Keys = [new KeyPair("id", "id")],
    }, NullObserver.Instance, CancellationToken.None);

    [Fact]
    public async Task Identical_tables_are_equal_without_shipping_every_row()
    {
        var source = await CreateSourceAsync(Items);
        var target = await CreateTargetAsync(Items);

        var result = await CompareAsync(source, target);

        Assert.Equal((2000L, 2000L, 2000L, ComparisonVerdict.Equal), (result.SourceRows, result.TargetRows, result.Matched, result.Verdict));
        Assert.Equal("KeyRanges", result.Method);
        // Both databases wrote the same canonical texts (1.00 as 1, TRUE as 1), so the one checksum of the whole table agreed.
        Assert.Equal(0, result.RowsShipped);
    }

    [Fact]
    public async Task Planted_missing_changed_and_extra_rows_are_all_found_shipping_only_their_ranges()
    {
        var source = await CreateSourceAsync(Items);
        var target = await CreateTargetAsync(Items);
        ExecuteOnTarget(target, """
            DELETE FROM items WHERE id IN (100, 1500);
            UPDATE items SET name = 'renamed' WHERE id = 700;
            UPDATE items SET amount = 9.25 WHERE id = 1201;
            INSERT INTO items VALUES (5000, 'extra', 1, TRUE);
            """);

        var result = await CompareAsync(source, target);

        Assert.Equal((2000L, 1999L, 1996L, 2L, 2L, 1L), (result.SourceRows, result.TargetRows, result.Matched, result.Missing, result.Changed, result.Extra));
        Assert.Equal(["100", "1500"], result.MissingSamples);
        Assert.Equal([("700", "name"), ("1201", "amount")], result.ChangedSamples.Select(c => (c.Key, Assert.Single(c.Columns))));
        Assert.Equal(["5000"], result.ExtraSamples);
        Assert.Equal(ComparisonVerdict.Differs, result.Verdict);
        Assert.True(result.RowsShipped < 200, $"{result.RowsShipped} rows shipped"); // 53 when this was written: the four differing ranges
    }

    /// <summary>2000 rows under a composite key (a, b): 40 values of a, 50 of b each.</summary>
    private const string Pairs = """
        CREATE TABLE pairs(a INTEGER NOT NULL, b TEXT NOT NULL, v NUMERIC(10,2), PRIMARY KEY (a, b));
        INSERT INTO pairs WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1999)
            SELECT i / 50 + 1, CASE WHEN i % 50 < 10 THEN 'b0' ELSE 'b' END || (i % 50), (i % 7) * 0.25 FROM n;
        """;

    [Fact]
    public async Task Differences_across_the_parts_bounds_of_a_composite_key_are_all_found()
    {
        var source = await CreateSourceAsync(Pairs);
        var target = await CreateTargetAsync(Pairs);
        // A block of 50 missing rows wider than a part, changes on both sides of a step in a, extra rows before the
        // first key, after the last and between two keys.
        ExecuteOnTarget(target, """
            DELETE FROM pairs WHERE a = 10;
            UPDATE pairs SET v = 99 WHERE (a = 20 AND b IN ('b48', 'b49')) OR (a = 21 AND b IN ('b00', 'b01'));
            INSERT INTO pairs VALUES (0, 'x', 1), (41, 'a', 1), (15, 'b025', 1);
            """);

        var result = await TableComparer.CompareAsync(new TableMap
        {
            Source = source,
            TargetDatabase = target,
            SourceTable = "pairs",
            TargetTable = "pairs",
            Keys = [new KeyPair("a", "a"), new KeyPair("b", "b")],
        }, NullObserver.Instance, CancellationToken.None);

        Assert.Equal((2000L, 1953L, 1946L, 50L, 4L, 3L), (result.SourceRows, result.TargetRows, result.Matched, result.Missing, result.Changed, result.Extra));
        Assert.Equal(Enumerable.Range(0, 10).Select(b => $"(10, b0{b})"), result.MissingSamples);
        Assert.Equal(["(20, b48)", "(20, b49)", "(21, b00)", "(21, b01)"], result.ChangedSamples.Select(c => c.Key));
        Assert.All(result.ChangedSamples, c => Assert.Equal(["v"], c.Columns));
        Assert.Equal(["(0, x)", "(15, b025)", "(41, a)"], result.ExtraSamples);
    }
}

public sealed class MovesSqliteToSqliteTests : MovesAcrossDatabasesTests
{
    protected override Task<DbOpsConnection> CreateSourceAsync(string sql) => Sqlite.CreateAsync(Folder.File("source.db"), sql);

    protected override Task<DbOpsConnection> CreateTargetAsync(string sql) => Sqlite.CreateAsync(Folder.File("target.db"), sql);

    protected override void ExecuteOnTarget(DbOpsConnection target, string sql) => Sqlite.Execute(target.Database, sql);
}

[Collection(PostgresCollection.Name)]
public sealed class MovesPostgresToPostgresTests(PostgresCluster cluster) : MovesAcrossDatabasesTests
{
    protected override Task<DbOpsConnection> CreateSourceAsync(string sql) => Postgres.CreateAsync(cluster, sql);

    protected override Task<DbOpsConnection> CreateTargetAsync(string sql) => Postgres.CreateAsync(cluster, sql);

    protected override void ExecuteOnTarget(DbOpsConnection target, string sql) => cluster.Execute(target.Database, sql);
}

[Collection(PostgresCollection.Name)]
public sealed class MovesSqliteToPostgresTests(PostgresCluster cluster) : MovesAcrossDatabasesTests
{
    protected override Task<DbOpsConnection> CreateSourceAsync(string sql) => Sqlite.CreateAsync(Folder.File("source.db"), sql);

    protected override Task<DbOpsConnection> CreateTargetAsync(string sql) => Postgres.CreateAsync(cluster, sql);

    protected override void ExecuteOnTarget(DbOpsConnection target, string sql) => cluster.Execute(target.Database, sql);
}

internal static class Postgres
{
    public static async Task<DbOpsConnection> CreateAsync(PostgresCluster cluster, string sql)
    {
        var name = cluster.CreateDatabase("moves");
        cluster.Execute(name, sql);
        return await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(name), null, null, CancellationToken.None);
    }
}
