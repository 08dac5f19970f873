using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Performance;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;
using DbOps.Core.Tools;
using Npgsql;

namespace DbOps.Core.Tests;

/// <summary>DbOps names its own sessions, and Get-SlowQuery leaves its traffic out and finds N+1 loops wherever they rank.</summary>
[Collection(PostgresCollection.Name)]
public sealed class DbOpsTrafficTests(PostgresCluster cluster)
{
    [Fact]
    public void Rows_equal_by_value_are_ranked_apart_instead_of_colliding()
    {
        // pg_stat_statements can show the same values twice: PostgreSQL 14+'s toplevel pairs, or statements of roles
        // whose text and query id are hidden, with equal counters.
        var hidden = new SlowQuery.Row(null, "SELECT title FROM goals WHERE id = $1", "app", "sales", 10, 5.0, 0.5, 10);
        var db = new DbOpsConnection(DatabaseProvider.PostgreSQL, "sales", "db1:5432", "ops", "15", "Host=db1;Database=sales", null);

        var ranked = SlowQueries.Rank(db, new SlowQueryRequest(db), [hidden, hidden with { }], null, NullObserver.Instance);

        Assert.Equal([1, 2], ranked.Select(q => q.RankByTotal).Order());
    }

    [Fact]
    public async Task Every_DbOps_session_and_child_tool_carries_the_DbOps_application_name_with_the_operation()
    {
        var db = await cluster.CreateConnectedAsync("CREATE TABLE t (id integer)");

        var name = await Task.Run(async () =>
        {
            DbOpsTraffic.SetOperation("Find-UnusedTable");
            await using var session = await PostgresEngine.Instance.OpenReadOnlyAsync(db, CancellationToken.None);
            var connection = session.Connection;
            return (await connection.ExecuteScalarAsync<string>("SHOW application_name"), PostgresClientTools.EnvironmentFor(db)["PGAPPNAME"]);
        });

        Assert.Equal($"DbOps/{DbOpsTraffic.Version} Find-UnusedTable", name.Item1);
        Assert.Equal(name.Item1, name.Item2);
        Assert.Matches(@"^\d+\.\d+\.\d+", DbOpsTraffic.Version);
    }

    [Fact]
    public async Task Get_SlowQuery_leaves_out_utility_catalog_and_DbOps_statements_and_finds_an_N_plus_1_loop_that_ranks_low()
    {
        var db = await cluster.CreateConnectedAsync("""
            CREATE EXTENSION pg_stat_statements;
            CREATE TABLE goals (id integer PRIMARY KEY, title text);
            INSERT INTO goals SELECT i, 'goal ' || i FROM generate_series(1, 500) i;
            """);
        var scratch = "scratch_" + Guid.NewGuid().ToString("N")[..8];
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString(db.Database)))
        {
            await connection.OpenAsync();
            await connection.ExecuteAsync("SELECT pg_stat_statements_reset()");
            // DbOps's own kind of traffic: scratch databases, ANALYZE, a dump's COPY, catalog reads, a marked count.
            await connection.ExecuteAsync($"CREATE DATABASE {scratch}");
            await connection.ExecuteAsync($"DROP DATABASE {scratch}");
            await connection.ExecuteAsync("ANALYZE goals");
            await connection.ExecuteAsync("COPY goals TO '/dev/null'");
            await SchemaReader.ReadAsync(PostgresEngine.Instance, connection, CancellationToken.None);
            for (var i = 0; i < 3; i++)
            {
                await PostgresEngine.Instance.CountRowsAsync(connection, new TableRef("public", "goals"), CancellationToken.None);
            }
            // The application: four heavy reports, and a loop of 2,000 primary-key lookups.
            foreach (var aggregate in new[] { "sum", "avg", "max", "min" })
            {
                await connection.ExecuteAsync($"SELECT {aggregate}(g) FROM generate_series(1, 300000) g");
            }
            for (var id = 1; id <= 2000; id++)
            {
                await using var command = new NpgsqlCommand("SELECT title FROM goals WHERE id = $1", connection) { Parameters = { new() { Value = id % 500 + 1 } } };
                await command.ExecuteScalarAsync();
            }
        }

        var slow = await SlowQueries.GetAsync(new SlowQueryRequest(db, Top: 3), NullObserver.Instance, CancellationToken.None);

        Assert.All(slow, s => Assert.Equal(StatementKind.Application, s.Kind));
        Assert.DoesNotContain(slow, s => s.Query.Contains("DATABASE", StringComparison.OrdinalIgnoreCase) || s.Query.StartsWith("COPY", StringComparison.Ordinal)
                                         || s.Query.StartsWith("ANALYZE", StringComparison.Ordinal) || s.Query.Contains("count(*)", StringComparison.Ordinal));
        var loop = Assert.Single(slow, s => s.LikelyNPlusOne);
        Assert.Contains("FROM goals WHERE id = $1", loop.Query);
        Assert.Equal(2000, loop.Calls);
        Assert.True(loop.RankByTotal > 3 && loop.RankByMean > 3, $"the loop ranked {loop.RankByTotal} by total and {loop.RankByMean} by mean");
        Assert.StartsWith("2000 calls of the same statement", loop.NPlusOneEvidence);
        Assert.Equal(4, slow.Count); // the top 3 by total (which are also the top 3 by mean) and the loop

        var everything = await SlowQueries.GetAsync(new SlowQueryRequest(db, Top: 1000)
        {
            Kinds = [StatementKind.Application, StatementKind.Utility, StatementKind.Catalog, StatementKind.DbOps],
        }, NullObserver.Instance, CancellationToken.None);
        Assert.Contains(everything, s => s.Kind == StatementKind.Utility && s.Query.StartsWith("DROP DATABASE", StringComparison.Ordinal));
        Assert.Contains(everything, s => s.Kind == StatementKind.Utility && s.Query.StartsWith("COPY", StringComparison.Ordinal));
        Assert.Contains(everything, s => s.Kind == StatementKind.Utility && s.Query.StartsWith("ANALYZE", StringComparison.Ordinal));
        Assert.Contains(everything, s => s.Kind == StatementKind.Catalog);
        Assert.Equal(3, Assert.Single(everything, s => s.Kind == StatementKind.DbOps).Calls);

        Assert.Empty(await SlowQueries.GetAsync(new SlowQueryRequest(db) { Roles = ["no_such_role"] }, NullObserver.Instance, CancellationToken.None));
        Assert.NotEmpty(await SlowQueries.GetAsync(new SlowQueryRequest(db) { Roles = [PostgresCluster.SuperUser] }, NullObserver.Instance, CancellationToken.None));
        Assert.Empty(await SlowQueries.GetAsync(new SlowQueryRequest(db) { Databases = ["postgres"] }, NullObserver.Instance, CancellationToken.None)
            .ContinueWith(t => t.Result.Where(s => s.Query.Contains("goals", StringComparison.Ordinal)).ToList()));
    }
}
