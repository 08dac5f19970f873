using DbOps.Core.Archive;
using DbOps.Core.Backup;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;
using DbOps.Core.Progress;
using DbOps.Core.Usage;
using Npgsql;

namespace DbOps.Core.Tests;

/// <summary>Start-UsageWatch baselines and Find-UnusedTable / Find-UnusedIndex -Since.</summary>
[Collection(PostgresCollection.Name)]
public sealed class UsageBaselineTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private const string Setup = """
        CREATE TABLE hot (id integer PRIMARY KEY, v integer);
        CREATE TABLE cold (id integer PRIMARY KEY, v integer);
        CREATE TABLE archived (id integer PRIMARY KEY, v integer);
        CREATE INDEX ix_hot_v ON hot (v);
        CREATE INDEX ix_cold_v ON cold (v);
        -- The data load: writes that say nothing about whether anything uses these tables.
        INSERT INTO hot SELECT i, i FROM generate_series(1, 1000) i;
        INSERT INTO cold SELECT i, i FROM generate_series(1, 1000) i;
        INSERT INTO archived SELECT i, i FROM generate_series(1, 1000) i;
        ANALYZE;
        """;

    /// <summary>Runs statements as the application would, then makes the server count them (PostgreSQL 15 flushes lazily).</summary>
    private async Task ApplicationAsync(string database, params string[] statements)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString(database));
        await connection.OpenAsync();
        foreach (var sql in statements.Append("SELECT pg_stat_force_next_flush()").Append("SELECT 1"))
        {
            await new NpgsqlCommand(sql, connection).ExecuteNonQueryAsync();
        }
    }

    private static async Task<Dictionary<string, TableUsage>> FindAsync(UnusedTableRequest request) =>
        (await UsageService.FindAsync(request, NullObserver.Instance, CancellationToken.None)).ToDictionary(u => u.Table);

    [Fact]
    public async Task Since_a_baseline_only_use_after_it_counts_and_DbOps_journaled_backups_and_archives_are_not_use()
    {
        var db = await cluster.CreateConnectedAsync(Setup);
        NpgsqlConnection.ClearAllPools(); // every backend that wrote has exited, so its counts are in
        var saved = _folder.File("baseline.json");
        var taken = await UsageWatch.StartAsync(db, saved, CancellationToken.None);
        Assert.Equal(3, taken.Tables.Count);
        // A saved baseline is evidence for a week: a second run does not replace it unless told to.
        var again = await Assert.ThrowsAsync<DbOpsException>(() => UsageWatch.StartAsync(db, saved, CancellationToken.None));
        Assert.Equal(ErrorIds.DestinationExists, again.ErrorId);
        Assert.Equal(taken.TakenAt, UsageWatch.Load(saved).TakenAt);

        // Without the baseline the load's writes make every table look used.
        var plain = await FindAsync(new UnusedTableRequest(db, MinimumStatsAge: TimeSpan.Zero));
        Assert.All(plain.Values, u => Assert.Equal(UsageVerdict.Active, u.Verdict));

        await ApplicationAsync(db.Database, "SET enable_seqscan = off", "SELECT v FROM hot WHERE v = 5");
        await BackupService.BackupAsync(new BackupRequest(db, _folder.File("backups")), NullObserver.Instance, CancellationToken.None);
        await ArchiveService.ExportAsync(new ArchiveExportRequest(db, "archived", _folder.File("archives")), NullObserver.Instance, CancellationToken.None);
        NpgsqlConnection.ClearAllPools();
        await ApplicationAsync(db.Database); // a flush point after the tools' and DbOps's sessions ended

        // What DbOps's reads cost in scans, exactly as UsageWatch.ScansPerRead credits them: no more, or real use could hide.
        long RawScans(string table) => cluster.Scalar<long>(db.Database, $"SELECT seq_scan FROM pg_stat_user_tables WHERE relname = '{table}'")
                                       - taken.Tables.Single(t => t.Name == table).SeqScan;
        Assert.Equal(UsageWatch.ScansPerRead["Backup"], RawScans("cold"));
        Assert.Equal(UsageWatch.ScansPerRead["Backup"] + UsageWatch.ScansPerRead["ArchiveCreated"], RawScans("archived"));

        var since = await FindAsync(new UnusedTableRequest(db, MinimumStatsAge: TimeSpan.Zero) { Since = UsageWatch.Load(saved) });

        Assert.Equal(UsageVerdict.Active, since["hot"].Verdict);
        Assert.Equal(1, since["hot"].IndexScans);
        Assert.Equal(UsageVerdict.Unused, since["cold"].Verdict);
        Assert.Equal(UsageVerdict.Unused, since["archived"].Verdict);
        Assert.All(since.Values, u => Assert.Equal(taken.TakenAt, u.StatsSince));
        Assert.Contains("usage baseline taken", since["cold"].Reason);
        Assert.Contains(since["cold"].Evidence, e => e.Contains("DbOps's own journaled reads (Backup at", StringComparison.Ordinal));
        Assert.Contains(since["archived"].Evidence, e => e.Contains("ArchiveCreated at", StringComparison.Ordinal));
        Assert.Equal(0, since["cold"].SequentialScans);
        Assert.Equal(0, since["archived"].SequentialScans);

        // Without a baseline nothing is taken off: over the whole statistics window a journaled backup may predate a table.
        var whole = await FindAsync(new UnusedTableRequest(db, MinimumStatsAge: TimeSpan.Zero));
        Assert.DoesNotContain(whole["cold"].Evidence, e => e.Contains("not counted as use", StringComparison.Ordinal));
        Assert.Equal(cluster.Scalar<long>(db.Database, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'cold'"), whole["cold"].SequentialScans);

        var indexes = await IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(db, TimeSpan.Zero) { Since = taken }, NullObserver.Instance, CancellationToken.None);
        var unused = Assert.Single(indexes);
        Assert.Equal("ix_cold_v", unused.Index);
        Assert.Equal(IndexVerdict.Unused, unused.Verdict);
        Assert.Equal(taken.TakenAt, unused.StatsSince);
    }

    [Fact]
    public async Task A_baseline_of_another_database_or_from_before_a_statistics_reset_or_server_start_is_refused()
    {
        var db = await cluster.CreateConnectedAsync(Setup);
        var other = await cluster.CreateConnectedAsync(Setup);
        await ApplicationAsync(db.Database, "SELECT count(*) FROM cold");
        var baseline = await UsageWatch.StartAsync(db, null, CancellationToken.None);

        await Assertions.ThrowsDbOps(ErrorIds.UsageBaselineMismatch,
            () => UsageService.FindAsync(new UnusedTableRequest(other) { Since = baseline }, NullObserver.Instance, CancellationToken.None));
        await Assertions.ThrowsDbOps(ErrorIds.UsageBaselineMismatch,
            () => IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(other) { Since = baseline }, NullObserver.Instance, CancellationToken.None));
        // Taken before the server (re)started: a crash would have reset the counters since.
        await Assertions.ThrowsDbOps(ErrorIds.UsageBaselineStale,
            () => UsageService.FindAsync(new UnusedTableRequest(db) { Since = baseline with { TakenAt = baseline.ServerStart.AddMinutes(-1) } },
                                         NullObserver.Instance, CancellationToken.None));

        await ApplicationAsync(db.Database, "SELECT pg_stat_reset_single_table_counters('cold'::regclass)");
        await Assertions.ThrowsDbOps(ErrorIds.UsageBaselineStale,
            () => UsageService.FindAsync(new UnusedTableRequest(db) { Since = baseline }, NullObserver.Instance, CancellationToken.None));

        await ApplicationAsync(db.Database, "SELECT pg_stat_reset()");
        var stale = await Assertions.ThrowsDbOps(ErrorIds.UsageBaselineStale,
            () => IndexAdvisor.FindUnusedAsync(new UnusedIndexRequest(db) { Since = baseline }, NullObserver.Instance, CancellationToken.None));
        Assert.Contains("reset", stale.Message);

        var sqlite = await Sqlite.CreateAsync(_folder.File("x.db"), "CREATE TABLE t (x)");
        await Assertions.ThrowsDbOps(ErrorIds.ProviderNotSupported, () => UsageWatch.StartAsync(sqlite, null, CancellationToken.None));
    }
}
