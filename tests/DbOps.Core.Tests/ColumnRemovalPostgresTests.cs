using DbOps.Core.Archive;
using DbOps.Core.Columns;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class ColumnRemovalPostgresTests(PostgresCluster cluster) : IDisposable
{
    private const string Setup = """
        CREATE TYPE mood AS ENUM ('calm', 'odd');
        CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, is_mock boolean NOT NULL DEFAULT false, raw_data jsonb, feeling mood,
                            amount numeric(10,2), mock_label text GENERATED ALWAYS AS (CASE WHEN is_mock THEN 'mock' END) STORED);
        INSERT INTO users (id, name, is_mock, raw_data, feeling, amount) VALUES
            (1, 'ann', true, '{"a": 1}', 'calm', 1.50), (2, 'bob', false, NULL, NULL, NULL), (3, 'cy', true, '[1, "x"]', 'odd', -0.01);
        CREATE INDEX users_raw ON users ((raw_data ->> 'a'));
        CREATE VIEW with_feeling AS SELECT id, feeling FROM users;
        ALTER TABLE users ADD CONSTRAINT amount_positive CHECK (amount IS NULL OR amount > -1);
        CREATE TABLE loose (label text, flag int);
        """;

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Archives => _folder.File("archives");

    private async Task<(string Name, DbOpsConnection Db)> CreateAsync(string sql = Setup)
    {
        var name = cluster.CreateDatabase("col");
        cluster.Execute(name, sql);
        return (name, await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(name), null, null, CancellationToken.None));
    }

    private ColumnRemovalRequest Request(DbOpsConnection db, string table, string column, params string[] dependents) =>
        new(db, table, column, Archives, dependents);

    private static Task<ColumnRemoval> RemoveAsync(ColumnRemovalRequest request) =>
        ColumnRemovalService.RemoveAsync(request, NullObserver.Instance, CancellationToken.None);

    private string Columns(string database, string table) =>
        cluster.Scalar<string>(database, $"SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped");

    private static Task<TableContent> ContentAsync(DbOpsConnection db, TableRef table, params string[] columns) =>
        TableChecksum.ComputeAsync(db, table, columns, CancellationToken.None);

    private static readonly TableRef Users = new("public", "users");

    [Fact]
    public async Task A_column_of_a_user_type_is_archived_dropped_journaled_and_restored_exactly()
    {
        var (name, db) = await CreateAsync();
        var before = await ContentAsync(db, Users, "id", "feeling");

        var removal = await RemoveAsync(Request(db, "users", "feeling", "with_feeling"));

        Assert.True(removal.Removed);
        Assert.Equal(before, new TableContent(removal.RowCount!.Value, removal.Checksum!));
        Assert.Equal(["DROP VIEW \"public\".\"with_feeling\"", "ALTER TABLE \"public\".\"users\" DROP COLUMN \"feeling\"", "COMMIT"], removal.Statements.Skip(3));
        Assert.Equal("id,name,is_mock,raw_data,amount,mock_label", Columns(name, "users"));
        var entry = OperationsJournal.Open().Read().Last(e => e.Operation == JournalOperations.ColumnRemoved && e.Database == name);
        Assert.Equal(("feeling", 3L, before.Checksum, removal.ArchivePath), (entry.Column, entry.Rows!.Value, entry.Checksum, entry.Path));
        Assert.Equal(["view public.with_feeling"], entry.Objects!);
        Assert.StartsWith($"Import-TableArchive -Path '{removal.ArchivePath}' -Database 'Host=", entry.Undo);

        await ArchiveService.ImportAsync(new ArchiveImportRequest(removal.ArchivePath!, db), NullObserver.Instance, CancellationToken.None);

        Assert.Equal("id,name,is_mock,raw_data,amount,mock_label,feeling", Columns(name, "users"));
        Assert.Equal(before, await ContentAsync(db, Users, "id", "feeling"));
        Assert.Equal("mood", cluster.Scalar<string>(name, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'feeling'"));
    }

    [Fact]
    public async Task Indexes_constraints_views_and_generated_columns_are_dependents_and_refuse_the_drop_unless_named()
    {
        var (name, db) = await CreateAsync();

        var raw = await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "users", "raw_data")));
        Assert.Contains("index public.users_raw", raw.Message);
        var amount = await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "users", "amount")));
        Assert.Contains("constraint amount_positive on users", amount.Message);
        var mock = await Assertions.ThrowsDbOps(ErrorIds.DependentObjectsExist, () => RemoveAsync(Request(db, "users", "is_mock", "mock_label")));
        Assert.Contains("generated column mock_label", mock.Message);
        Assert.Equal("id,name,is_mock,raw_data,feeling,amount,mock_label", Columns(name, "users"));

        var removal = await RemoveAsync(Request(db, "users", "amount", "amount_positive"));

        Assert.True(removal.Removed);
        Assert.Contains("ALTER TABLE users DROP CONSTRAINT \"amount_positive\"", removal.Statements);
        Assert.Equal(0, cluster.Scalar<long>(name, "SELECT count(*) FROM pg_constraint WHERE conname = 'amount_positive'"));
    }

    [Fact]
    public async Task Key_and_keyless_tables_are_refused_and_stale_values_are_caught_under_the_lock()
    {
        var (name, db) = await CreateAsync();

        await Assertions.ThrowsDbOps(ErrorIds.ColumnIsKey, () => RemoveAsync(Request(db, "users", "id")));
        var noKey = await Assertions.ThrowsDbOps(ErrorIds.NoUsableKey, () => RemoveAsync(Request(db, "loose", "flag")));
        Assert.Contains("Add a primary key", noKey.Message);

        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(db, "users", Archives, Verify: true,
            Selection: new ArchiveSelection(ArchiveScope.Columns, [], Columns: ["name"])), NullObserver.Instance, CancellationToken.None);
        Assert.True(archive.Verified, archive.VerifyReason);
        cluster.Execute(name, "UPDATE users SET name = 'bobby' WHERE id = 2");

        await Assertions.ThrowsDbOps(ErrorIds.ArchiveStale, () => RemoveAsync(Request(db, "users", "name")));

        Assert.Equal("bobby", cluster.Scalar<string>(name, "SELECT name FROM users WHERE id = 2"));
    }

    [Fact]
    public async Task Hostile_identifiers_are_quoted_through_archive_drop_and_restore()
    {
        var (name, db) = await CreateAsync("""
            CREATE SCHEMA "s""; x";
            CREATE TABLE "s""; x"."t; DROP TABLE x" ("k""ey" int PRIMARY KEY, "co""l" text NOT NULL, keep int);
            INSERT INTO "s""; x"."t; DROP TABLE x" VALUES (1, 'a''b', 1), (2, E'\\n', 2);
            """);
        var table = new TableRef("s\"; x", "t; DROP TABLE x");
        var before = await ContentAsync(db, table, "k\"ey", "co\"l");

        var removal = await RemoveAsync(Request(db, table.ToQuotedName(), "co\"l"));

        Assert.True(removal.Removed);
        await ArchiveService.ImportAsync(new ArchiveImportRequest(removal.ArchivePath!, db), NullObserver.Instance, CancellationToken.None);
        Assert.Equal(before, await ContentAsync(db, table, "k\"ey", "co\"l"));
        Assert.True(cluster.Scalar<bool>(name, "SELECT attnotnull FROM pg_attribute WHERE attname = 'co\"l'"));
    }
}
