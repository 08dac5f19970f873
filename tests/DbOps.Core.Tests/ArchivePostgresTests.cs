using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using Npgsql;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class ArchivePostgresTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Archives => _folder.File("archives");

    private Task<DbOpsConnection> ConnectAsync(string database) =>
        DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);

    private int ScratchDatabases() =>
        (int)cluster.Scalar<long>("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dbops_verify_%'");

    private const string FidelitySql = """
        CREATE SCHEMA sales;
        CREATE TYPE sales.mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN sales.percent AS numeric(5,2) CHECK (VALUE BETWEEN 0 AND 100);
        CREATE SEQUENCE sales.shared_seq START 1000;
        CREATE TABLE sales.everything (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            code integer DEFAULT nextval('sales.shared_seq') NOT NULL,
            small smallint, big bigint, amount numeric(12,4), price money,
            r real, d double precision,
            t text, v varchar(20), c char(3), flag boolean,
            day date, at timestamp, atz timestamptz, span interval, tm time, tmz timetz,
            u uuid, bin bytea, j json, jb jsonb, tags text[], matrix int[][], moods sales.mood[],
            feeling sales.mood, pct sales.percent, ip inet, bits bit varying(8),
            doubled integer GENERATED ALWAYS AS (small * 2) STORED,
            UNIQUE (code)
        );
        CREATE INDEX everything_t ON sales.everything (lower(t)) WHERE flag;
        COMMENT ON TABLE sales.everything IS 'every common type';
        SET TimeZone = 'America/New_York';
        INSERT INTO sales.everything (small, big, amount, price, r, d, t, v, c, flag, day, at, atz, span, tm, tmz, u, bin, j, jb, tags, matrix, moods, feeling, pct, ip, bits) VALUES
          (1, 9223372036854775807, 12345678.1234, 12.34, 'NaN', 'Infinity', 'quotes "x", commas, and' || E'\n' || 'newlines' || E'\t' || 'tabs', 'ünïcødé €', 'ab', true,
           '2024-02-29', '2024-01-01 12:34:56.789012', '2024-06-01 12:00:00.5+02', '1 year 2 mons 3 days 04:05:06.7', '23:59:59.999999', '10:00+05:30',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff0a0d2c22', '{"a": [1, 2.50, "x"]}', '{"b": {"c": null}}', ARRAY['a', 'b,c', '', NULL, 'd"e'],
           '{{1,2},{3,4}}', '{happy,sad}', 'ok', 99.50, '192.168.0.1/24', B'101'),
          (NULL, -9223372036854775808, -0.0001, -1.00, '-Infinity', -1.5e-300, '', '', NULL, false,
           'infinity', '-infinity', '1970-01-01 00:00:00+00', '-3 days -00:00:01', '00:00', NULL,
           NULL, '\x', 'null', '[]', '{}', NULL, '{}', NULL, 0, '::1', B''),
          (3, 0, 0, 0, 3.4028235e38, 0.1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        """;

    [Theory]
    [InlineData(ArchiveFormat.Csv, false)]
    [InlineData(ArchiveFormat.JsonLines, true)]
    public async Task Every_common_type_round_trips_exactly_into_a_database_without_its_types(ArchiveFormat format, bool compress)
    {
        var source = await cluster.CreateConnectedAsync(FidelitySql);
        var observer = new RecordingObserver();

        var archive = await ArchiveService.ExportAsync(
            new ArchiveExportRequest(source, "sales.everything", Archives, format, compress, Verify: true), observer, CancellationToken.None);

        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(3, archive.RowCount);
        Assert.DoesNotContain(archive.Columns, c => c.Name == "doubled");
        Assert.Equal(0, ScratchDatabases());
        Assert.Contains(observer.ProgressReports, p => p.Activity.Contains("sales.everything", StringComparison.Ordinal));

        var target = await ConnectAsync(cluster.CreateDatabase());
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), observer, CancellationToken.None);

        Assert.True(imported.Created);
        Assert.Empty(imported.Skipped);
        Assert.Equal((archive.RowCount, archive.Checksum), (imported.RowCount, imported.Checksum));
        var columns = archive.Columns.Select(c => c.Name).ToList();
        Assert.Equal(await TableChecksum.ComputeAsync(source, new TableRef("sales", "everything"), columns, CancellationToken.None),
                     await TableChecksum.ComputeAsync(target, new TableRef("sales", "everything"), columns, CancellationToken.None));
        // Spot checks that the checksum's text really is the values.
        Assert.Equal("NaN|Infinity|-Infinity|true|false", cluster.Scalar<string>(target.Database,
            "SELECT string_agg(x, '|') FROM (SELECT r::text AS x FROM sales.everything WHERE id = 1 UNION ALL SELECT d::text FROM sales.everything WHERE id = 1 " +
            "UNION ALL SELECT r::text FROM sales.everything WHERE id = 2 UNION ALL SELECT (t = '')::text FROM sales.everything WHERE id = 2 " +
            "UNION ALL SELECT (t IS NULL)::text FROM sales.everything WHERE id = 2) s"));
        Assert.Equal(1, cluster.Scalar<long>(target.Database, "SELECT count(*) FROM sales.everything WHERE t IS NULL"));
        Assert.Equal(2L, cluster.Scalar<long>(target.Database, "SELECT doubled::bigint FROM sales.everything WHERE id = 1"));
        // The identity and the shared sequence go on after the loaded values.
        Assert.Equal(4L, cluster.Scalar<long>(target.Database, "INSERT INTO sales.everything (small) VALUES (5) RETURNING id"));
        Assert.Equal(1003L, cluster.Scalar<long>(target.Database, "SELECT code::bigint FROM sales.everything WHERE id = 4"));
        Assert.Equal("every common type", cluster.Scalar<string>(target.Database, "SELECT obj_description('sales.everything'::regclass, 'pg_class')"));
        Assert.True(cluster.Scalar<bool>(target.Database, "SELECT to_regclass('sales.everything_t') IS NOT NULL"));
    }

    [Fact]
    public async Task Every_Pagila_table_round_trips_exactly()
    {
        var source = await ConnectAsync(cluster.CreatePagila());
        var target = await ConnectAsync(cluster.CreateDatabase());
        IReadOnlyList<TableRef> tables;
        await using (var session = await PostgresEngine.Instance.OpenReadOnlyAsync(source, CancellationToken.None))
        {
            tables = await PostgresEngine.Instance.ListTablesAsync(session.Connection, CancellationToken.None);
        }
        var observer = new RecordingObserver();

        foreach (var table in tables)
        {
            var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, table.ToString(), Archives, Verify: true), observer, CancellationToken.None);
            Assert.True(archive.Verified, $"{table}: {archive.VerifyReason}");
            var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), observer, CancellationToken.None);
            Assert.Equal((archive.RowCount, archive.Checksum), (imported.RowCount, imported.Checksum));
            Assert.Equal(cluster.Scalar<long>(source.Database, $"SELECT count(*) FROM ONLY {table}"), imported.RowCount);
        }
        Assert.Equal(16044L, cluster.Scalar<long>(target.Database, "SELECT count(*) FROM rental"));
        Assert.Equal(0, ScratchDatabases());
        // Objects that need what the target lacks (trigger functions, a partitioned parent) are reported, not fatal.
        Assert.Contains(observer.Warnings, w => w.Contains("TRIGGER", StringComparison.Ordinal));
    }

    [RootFact]
    public async Task Export_to_a_full_disk_leaves_nothing_that_looks_complete()
    {
        var source = await cluster.CreateConnectedAsync(
            "CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 60000) g");
        using var disk = new SmallDisk(sizeKiB: 512);

        await Assertions.ThrowsDbOps(ErrorIds.InsufficientDiskSpace, () =>
            ArchiveService.ExportAsync(new ArchiveExportRequest(source, "big", disk.Path), NullObserver.Instance, CancellationToken.None));
        Assert.Empty(Directory.GetFileSystemEntries(disk.Path));
    }

    /// <summary>
    /// pg_dump writes the schema file while the rows stream: its failure fails the export with pg_dump's own error, whether
    /// it comes while the rows wait (for a lock another session holds on the table, so they cannot finish first and are
    /// stopped) or after they are all written.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_pg_dump_that_fails_beside_the_rows_fails_the_export_with_its_own_error_and_leaves_no_file(bool whileRowsWait)
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10) g");
        var fake = FakePgDump($"sleep {(whileRowsWait ? 0 : 2)}\necho 'pg_dump: error: query failed: ERROR:  permission denied for table big' >&2\nexit 1");
        await using var blocker = new NpgsqlConnection(cluster.ConnectionString(source.Database));
        await blocker.OpenAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        if (whileRowsWait)
        {
            await new NpgsqlCommand("LOCK TABLE big IN ACCESS EXCLUSIVE MODE", blocker, transaction).ExecuteNonQueryAsync();
        }

        var error = await Assertions.ThrowsDbOps(ErrorIds.ToolFailed, () =>
            ArchiveService.ExportAsync(new ArchiveExportRequest(source, "big", Archives, ToolPath: fake), NullObserver.Instance, CancellationToken.None));

        Assert.Contains("permission denied for table big", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Archives));
    }

    /// <summary>pg_dump's version is checked while the catalog is read: an old one refuses the export before any row is read.</summary>
    [Fact]
    public async Task A_pg_dump_older_than_the_server_refuses_the_export_and_leaves_no_file()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 10) g");
        var fake = _folder.File("pg_dump");
        await File.WriteAllTextAsync(fake, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var error = await Assertions.ThrowsDbOps(ErrorIds.ToolVersionTooOld, () =>
            ArchiveService.ExportAsync(new ArchiveExportRequest(source, "small", Archives, ToolPath: fake), NullObserver.Instance, CancellationToken.None));

        Assert.Contains("version 9", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Archives));
    }

    /// <summary>pg_dump joins the export's snapshot by id: a pg_dump that starts its work after every row is read still finds it open.</summary>
    [Fact]
    public async Task A_pg_dump_that_finishes_after_the_rows_still_dumps_the_table_of_the_snapshot()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE small AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10) g");
        var pgDump = FakePgDump("sleep 2\nexec '{0}' \"$@\"");

        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "small", Archives, ToolPath: pgDump, Verify: true),
            NullObserver.Instance, CancellationToken.None);

        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(10, archive.RowCount);
    }

    /// <summary>The caller's cancellation (Ctrl+C) while pg_dump still works: reported as cancellation, pg_dump killed, no file left.</summary>
    [Fact]
    public async Task Cancelling_an_export_while_pg_dump_works_kills_it_and_leaves_no_file()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 10) g");
        var pidFile = _folder.File("pg_dump.pid");
        var pgDump = FakePgDump($"echo $$ > '{pidFile}'\nexec sleep 60");
        using var cancel = new CancellationTokenSource();

        var export = ArchiveService.ExportAsync(new ArchiveExportRequest(source, "small", Archives, ToolPath: pgDump), NullObserver.Instance, cancel.Token);
        while (!File.Exists(pidFile) || (await File.ReadAllTextAsync(pidFile)).Trim().Length == 0)
        {
            Assert.False(export.IsCompleted, "The export ended before pg_dump started.");
            await Task.Delay(20);
        }
        var pid = int.Parse((await File.ReadAllTextAsync(pidFile)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => export);
        Assert.False(Directory.Exists($"/proc/{pid}"), $"pg_dump (process {pid}) is still running.");
        Assert.Empty(Directory.GetFileSystemEntries(Archives));
    }

    /// <summary>A pg_dump that answers --version as the real one does and otherwise runs <paramref name="body"/> ({0}: the real pg_dump).</summary>
    private string FakePgDump(string body)
    {
        var real = Path.Combine(cluster.BinFolder, "pg_dump");
        var fake = _folder.File("pg_dump");
        File.WriteAllText(fake, $"#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then exec '{real}' --version; fi\n{string.Format(System.Globalization.CultureInfo.InvariantCulture, body, real)}\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return fake;
    }

    [Fact]
    public async Task A_truncated_data_file_makes_import_and_its_scratch_check_ArchiveCorrupt()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t AS SELECT g AS id, g::text AS v FROM generate_series(1, 20000) g");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None);
        await using (var data = new FileStream(archive.DataPath, FileMode.Open, FileAccess.Write))
        {
            data.SetLength(data.Length - 10);
        }
        var target = await ConnectAsync(cluster.CreateDatabase());

        await Assertions.ThrowsDbOps(ErrorIds.ArchiveCorrupt, () =>
            ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None));
        Assert.False(cluster.Scalar<bool>(target.Database, "SELECT to_regclass('public.t') IS NOT NULL"));
    }

    [Fact]
    public async Task A_connection_lost_during_verify_keeps_the_archive_unverified_with_the_cause()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 400000) g");

        var export = ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives, Verify: true), NullObserver.Instance, CancellationToken.None);
        Assert.True(await SessionLoss.EndSessionsDuringScratchWorkAsync(cluster, source.Database, export) > 0);
        var archive = await export;

        Assert.False(archive.Verified);
        Assert.True(archive.VerifyErrorId == ErrorIds.ConnectionLost, archive.VerifyReason);
        Assert.True(File.Exists(archive.ManifestPath) && File.Exists(archive.DataPath), "the archive itself is good and must be kept");
        Assert.Equal(400000L, archive.RowCount);
        Assert.Equal(0L, SessionLoss.ScratchDatabases(cluster));
        var target = await ConnectAsync(cluster.CreateDatabase());
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((archive.RowCount, archive.Checksum), (imported.RowCount, imported.Checksum));
    }

    [Fact]
    public async Task A_data_file_rewritten_with_a_matching_hash_is_still_caught_by_the_content_checksum()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None);
        var text = await File.ReadAllTextAsync(archive.DataPath);
        await File.WriteAllTextAsync(archive.DataPath, text.Replace("\n7\n", "\n8\n"));
        await ArchiveTampering.ResealAsync(archive.ManifestPath, archive.DataPath);
        var target = await ConnectAsync(cluster.CreateDatabase());

        await Assertions.ThrowsDbOps(ErrorIds.ArchiveCorrupt, () =>
            ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None));
    }

    [Fact]
    public async Task The_checksum_recomputed_from_the_live_table_changes_when_a_row_changes()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t AS SELECT g AS id, now() AS at FROM generate_series(1, 100) g");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None);
        var columns = archive.Columns.Select(c => c.Name).ToList();

        Assert.Equal(archive.Checksum, (await TableChecksum.ComputeAsync(source, new TableRef("public", "t"), columns, CancellationToken.None)).Checksum);
        cluster.Execute(source.Database, "UPDATE t SET id = 1000 WHERE id = 50");
        Assert.NotEqual(archive.Checksum, (await TableChecksum.ComputeAsync(source, new TableRef("public", "t"), columns, CancellationToken.None)).Checksum);
    }

    [Fact]
    public async Task A_table_that_inherits_from_others_is_archived_verified_and_imported_with_its_ancestors_where_missing()
    {
        // pg_dump writes an inheriting table's CREATE TABLE with INHERITS and without the columns it inherits: without its
        // ancestors the table cannot be created, so the scratch check (and an import elsewhere) failed.
        var source = await cluster.CreateConnectedAsync("""
            CREATE SCHEMA base;
            CREATE TABLE base.thing (id integer NOT NULL, made timestamptz DEFAULT now(), CHECK (id > 0));
            CREATE TABLE base.asset (value numeric(10,2)) INHERITS (base.thing);
            CREATE TABLE public.laptop (serial text NOT NULL) INHERITS (base.asset);
            INSERT INTO public.laptop (id, made, value, serial) VALUES (1, '2024-01-01 00:00+00', 999.99, 'X1'), (2, NULL, 5.00, 'X2');
            INSERT INTO base.thing (id) VALUES (7);
            """);
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "laptop", Archives, Verify: true), NullObserver.Instance, CancellationToken.None);
        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(2, archive.RowCount);

        // Elsewhere the ancestors are created first, empty; the rows are the archived ones.
        var elsewhere = await ConnectAsync(cluster.CreateDatabase());
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, elsewhere), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((archive.RowCount, archive.Checksum), (imported.RowCount, imported.Checksum));
        Assert.Equal("base.asset", cluster.Scalar<string>(elsewhere.Database, "SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = 'public.laptop'::regclass"));
        Assert.Equal(2L, cluster.Scalar<long>(elsewhere.Database, "SELECT count(*) FROM base.thing"));

        // Back home, the existing ancestors are kept (with their own rows) and the table inherits from them again.
        cluster.Execute(source.Database, "DROP TABLE public.laptop");
        await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, source), NullObserver.Instance, CancellationToken.None);
        Assert.Equal(3L, cluster.Scalar<long>(source.Database, "SELECT count(*) FROM base.thing"));
        Assert.Equal("base.asset", cluster.Scalar<string>(source.Database, "SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = 'public.laptop'::regclass"));
    }

    [Fact]
    public async Task Import_under_another_name_next_to_the_original_and_refuse_a_non_empty_table()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t (id serial PRIMARY KEY, v text NOT NULL); INSERT INTO t (v) VALUES ('a'), ('b');");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None);

        await Assertions.ThrowsDbOps(ErrorIds.TargetNotEmpty, () =>
            ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, source), NullObserver.Instance, CancellationToken.None));
        var copy = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, source, "t_restored"), NullObserver.Instance, CancellationToken.None);

        Assert.Equal(("public", "t_restored", 2L), (copy.Schema, copy.Table, copy.RowCount));
        Assert.Equal(archive.Checksum, copy.Checksum);
    }

    [Fact]
    public async Task Hostile_schema_and_table_names_are_archived_under_safe_file_names_and_imported()
    {
        var source = await cluster.CreateConnectedAsync(""""
            CREATE SCHEMA "odd ""schema""";
            CREATE TABLE "odd ""schema"""."we.ird; DROP TABLE x; --" ("a b" int PRIMARY KEY, "Ü" text);
            INSERT INTO "odd ""schema"""."we.ird; DROP TABLE x; --" VALUES (1, 'x'), (2, NULL);
            """");

        var archive = await ArchiveService.ExportAsync(
            new ArchiveExportRequest(source, "\"odd \"\"schema\"\"\".\"we.ird; DROP TABLE x; --\"", Archives, Verify: true), NullObserver.Instance, CancellationToken.None);

        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(("odd \"schema\"", "we.ird; DROP TABLE x; --"), (archive.Schema, archive.Table));
        Assert.Matches(@"^[A-Za-z0-9_.-]+\.manifest\.json$", Path.GetFileName(archive.ManifestPath));
        var target = await ConnectAsync(cluster.CreateDatabase());
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((2L, archive.Checksum), (imported.RowCount, imported.Checksum));
    }

    [Theory]
    [InlineData("semi;colon")]
    [InlineData("a; Owner: b")]
    public async Task A_schema_name_with_a_semicolon_keeps_its_CREATE_TABLE_and_imports(string schema)
    {
        var quoted = "\"" + schema.Replace("\"", "\"\"") + "\"";
        var source = await cluster.CreateConnectedAsync($"CREATE SCHEMA {quoted}; CREATE TABLE {quoted}.t (id int PRIMARY KEY, v text); " +
                                                        $"INSERT INTO {quoted}.t VALUES (1, 'a'), (2, 'b');");

        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, $"{quoted}.t", Archives), NullObserver.Instance, CancellationToken.None);

        Assert.Contains($"CREATE TABLE {quoted}.t", await File.ReadAllTextAsync(archive.SchemaPath));
        var target = await ConnectAsync(cluster.CreateDatabase());
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((2L, archive.Checksum), (imported.RowCount, imported.Checksum));
        Assert.True(cluster.Scalar<bool>(target.Database, "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'p')"), "the primary key (after-load) is kept");
    }

    [Fact]
    public async Task A_destination_that_is_a_file_is_DestinationNotWritable()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t (id int)");
        var file = _folder.File("not-a-folder");
        await File.WriteAllTextAsync(file, "x");

        await Assertions.ThrowsDbOps(ErrorIds.DestinationNotWritable, () =>
            ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", file), NullObserver.Instance, CancellationToken.None));
    }
}
