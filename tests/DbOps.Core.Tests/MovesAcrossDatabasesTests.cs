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

    /// <summary>Whether the source's and the target's engine let several connections read one snapshot (PostgreSQL does, SQLite does not).</summary>
    protected abstract (bool Source, bool Target) SharesSnapshots { get; }

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

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Parallel_finds_what_one_connection_finds_and_warns_for_a_side_that_cannot_share_its_snapshot(int parallel)
    {
        var source = await CreateSourceAsync(Pairs);
        var target = await CreateTargetAsync(Pairs);
        // Differences near the first and last key, and inside each third of the key space, so every group has one.
        ExecuteOnTarget(target, """
            DELETE FROM pairs WHERE (a = 1 AND b = 'b00') OR a = 27;
            UPDATE pairs SET v = 99 WHERE (a = 13 AND b = 'b13') OR (a = 40 AND b = 'b49');
            INSERT INTO pairs VALUES (0, 'x', 1), (14, 'b025', 1), (41, 'a', 1);
            """);
        TableMap map = new()
        {
            Source = source,
            TargetDatabase = target,
            SourceTable = "pairs",
            TargetTable = "pairs",
            Keys = [new KeyPair("a", "a"), new KeyPair("b", "b")],
        };
        var observer = new RecordingObserver();

        var one = await TableComparer.CompareAsync(map, NullObserver.Instance, CancellationToken.None);
        var many = await TableComparer.CompareAsync(map, parallel, observer, CancellationToken.None);

        Assert.Equal((2000L, 1952L, 1947L, 51L, 2L, 3L), (one.SourceRows, one.TargetRows, one.Matched, one.Missing, one.Changed, one.Extra));
        Assert.Equal(Summary(one), Summary(many));
        var (sourceShares, targetShares) = SharesSnapshots;
        if (sourceShares && targetShares)
        {
            Assert.Empty(observer.Warnings);
            Assert.Contains($"The first key ranges are read over {parallel} connections per side, each side's in one snapshot.", observer.VerboseMessages);
        }
        else
        {
            var warning = Assert.Single(observer.Warnings);
            Assert.Contains($"not {parallel}", warning, StringComparison.Ordinal);
            Assert.Contains(sourceShares || targetShares ? "one connection on the" : "one connection per side", warning, StringComparison.Ordinal);
        }
    }

    /// <summary>What a comparison found, as plain values (the result's lists compare by reference).</summary>
    private static string Summary(TableComparison r) =>
        $"{r.SourceRows} {r.TargetRows} {r.Matched} {r.Missing} {r.Changed} {r.Extra} {r.Verdict} {r.Method} shipped {r.RowsShipped}; " +
        $"missing {string.Join(" ", r.MissingSamples)}; changed {string.Join(" ", r.ChangedSamples.Select(c => $"{c.Key}:{string.Join(",", c.Columns)}"))}; " +
        $"extra {string.Join(" ", r.ExtraSamples)}; columns {string.Join(" ", r.ChangedColumns.OrderBy(c => c.Key).Select(c => $"{c.Key}={c.Value}"))}";
}

public sealed class MovesSqliteToSqliteTests : MovesAcrossDatabasesTests
{
    protected override Task<DbOpsConnection> CreateSourceAsync(string sql) => Sqlite.CreateAsync(Folder.File("source.db"), sql);

    protected override Task<DbOpsConnection> CreateTargetAsync(string sql) => Sqlite.CreateAsync(Folder.File("target.db"), sql);

    protected override void ExecuteOnTarget(DbOpsConnection target, string sql) => Sqlite.Execute(target.Database, sql);

    protected override (bool Source, bool Target) SharesSnapshots => (false, false);
}

[Collection(PostgresCollection.Name)]
public sealed class MovesPostgresToPostgresTests(PostgresCluster cluster) : MovesAcrossDatabasesTests
{
    protected override Task<DbOpsConnection> CreateSourceAsync(string sql) => Postgres.CreateAsync(cluster, sql);

    protected override Task<DbOpsConnection> CreateTargetAsync(string sql) => Postgres.CreateAsync(cluster, sql);

    protected override void ExecuteOnTarget(DbOpsConnection target, string sql) => cluster.Execute(target.Database, sql);

    protected override (bool Source, bool Target) SharesSnapshots => (true, true);

    [Fact]
    public async Task Parallel_connections_all_read_the_moment_the_counts_read_not_a_later_commit()
    {
        const string Items = """
            CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 3000) AS i;
            """;
        var source = await CreateSourceAsync(Items);
        var target = await CreateTargetAsync(Items);
        TableMap map = new()
        {
            Source = source,
            TargetDatabase = target,
            SourceTable = "items",
            TargetTable = "items",
            Keys = [new KeyPair("id", "id")],
        };
        var committed = false;
        // After both counts, before the other connections join: a change in each third of the keys (each third a group
        // on its own connection with -Parallel 3), committed on the source. A connection reading a later moment would see it,
        // and its parts would differ: fetched on the first connection, they would match again, but cost RowsShipped.
        var observer = new HookObserver(message =>
        {
            if (message.StartsWith("Comparing ", StringComparison.Ordinal))
            {
                cluster.Execute(source.Database, "UPDATE items SET name = 'later' WHERE id IN (500, 1500, 2500); DELETE FROM items WHERE id = 2000; " +
                                                 "INSERT INTO items VALUES (3001, 'later');");
                committed = true;
            }
        });

        var result = await TableComparer.CompareAsync(map, 3, observer, CancellationToken.None);

        Assert.True(committed);
        Assert.Contains("The first key ranges are read over 3 connections per side, each side's in one snapshot.", observer.Messages);
        Assert.Equal((3000L, 3000L, 3000L, 0L, 0L, 0L, ComparisonVerdict.Equal, 0L),
            (result.SourceRows, result.TargetRows, result.Matched, result.Missing, result.Changed, result.Extra, result.Verdict, result.RowsShipped));
        // The commit is real: a comparison that starts now sees all five changes.
        var now = await TableComparer.CompareAsync(map, 3, NullObserver.Instance, CancellationToken.None);
        Assert.Equal((1L, 3L, 1L), (now.Missing, now.Changed, now.Extra));
    }

    /// <summary>Runs <paramref name="onVerbose"/> on every verbose message, on the thread that says it, and keeps the messages.</summary>
    private sealed class HookObserver(Action<string> onVerbose) : IOperationObserver
    {
        public List<string> Messages { get; } = [];

        public void Progress(OperationProgress progress)
        {
        }

        public void Verbose(string message)
        {
            lock (Messages)
            {
                Messages.Add(message);
            }
            onVerbose(message);
        }

        public void Warning(string message)
        {
        }
    }
}

[Collection(PostgresCollection.Name)]
public sealed class MovesSqliteToPostgresTests(PostgresCluster cluster) : MovesAcrossDatabasesTests
{
    protected override Task<DbOpsConnection> CreateSourceAsync(string sql) => Sqlite.CreateAsync(Folder.File("source.db"), sql);

    protected override Task<DbOpsConnection> CreateTargetAsync(string sql) => Postgres.CreateAsync(cluster, sql);

    protected override void ExecuteOnTarget(DbOpsConnection target, string sql) => cluster.Execute(target.Database, sql);

    protected override (bool Source, bool Target) SharesSnapshots => (false, true);
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
