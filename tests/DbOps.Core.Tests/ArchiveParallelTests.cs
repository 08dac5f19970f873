using System.Text.Json.Nodes;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Removal;

namespace DbOps.Core.Tests;

/// <summary>
/// Export-TableArchive -Parallel (issue 22): ranges of one table read over several connections in one shared snapshot,
/// joined into the archive a one-connection export writes, and resumed from the ranges an interrupted export finished.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ArchiveParallelTests(PostgresCluster cluster) : IDisposable
{
    private const int Rows = 20_000;

    private static readonly string EventsSql = $"""
        CREATE TABLE events (id bigint PRIMARY KEY, note text, amount numeric(12,2), at timestamptz, tags text[], bin bytea);
        INSERT INTO events SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'note, "' || md5(g::text) || E'"\n' END, g / 7.0,
                                  timestamptz '2024-01-01 00:00+00' + g * interval '1 minute', ARRAY[g::text, 'x'], decode(md5(g::text), 'hex')
                           FROM generate_series(1, {Rows}) g;
        """;

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static readonly TableRef Events = new("public", "events");

    private static Task<TableArchive> ExportAsync(DbOpsConnection source, string table, string folder, int parallel, IOperationObserver? observer = null,
        ArchiveFormat format = ArchiveFormat.Csv, bool compress = false) =>
        ArchiveService.ExportAsync(new ArchiveExportRequest(source, table, folder, format, compress, Verify: true) { Parallel = parallel },
            observer ?? NullObserver.Instance, CancellationToken.None);

    private static Task<TableContent> LiveAsync(DbOpsConnection source, TableRef table, TableArchive archive) =>
        TableChecksum.ComputeAsync(source, table, archive.Columns.Select(c => c.Name).ToList(), CancellationToken.None);

    [Theory]
    [InlineData(2, ArchiveFormat.Csv, false)]
    [InlineData(4, ArchiveFormat.Csv, true)]
    [InlineData(4, ArchiveFormat.JsonLines, false)]
    public async Task A_parallel_export_equals_a_one_connection_export_verifies_and_imports(int parallel, ArchiveFormat format, bool compress)
    {
        var source = await cluster.CreateConnectedAsync(EventsSql);
        var observer = new RecordingObserver();

        var one = await ExportAsync(source, "events", _folder.File("one"), 1, format: format, compress: compress);
        var many = await ExportAsync(source, "events", _folder.File("many"), parallel, observer, format, compress);

        Assert.Empty(observer.Warnings);
        Assert.Contains(observer.VerboseMessages, m => m.StartsWith($"Reading public.events in {parallel * ParallelArchiveExport.RangesPerConnection} ranges over {parallel} connections", StringComparison.Ordinal));
        Assert.True(many.Verified, many.VerifyReason);
        Assert.Equal((long)Rows, many.RowCount);
        Assert.Equal((one.RowCount, one.Checksum), (many.RowCount, many.Checksum));
        // The same manifest format as ever: a whole-table archive with one data file, and no work folder left behind.
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(many.ManifestPath))!;
        Assert.Equal(1, (int)manifest["formatVersion"]!);
        Assert.Null(manifest["scope"]);
        Assert.Equal(Path.GetFileName(many.DataPath), (string?)manifest["data"]!["name"]);
        Assert.Equal([Path.GetFileName(many.DataPath), "public.events.manifest.json", "public.events.schema.sql"],
            Directory.GetFileSystemEntries(_folder.File("many")).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var target = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(cluster.CreateDatabase()), null, null, CancellationToken.None);
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(many.ManifestPath, target), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((many.RowCount, many.Checksum), (imported.RowCount, imported.Checksum));
        Assert.Equal(await LiveAsync(source, Events, many), await LiveAsync(target, Events, many));
    }

    [Fact]
    public async Task Every_connection_reads_the_snapshot_the_export_began_whatever_writers_do_meanwhile()
    {
        var (database, source) = await CreateAsync(EventsSql);
        var columns = new[] { "id", "note", "amount", "at", "tags", "bin" };
        var before = await TableChecksum.ComputeAsync(source, Events, columns, CancellationToken.None);
        // The moment the export has planned its ranges, before any connection joins its snapshot, a writer commits changes in every range.
        var observer = new HookObserver(message =>
        {
            if (message.StartsWith("Reading public.events in", StringComparison.Ordinal))
            {
                cluster.Execute(database, $"INSERT INTO events (id, note) SELECT g, 'new' FROM generate_series({Rows + 1}, {Rows + 5000}) g; " +
                                          "UPDATE events SET note = 'changed' WHERE id % 97 = 0; DELETE FROM events WHERE id % 101 = 0;");
            }
        });

        var archive = await ExportAsync(source, "events", _folder.File("during"), 3, observer);

        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(before, new TableContent(archive.RowCount, archive.Checksum));
        Assert.NotEqual(before, await LiveAsync(source, Events, archive));
    }

    [Theory]
    [InlineData("CREATE TABLE t (a integer, b text, v text, PRIMARY KEY (a, b)); INSERT INTO t SELECT g % 100, md5(g::text), repeat('v', g % 50) FROM generate_series(1, 20000) g")]
    [InlineData("CREATE TABLE t (v text, n integer); INSERT INTO t SELECT 'same', g % 3 FROM generate_series(1, 20000) g")]
    [InlineData("CREATE TABLE t (k text COLLATE \"C\" PRIMARY KEY, v integer); INSERT INTO t SELECT md5(g::text), g FROM generate_series(1, 20000) g")]
    public async Task Tables_with_a_composite_key_no_key_or_a_text_key_are_split_by_pages_alike(string setup)
    {
        var source = await cluster.CreateConnectedAsync(setup);
        var observer = new RecordingObserver();

        var archive = await ExportAsync(source, "t", _folder.File("t"), 2, observer);

        Assert.Empty(observer.Warnings);
        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(20_000, archive.RowCount);
        Assert.Equal(await LiveAsync(source, new TableRef("public", "t"), archive), new TableContent(archive.RowCount, archive.Checksum));
    }

    [Fact]
    public async Task A_table_with_inheritance_children_is_read_over_one_connection_with_a_warning()
    {
        var source = await cluster.CreateConnectedAsync("""
            CREATE TABLE parent (id integer, v text); CREATE TABLE child () INHERITS (parent);
            INSERT INTO parent SELECT g, 'p' FROM generate_series(1, 1000) g; INSERT INTO child SELECT g, 'c' FROM generate_series(1, 500) g;
            """);
        var observer = new RecordingObserver();

        var archive = await ExportAsync(source, "parent", _folder.File("parent"), 2, observer);

        Assert.Contains("read over one connection, not 2", Assert.Single(observer.Warnings), StringComparison.Ordinal);
        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(1000, archive.RowCount); // as COPY of the table: its own rows, not its children's
    }

    [Fact]
    public async Task An_interrupted_export_resumes_from_its_finished_ranges_when_their_rows_are_unchanged()
    {
        var (_, source) = await CreateAsync(EventsSql);
        var folder = _folder.File("resume");
        await InterruptAfterFirstRangeAsync(source, folder);
        var work = Directory.GetDirectories(folder, ".*.parts").Single();
        Assert.True(File.Exists(Path.Combine(work, "progress.json")));
        Assert.False(File.Exists(Path.Combine(folder, "public.events.manifest.json")));

        var observer = new RecordingObserver();
        var archive = await ExportAsync(source, "events", folder, 2, observer);

        var kept = Assert.Single(observer.VerboseMessages, m => m.StartsWith("Kept ", StringComparison.Ordinal) && m.Contains("from the earlier run", StringComparison.Ordinal));
        Assert.DoesNotContain(observer.VerboseMessages, m => m.Contains("changed since", StringComparison.Ordinal));
        Assert.Matches("^Kept [1-7] of 8 ranges", kept);
        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(await LiveAsync(source, Events, archive), new TableContent(archive.RowCount, archive.Checksum));
        Assert.False(Directory.Exists(work));
    }

    [Fact]
    public async Task A_resumed_export_exports_again_the_finished_ranges_whose_rows_changed_meanwhile()
    {
        var (database, source) = await CreateAsync(EventsSql);
        var folder = _folder.File("changed");
        await InterruptAfterFirstRangeAsync(source, folder);
        // Every range loses rows, so whichever finished no longer matches the new snapshot.
        cluster.Execute(database, "DELETE FROM events WHERE id % 50 = 0");

        var observer = new RecordingObserver();
        var archive = await ExportAsync(source, "events", folder, 2, observer);

        Assert.Contains(observer.VerboseMessages, m => m.Contains("changed since the earlier run finished it", StringComparison.Ordinal));
        Assert.DoesNotContain(observer.VerboseMessages, m => m.StartsWith("Kept ", StringComparison.Ordinal) && m.Contains("from the earlier run", StringComparison.Ordinal));
        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(Rows - Rows / 50, archive.RowCount);
        Assert.Equal(await LiveAsync(source, Events, archive), new TableContent(archive.RowCount, archive.Checksum));
    }

    [Fact]
    public async Task A_second_parallel_export_of_the_table_into_the_same_folder_is_refused_while_the_first_runs()
    {
        var source = await cluster.CreateConnectedAsync(EventsSql);
        var folder = _folder.File("busy");
        var work = ParallelArchiveExport.WorkFolder(folder, "public.events.csv");
        Directory.CreateDirectory(work);
        using (new FileStream(Path.Combine(work, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var refused = await Assert.ThrowsAsync<DbOpsException>(() => ExportAsync(source, "events", folder, 2));
            Assert.Equal(ErrorIds.ArchiveExportRunning, refused.ErrorId);
        }
        Assert.False(File.Exists(Path.Combine(folder, "public.events.manifest.json")));
    }

    [Fact]
    public async Task Remove_DeprecatedTable_drops_a_table_against_its_parallel_archive()
    {
        var (database, source) = await CreateAsync(EventsSql);
        var archive = await ExportAsync(source, "events", _folder.File("drop"), 2);

        var removal = Assert.Single(await RemovalService.RemoveAsync(new RemovalRequest(source, [RemovalTarget.For(archive)], RemovalRequest.DefaultLockTimeout, false),
            NullObserver.Instance, CancellationToken.None));

        Assert.True(removal.Dropped, removal.Reason);
        Assert.False(cluster.Scalar<bool>(database, "SELECT to_regclass('public.events') IS NOT NULL"));
    }

    [Fact]
    public async Task SQLite_reads_over_one_connection_with_a_warning_and_writes_the_same_archive()
    {
        var path = _folder.File("parallel.db");
        var source = await Sqlite.CreateAsync(path, """
            CREATE TABLE events (id INTEGER PRIMARY KEY, note TEXT, amount REAL, bin BLOB);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO events SELECT i, 'note ' || i, i / 7.0, randomblob(8) FROM n;
            """);
        var observer = new RecordingObserver();

        var one = await ExportAsync(source, "events", _folder.File("one"), 1);
        var two = await ExportAsync(source, "events", _folder.File("two"), 2, observer);

        Assert.Contains("read over one connection, not 2: SQLite connections cannot share one snapshot", Assert.Single(observer.Warnings), StringComparison.Ordinal);
        Assert.True(two.Verified, two.VerifyReason);
        Assert.Equal(await File.ReadAllBytesAsync(one.DataPath), await File.ReadAllBytesAsync(two.DataPath));
        Assert.Equal((one.RowCount, one.Checksum), (two.RowCount, two.Checksum));
    }

    private async Task<(string Database, DbOpsConnection Source)> CreateAsync(string sql)
    {
        var database = cluster.CreateDatabase();
        cluster.Execute(database, sql);
        return (database, await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None));
    }

    /// <summary>Runs a -Parallel 2 export that fails the moment its first range is recorded, as a lost connection would.</summary>
    private static async Task InterruptAfterFirstRangeAsync(DbOpsConnection source, string folder)
    {
        var interrupt = new HookObserver(message =>
        {
            if (message.StartsWith("Range ", StringComparison.Ordinal) && message.Contains(" written: ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("interrupted for the test");
            }
        });
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => ExportAsync(source, "events", folder, 2, interrupt));
        Assert.Equal("interrupted for the test", failed.Message);
    }

    /// <summary>Runs <paramref name="onVerbose"/> on every verbose message, on the thread that says it.</summary>
    private sealed class HookObserver(Action<string> onVerbose) : IOperationObserver
    {
        public void Progress(OperationProgress progress)
        {
        }

        public void Verbose(string message) => onVerbose(message);

        public void Warning(string message)
        {
        }
    }
}
