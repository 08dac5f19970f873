using System.Diagnostics;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Removal;
using Npgsql;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class RemovalPostgresTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Archives => _folder.File("archives");

    private async Task<(string Name, DbOpsConnection Db)> GoalsAsync(string? extraSql = null)
    {
        var name = cluster.CreateGoalsTracker();
        if (extraSql is not null)
        {
            cluster.Execute(name, extraSql);
        }
        return (name, await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(name), null, null, CancellationToken.None));
    }

    private async Task<TableArchive> ArchiveAsync(DbOpsConnection db, string table, bool verify = true) =>
        await ArchiveService.ExportAsync(new ArchiveExportRequest(db, table, Archives, Verify: verify), NullObserver.Instance, CancellationToken.None);

    private static async Task<IReadOnlyList<TableRemoval>> RemoveAsync(DbOpsConnection db, TimeSpan? lockTimeout, bool dropForeignKeys, params RemovalTarget[] targets) =>
        await RemovalService.RemoveAsync(new RemovalRequest(db, targets, lockTimeout ?? RemovalRequest.DefaultLockTimeout, dropForeignKeys),
            NullObserver.Instance, CancellationToken.None);

    private static async Task<TableRemoval> RemoveOneAsync(DbOpsConnection db, string table, string? manifest, TimeSpan? lockTimeout = null, bool dropForeignKeys = false) =>
        Assert.Single(await RemoveAsync(db, lockTimeout, dropForeignKeys, new RemovalTarget(table, manifest)));

    private bool Exists(string database, string table) =>
        cluster.Scalar<bool>(database, $"SELECT to_regclass('public.{table}') IS NOT NULL");

    private static async Task<TableContent> LiveAsync(DbOpsConnection db, string table, TableArchive archive) =>
        await TableChecksum.ComputeAsync(db, new TableRef("public", table), archive.Columns.Select(c => c.Name).ToList(), CancellationToken.None);

    private async Task AssertRefusedUntouchedAsync(string database, DbOpsConnection db, string table, TableRemoval removal, string errorId, TableContent before, TableArchive reference)
    {
        Assert.False(removal.Dropped);
        Assert.True(removal.ErrorId == errorId, $"Expected {errorId}, got {removal.ErrorId}: {removal.Reason}");
        Assert.True(Exists(database, table));
        Assert.Equal(before, await LiveAsync(db, table, reference));
    }

    [Fact]
    public async Task Of_two_concurrent_removals_of_one_table_the_one_that_waited_is_TableNotFound()
    {
        var (name, db) = await GoalsAsync();
        var archive = await ArchiveAsync(db, "legacy_imports");
        await using var writer = await WriterHoldingAsync(name, "legacy_imports");
        var transaction = writer.Transaction;

        var both = Enumerable.Range(0, 2).Select(_ => RemoveOneAsync(db, "legacy_imports", archive.ManifestPath, TimeSpan.FromSeconds(60))).ToList();
        var clock = Stopwatch.StartNew();
        while (cluster.Scalar<long>("postgres", $"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND wait_event_type = 'Lock'") < 2)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30) && !both.Any(r => r.IsCompleted), "both removals must wait for the lock");
            await Task.Delay(20);
        }
        await transaction.RollbackAsync();
        var results = await Task.WhenAll(both);

        Assert.Single(results, r => r.Dropped);
        var loser = Assert.Single(results, r => !r.Dropped);
        Assert.True(loser.ErrorId == ErrorIds.TableNotFound, $"{loser.ErrorId}: {loser.Reason} {loser.Error?.InnerException}");
        Assert.False(Exists(name, "legacy_imports"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_resealed_archive_whose_data_file_lost_or_changed_a_row_is_corrupt_and_the_table_stays(bool deleteRow)
    {
        var (name, db) = await GoalsAsync();
        var archive = await ArchiveAsync(db, "legacy_imports");
        Assert.True(archive.Verified, archive.VerifyReason);
        var before = await LiveAsync(db, "legacy_imports", archive);
        // Sizes, SHA-256s and seal all agree with the edited file; the manifest still says verified and matches the live table.
        await ArchiveTampering.EditSecondRowAndResealAsync(archive.ManifestPath, archive.DataPath, deleteRow);

        var removal = await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath);

        await AssertRefusedUntouchedAsync(name, db, "legacy_imports", removal, ErrorIds.ArchiveCorrupt, before, archive);
    }

    [Fact]
    public async Task A_table_dropped_with_a_good_archive_takes_its_sequence_and_import_restores_it_exactly()
    {
        var (name, db) = await GoalsAsync("""
            CREATE TABLE old_events (id serial PRIMARY KEY, note text NOT NULL, at timestamptz DEFAULT now());
            INSERT INTO old_events (note, at) SELECT 'event ' || i, timestamptz '2021-01-01 00:00+00' + i * interval '1 hour' FROM generate_series(1, 500) i;
            """);
        var archive = await ArchiveAsync(db, "old_events");
        Assert.True(archive.Verified, archive.VerifyReason);

        var removal = await RemoveOneAsync(db, "old_events", archive.ManifestPath);

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Equal(["BEGIN", "SET LOCAL lock_timeout = '5000ms'", "LOCK TABLE \"public\".\"old_events\" IN ACCESS EXCLUSIVE MODE",
                      "DROP TABLE \"public\".\"old_events\"", "COMMIT"], removal.Statements);
        Assert.False(Exists(name, "old_events"));
        Assert.False(cluster.Scalar<bool>(name, "SELECT to_regclass('public.old_events_id_seq') IS NOT NULL"));
        var entry = OperationsJournal.Open().Read().Last(e => e.Operation == JournalOperations.TableRemoved && e.Database == db.Database);
        Assert.Equal(("public", "old_events", 500L, archive.Checksum), (entry.Schema, entry.Table, entry.Rows!.Value, entry.Checksum));

        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, db), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((archive.RowCount, archive.Checksum), (imported.RowCount, imported.Checksum));
        Assert.Equal(new TableContent(500, archive.Checksum), await LiveAsync(db, "old_events", archive));
    }

    [Fact]
    public async Task Stale_required_and_mismatched_archives_are_refused_and_the_table_is_untouched()
    {
        var (name, db) = await GoalsAsync();
        var archive = await ArchiveAsync(db, "legacy_imports", verify: false);
        var other = await ArchiveAsync(db, "activity_groups", verify: false);
        var before = await LiveAsync(db, "legacy_imports", archive);

        await AssertRefusedUntouchedAsync(name, db, "legacy_imports", await RemoveOneAsync(db, "legacy_imports", null), ErrorIds.ArchiveRequired, before, archive);
        await AssertRefusedUntouchedAsync(name, db, "legacy_imports", await RemoveOneAsync(db, "legacy_imports", other.ManifestPath), ErrorIds.ArchiveMismatch, before, archive);

        cluster.Execute(name, "INSERT INTO legacy_imports (id, source) VALUES (100000, 'late')");
        var after = await LiveAsync(db, "legacy_imports", archive);
        // The archive is verified now (it was not at export), then found stale under the lock.
        await AssertRefusedUntouchedAsync(name, db, "legacy_imports", await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath), ErrorIds.ArchiveStale, after, archive);
    }

    [Theory]
    [InlineData("CREATE VIEW recent AS SELECT * FROM legacy_imports", "view public.recent")]
    [InlineData("CREATE MATERIALIZED VIEW sources AS SELECT DISTINCT source FROM legacy_imports", "materialized view public.sources")]
    [InlineData("CREATE FUNCTION count_imports() RETURNS bigint LANGUAGE plpgsql AS $$BEGIN RETURN (SELECT count(*) FROM legacy_imports); END$$",
                "function public.count_imports()")]
    [InlineData("""
        CREATE FUNCTION audit_goal() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO public.legacy_imports (id, source) VALUES (-new.id, 'goal'); RETURN new; END$$;
        CREATE TRIGGER goal_audit AFTER INSERT ON goals FOR EACH ROW EXECUTE FUNCTION audit_goal();
        """, "trigger function public.audit_goal()")]
    [InlineData("""
        ALTER TABLE goals ENABLE ROW LEVEL SECURITY;
        CREATE POLICY imported_goals ON goals USING (EXISTS (SELECT 1 FROM legacy_imports l WHERE l.id = goals.id));
        """, "row-level security policy imported_goals on public.goals")]
    [InlineData("ALTER TABLE goals ADD COLUMN import_id integer REFERENCES legacy_imports(id)", "foreign key public.goals.goals_import_id_fkey")]
    [InlineData("CREATE PUBLICATION imports_feed FOR TABLE legacy_imports", "publication imports_feed")]
    [InlineData("CREATE TABLE legacy_imports_2019 () INHERITS (legacy_imports)", "inheriting table public.legacy_imports_2019")]
    [InlineData("ALTER TABLE legacy_imports ADD COLUMN attachment oid; UPDATE legacy_imports SET attachment = lo_from_bytea(0, 'scan') WHERE id <= 3",
                "3 large object(s) that column attachment points to")]
    public async Task Dependents_stop_the_drop_and_are_named(string setupSql, string named)
    {
        var (name, db) = await GoalsAsync(setupSql);
        var archive = await ArchiveAsync(db, "legacy_imports");
        var before = await LiveAsync(db, "legacy_imports", archive);

        var removal = await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath);

        await AssertRefusedUntouchedAsync(name, db, "legacy_imports", removal, ErrorIds.DependentObjectsExist, before, archive);
        Assert.True(removal.Reason!.Contains(named, StringComparison.Ordinal), removal.Reason);
    }

    [Fact]
    public async Task A_default_that_uses_the_tables_sequence_stops_the_drop()
    {
        var (name, db) = await GoalsAsync("""
            CREATE TABLE old_events (id serial PRIMARY KEY, note text);
            CREATE TABLE new_events (id integer PRIMARY KEY DEFAULT nextval('old_events_id_seq'), note text);
            """);

        var removal = await RemoveOneAsync(db, "old_events", null);

        Assert.Equal(ErrorIds.DependentObjectsExist, removal.ErrorId);
        Assert.Contains("new_events.id", removal.Reason, StringComparison.Ordinal);
        Assert.True(Exists(name, "old_events"));
    }

    [Fact]
    public async Task DropInboundForeignKeys_drops_only_the_constraints_and_records_them()
    {
        var (name, db) = await GoalsAsync();
        var archive = await ArchiveAsync(db, "sessions");

        var removal = await RemoveOneAsync(db, "sessions", archive.ManifestPath, dropForeignKeys: true);

        Assert.True(removal.Dropped, removal.Reason);
        var constraint = Assert.Single(removal.DroppedForeignKeys);
        Assert.True(constraint.StartsWith("public.activity_instances.", StringComparison.Ordinal), constraint);
        Assert.Contains(removal.Statements, s => s.StartsWith("ALTER TABLE \"public\".\"activity_instances\" DROP CONSTRAINT ", StringComparison.Ordinal));
        Assert.True(Exists(name, "activity_instances"));
        Assert.Equal(1L, cluster.Scalar<long>(name, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'activity_instances'::regclass AND contype = 'f'"));
    }

    [Fact]
    public async Task A_writer_holding_a_lock_makes_it_give_up_after_the_lock_timeout()
    {
        var (name, db) = await GoalsAsync();
        var archive = await ArchiveAsync(db, "legacy_imports");
        var before = await LiveAsync(db, "legacy_imports", archive);
        await using var writer = new NpgsqlConnection(cluster.ConnectionString(name));
        await writer.OpenAsync();
        await using var transaction = await writer.BeginTransactionAsync();
        await using (var update = new NpgsqlCommand("UPDATE legacy_imports SET source = source WHERE id = 1", writer, transaction))
        {
            await update.ExecuteNonQueryAsync();
        }

        var clock = Stopwatch.StartNew();
        var removal = await RemoveOneAsync(db, "legacy_imports", archive.ManifestPath, TimeSpan.FromMilliseconds(500));
        clock.Stop();
        await transaction.RollbackAsync();

        Assert.Equal(ErrorIds.LockTimeout, removal.ErrorId);
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(450), TimeSpan.FromSeconds(10));
        await AssertRefusedUntouchedAsync(name, db, "legacy_imports", removal, ErrorIds.LockTimeout, before, archive);
    }

    [Fact]
    public async Task A_batch_of_three_with_one_outside_dependent_drops_two_and_refuses_the_third()
    {
        var (name, db) = await GoalsAsync();
        var legacy = await ArchiveAsync(db, "legacy_imports");
        var sessions = await ArchiveAsync(db, "sessions");
        var before = await LiveAsync(db, "sessions", sessions);

        var results = await RemoveAsync(db, null, false,
            new RemovalTarget("sessions", sessions.ManifestPath), new RemovalTarget("legacy_imports", legacy.ManifestPath), new RemovalTarget("tmp_migration_2019", null));

        Assert.Equal(["legacy_imports", "tmp_migration_2019"], results.Where(r => r.Dropped).Select(r => r.Table).Order());
        var refused = Assert.Single(results, r => !r.Dropped);
        await AssertRefusedUntouchedAsync(name, db, "sessions", refused, ErrorIds.DependentObjectsExist, before, sessions);
        Assert.Contains("activity_instances", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hostile_names_are_dropped_exactly_and_a_function_naming_one_stops_its_drop()
    {
        const string schema = "Ops \"x\".y";
        var (name, db) = await GoalsAsync("""
            CREATE SCHEMA "Ops ""x"".y";
            CREATE TABLE "Ops ""x"".y"."Old; DROP TABLE goals; --" (id int PRIMARY KEY, note text);
            INSERT INTO "Ops ""x"".y"."Old; DROP TABLE goals; --" SELECT g, 'note ' || g FROM generate_series(1, 20) g;
            CREATE TABLE "Ops ""x"".y"."Kept; --" (id int);
            CREATE FUNCTION count_kept() RETURNS bigint LANGUAGE plpgsql AS $$BEGIN RETURN (SELECT count(*) FROM "Ops ""x"".y"."Kept; --"); END$$;
            """);
        var hostile = new TableRef(schema, "Old; DROP TABLE goals; --");
        var kept = new TableRef(schema, "Kept; --");
        var archive = await ArchiveAsync(db, hostile.ToQuotedName());

        var results = await RemoveAsync(db, null, false, RemovalTarget.For(archive), new RemovalTarget(kept.ToQuotedName(), null));

        Assert.True(results.Single(r => r.Table == hostile.Name).Dropped, results[0].Reason);
        var refused = results.Single(r => r.Table == kept.Name);
        Assert.Equal(ErrorIds.DependentObjectsExist, refused.ErrorId);
        Assert.Contains("function public.count_kept()", refused.Reason, StringComparison.Ordinal);
        bool Present(TableRef table) => cluster.Scalar<bool>(name, $"SELECT to_regclass('{table.ToQuotedName().Replace("'", "''", StringComparison.Ordinal)}') IS NOT NULL");
        Assert.False(Present(hostile));
        Assert.True(Present(kept));
        Assert.True(Exists(name, "goals"));

        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, db), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((20L, archive.Checksum), (imported.RowCount, imported.Checksum));
    }

    [Fact]
    public async Task Row_level_security_that_hides_rows_refuses_the_drop_instead_of_counting_only_the_visible_rows()
    {
        var (name, _) = await GoalsAsync();
        var owner = "owner_" + Guid.NewGuid().ToString("N")[..8];
        cluster.Execute(name, $"""
            CREATE ROLE {owner} LOGIN PASSWORD 'pw-{owner}';
            CREATE TABLE tenant_notes (id int PRIMARY KEY, tenant text, note text);
            INSERT INTO tenant_notes SELECT g, 't' || g % 3, 'note' FROM generate_series(1, 50) g;
            ALTER TABLE tenant_notes OWNER TO {owner};
            ALTER TABLE tenant_notes ENABLE ROW LEVEL SECURITY;
            ALTER TABLE tenant_notes FORCE ROW LEVEL SECURITY;
            CREATE POLICY own_tenant ON tenant_notes USING (tenant = current_setting('app.tenant', true));
            """);
        var asOwner = await DatabaseConnector.ConnectPostgresAsync(
            new NpgsqlConnectionStringBuilder(cluster.ConnectionString(name)) { Username = owner, Password = $"pw-{owner}" }.ConnectionString,
            null, null, CancellationToken.None);

        // The policy shows the owner no rows: without row_security off, the table would look empty and go without an archive.
        var removal = await RemoveOneAsync(asOwner, "tenant_notes", null);

        Assert.Equal(ErrorIds.InsufficientPrivilege, removal.ErrorId);
        Assert.Contains("row-level security", removal.Reason, StringComparison.Ordinal);
        Assert.Equal(50L, cluster.Scalar<long>(name, "SELECT count(*) FROM tenant_notes"));
        var export = await Assertions.ThrowsDbOps(ErrorIds.InsufficientPrivilege, () => ArchiveAsync(asOwner, "tenant_notes"));
        Assert.Contains("row-level security", export.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_foreign_key_added_after_the_plan_was_confirmed_refuses_the_drop()
    {
        var (name, db) = await GoalsAsync();
        var archive = await ArchiveAsync(db, "legacy_imports");
        var request = new RemovalRequest(db, [RemovalTarget.For(archive)], RemovalRequest.DefaultLockTimeout, DropInboundForeignKeys: true);
        var plan = Assert.Single(await RemovalService.PlanAsync(request, CancellationToken.None));
        Assert.Empty(plan.DroppedForeignKeys);

        cluster.Execute(name, "ALTER TABLE goals ADD COLUMN import_id integer REFERENCES legacy_imports(id)");
        var removal = Assert.Single(await RemovalService.RemoveAsync(request with { Tables = [plan.Target!] }, NullObserver.Instance, CancellationToken.None));

        Assert.Equal(ErrorIds.DependentObjectsExist, removal.ErrorId);
        Assert.Contains("changed after the plan was confirmed", removal.Reason, StringComparison.Ordinal);
        Assert.True(Exists(name, "legacy_imports"));
        Assert.Equal(1L, cluster.Scalar<long>(name, "SELECT count(*) FROM pg_constraint WHERE conname = 'goals_import_id_fkey'"));
    }

    [Fact]
    public async Task An_archive_deleted_while_the_lock_was_awaited_refuses_the_drop()
    {
        var (name, db) = await GoalsAsync();
        var archive = await ArchiveAsync(db, "legacy_imports");
        await using var writer = await WriterHoldingAsync(name, "legacy_imports");
        var transaction = writer.Transaction;

        // The archive passes its checks, then the removal waits for the writer; meanwhile the archive goes away.
        var removal = RemoveOneAsync(db, "legacy_imports", archive.ManifestPath, TimeSpan.FromSeconds(60));
        var clock = Stopwatch.StartNew();
        while (cluster.Scalar<long>("postgres", $"SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' AND wait_event_type = 'Lock'") == 0)
        {
            if (removal.IsCompleted)
            {
                Assert.Fail($"The removal ended before it waited for the lock: {(await removal).Reason}");
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the removal never waited for the lock");
            await Task.Delay(20);
        }
        File.Delete(archive.ManifestPath);
        await transaction.RollbackAsync();

        var result = await removal;
        Assert.Equal(ErrorIds.ArchiveCorrupt, result.ErrorId);
        Assert.True(Exists(name, "legacy_imports"));
        Assert.Equal(350L, cluster.Scalar<long>(name, "SELECT count(*) FROM legacy_imports"));
    }

    /// <summary>An application session in the middle of a write transaction on <paramref name="table"/>: removals queue behind it.</summary>
    private async Task<Writer> WriterHoldingAsync(string database, string table)
    {
        var connection = new NpgsqlConnection(cluster.ConnectionString(database));
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var lockTable = new NpgsqlCommand($"LOCK TABLE {table} IN ROW EXCLUSIVE MODE", connection, transaction);
        await lockTable.ExecuteNonQueryAsync();
        return new Writer(connection, transaction);
    }

    private sealed record Writer(NpgsqlConnection Connection, NpgsqlTransaction Transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }
}
