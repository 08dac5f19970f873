using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Engines;

namespace DbOps.Core.Tests;

public sealed class ArchiveSqliteTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Archives => _folder.File("archives");

    private const string FidelitySql = """
        CREATE TABLE mixed(id INTEGER PRIMARY KEY, anything, i INTEGER, r REAL, t TEXT NOT NULL DEFAULT '', b BLOB, n NUMERIC);
        CREATE INDEX mixed_t ON mixed(t);
        CREATE TRIGGER mixed_touch AFTER UPDATE ON mixed BEGIN UPDATE mixed SET t = t || '!' WHERE id = new.id; END;
        INSERT INTO mixed VALUES (1, 1, 9223372036854775807, 1.0, 'a,b "c"' || char(10) || 'd', x'00ff10', 1.5);
        INSERT INTO mixed VALUES (2, 'text', -9223372036854775808, 1e308 * 10, '', x'', '12');
        INSERT INTO mixed VALUES (3, 2.5, NULL, -1e308 * 10, 'ünï€ 😀', NULL, NULL);
        INSERT INTO mixed VALUES (4, x'41', 0, 0.1, char(9) || 'tab', zeroblob(3), 'abc');
        INSERT INTO mixed VALUES (5, NULL, 42, -0.0, '"', x'22', 1e20);
        """;

    private static async Task<TableContent> LiveAsync(DbOpsConnection db, string table, TableArchive archive) =>
        await TableChecksum.ComputeAsync(db, new TableRef("main", table), archive.Columns.Select(c => c.Name).ToList(), CancellationToken.None);

    [Theory]
    [InlineData(ArchiveFormat.Csv, false)]
    [InlineData(ArchiveFormat.JsonLines, true)]
    public async Task Every_storage_class_round_trips_exactly_and_verifies(ArchiveFormat format, bool compress)
    {
        var source = await Sqlite.CreateAsync(_folder.File("source.db"), FidelitySql);

        var archive = await ArchiveService.ExportAsync(
            new ArchiveExportRequest(source, "mixed", Archives, format, compress, Verify: true), NullObserver.Instance, CancellationToken.None);

        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(5, archive.RowCount);
        Assert.Equal(await LiveAsync(source, "mixed", archive), new TableContent(archive.RowCount, archive.Checksum));

        var target = await Sqlite.CreateAsync(_folder.File("target.db"), "SELECT 1");
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None);

        Assert.True(imported.Created);
        Assert.Equal(archive.Checksum, imported.Checksum);
        Assert.Equal(TypesOf(source.Database), TypesOf(target.Database));
        Assert.Equal("mixed_touch", Scalar(target.Database, "SELECT name FROM sqlite_schema WHERE type = 'trigger'"));
        Assert.Equal("mixed_t", Scalar(target.Database, "SELECT name FROM sqlite_schema WHERE type = 'index'"));
    }

    [Fact]
    public async Task Files_whose_manifest_was_moved_away_are_kept_and_the_rerun_is_DestinationExists()
    {
        var source = await Sqlite.CreateAsync(_folder.File("moved.db"), "CREATE TABLE t(id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2);");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None);
        File.Move(archive.ManifestPath, _folder.File("kept-elsewhere.manifest.json"));

        // No abandoned temporary manifest proves a killed export: these files may be the only copy of a dropped table.
        var rerun = await Assert.ThrowsAsync<DbOpsException>(() =>
            ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None));

        Assert.Equal(ErrorIds.DestinationExists, rerun.ErrorId);
        Assert.True(File.Exists(archive.DataPath));
    }

    private static string TypesOf(string path) =>
        Scalar(path, "SELECT group_concat(typeof(anything) || typeof(i) || typeof(r) || typeof(t) || typeof(b) || typeof(n) || quote(r) || quote(b) || quote(anything), '|') FROM (SELECT * FROM mixed ORDER BY id)");

    private static string Scalar(string path, string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture)!;
    }

    [Fact]
    public async Task Every_Chinook_table_round_trips_exactly()
    {
        var source = await Sqlite.ChinookAsync(_folder);
        var target = await Sqlite.CreateAsync(_folder.File("target.db"), "SELECT 1");
        var tables = new[] { "Album", "Artist", "Customer", "Employee", "Genre", "Invoice", "InvoiceLine", "MediaType", "Playlist", "PlaylistTrack", "Track" };

        foreach (var table in tables)
        {
            var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, table, Archives, Verify: true), NullObserver.Instance, CancellationToken.None);
            Assert.True(archive.Verified, archive.VerifyReason);
            var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None);
            Assert.Equal((archive.RowCount, archive.Checksum), (imported.RowCount, imported.Checksum));
            Assert.Equal(Sqlite.Count(source.Database, table), Sqlite.Count(target.Database, table));
        }
        Assert.Equal(3503, Sqlite.Count(target.Database, "Track"));
    }

    [Theory]
    [InlineData(250, 'a')]
    [InlineData(120, 'é')]
    public async Task A_table_name_too_long_for_a_file_name_is_archived_under_a_hashed_name_and_keeps_its_real_name(int length, char letter)
    {
        var table = new string(letter, length);
        var db = await Sqlite.CreateAsync(_folder.File("long.db"), $"CREATE TABLE \"{table}\" (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO \"{table}\" VALUES (1, 'x'), (2, 'y');");

        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(db, $"\"{table}\"", Archives, Verify: true), NullObserver.Instance, CancellationToken.None);

        Assert.True(archive.Verified, archive.VerifyReason);
        Assert.Equal(table, archive.Table);
        Assert.All(Directory.GetFiles(Archives), f => Assert.True(System.Text.Encoding.UTF8.GetByteCount(Path.GetFileName(f)) <= 255, f));
        var target = await Sqlite.CreateAsync(_folder.File("target.db"), "CREATE TABLE keep (x)");
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None);
        Assert.Equal((2L, archive.Checksum), (imported.RowCount, imported.Checksum));
    }

    [Fact]
    public async Task A_missing_table_is_TableNotFound_and_writes_nothing()
    {
        var source = await Sqlite.CreateAsync(_folder.File("source.db"), "CREATE TABLE t(x)");

        await Assertions.ThrowsDbOps(ErrorIds.TableNotFound, () =>
            ArchiveService.ExportAsync(new ArchiveExportRequest(source, "nope", Archives), NullObserver.Instance, CancellationToken.None));
        Assert.Empty(Directory.GetFiles(Archives));
    }

    [Theory]
    [InlineData(ArchiveFormat.Csv)]
    [InlineData(ArchiveFormat.JsonLines)]
    public async Task A_compressed_archive_of_an_empty_table_is_a_gzip_file_other_tools_read(ArchiveFormat format)
    {
        var source = await Sqlite.CreateAsync(_folder.File("source.db"), "CREATE TABLE t(x);");

        var archive = await ArchiveService.ExportAsync(
            new ArchiveExportRequest(source, "t", Archives, format, Compress: true, Verify: true), NullObserver.Instance, CancellationToken.None);

        Assert.True(archive.Verified, archive.VerifyReason);
        var gzip = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("gzip", ["-t", archive.DataPath])
            { RedirectStandardError = true })!;
        var error = await gzip.StandardError.ReadToEndAsync();
        await gzip.WaitForExitAsync();
        Assert.True(gzip.ExitCode == 0, $"gzip -t: {error}");
        var target = await Sqlite.CreateAsync(_folder.File("target.db"), "SELECT 1");
        var imported = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None);
        Assert.Equal(0, imported.RowCount);
    }

    [Fact]
    public async Task An_existing_archive_is_not_overwritten_without_Force()
    {
        var source = await Sqlite.CreateAsync(_folder.File("source.db"), "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
        var first = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None);
        Sqlite.Execute(source.Database, "INSERT INTO t VALUES (2)");

        await Assertions.ThrowsDbOps(ErrorIds.DestinationExists, () =>
            ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None));
        var second = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives, ArchiveFormat.JsonLines, Compress: true, Force: true),
            NullObserver.Instance, CancellationToken.None);

        Assert.Equal(1, first.RowCount);
        Assert.Equal(2, second.RowCount);
        Assert.Equal(["t.jsonl.gz", "t.manifest.json", "t.schema.sql"], Directory.GetFiles(Archives).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task An_edited_manifest_or_a_truncated_data_file_is_ArchiveCorrupt()
    {
        var source = await Sqlite.CreateAsync(_folder.File("source.db"),
            "CREATE TABLE t(x); WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 5000) INSERT INTO t SELECT i FROM s;");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None);
        var target = await Sqlite.CreateAsync(_folder.File("target.db"), "SELECT 1");
        var original = await File.ReadAllTextAsync(archive.ManifestPath);

        await File.WriteAllTextAsync(archive.ManifestPath, original.Replace("\"rowCount\": 5000", "\"rowCount\": 4999"));
        await Assertions.ThrowsDbOps(ErrorIds.ArchiveCorrupt, () =>
            ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None));

        await File.WriteAllTextAsync(archive.ManifestPath, original);
        await using (var data = new FileStream(archive.DataPath, FileMode.Open, FileAccess.Write))
        {
            data.SetLength(data.Length / 2);
        }
        await Assertions.ThrowsDbOps(ErrorIds.ArchiveCorrupt, () =>
            ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, target), NullObserver.Instance, CancellationToken.None));
        Assert.Equal("0", Scalar(target.Database, "SELECT count(*) FROM sqlite_schema WHERE name = 't'"));
    }

    [Fact]
    public async Task Import_refuses_a_non_empty_table_and_loads_under_another_name()
    {
        var source = await Sqlite.CreateAsync(_folder.File("source.db"), "CREATE TABLE t(x TEXT NOT NULL, y INTEGER CHECK (y > 0)); INSERT INTO t VALUES ('a', 1);");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives), NullObserver.Instance, CancellationToken.None);

        await Assertions.ThrowsDbOps(ErrorIds.TargetNotEmpty, () =>
            ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, source), NullObserver.Instance, CancellationToken.None));
        var copy = await ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, source, "t_restored"), NullObserver.Instance, CancellationToken.None);

        Assert.Equal("t_restored", copy.Table);
        Assert.Equal(1, Sqlite.Count(source.Database, "t_restored"));
        Assert.Contains("CHECK (y > 0)", Scalar(source.Database, "SELECT sql FROM sqlite_schema WHERE name = 't_restored'"));
    }

    [Fact]
    public async Task A_verified_archive_is_recorded_in_the_operations_journal()
    {
        var source = await Sqlite.CreateAsync(_folder.File("source.db"), "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);");
        var journal = _folder.File("journal.jsonl");

        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives, Verify: true, JournalPath: journal),
            NullObserver.Instance, CancellationToken.None);

        var entry = Assert.Single(DbOps.Core.Journal.OperationsJournal.Open(journal).Read());
        Assert.Equal(DbOps.Core.Journal.JournalOperations.ArchiveCreated, entry.Operation);
        Assert.Equal(("main", "t", 2L, archive.Checksum, archive.ManifestPath, true), (entry.Schema, entry.Table, entry.Rows, entry.Checksum, entry.Path, entry.Verified));
    }

    [Fact]
    public async Task Export_refuses_text_that_is_not_utf8_instead_of_writing_a_lossy_archive()
    {
        var source = await Sqlite.CreateAsync(_folder.File("source.db"), """
            CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO t VALUES (1, 'fine'), (7, CAST(x'ff41' AS TEXT));
            """);

        var error = await Assert.ThrowsAsync<DbOpsException>(() => ArchiveService.ExportAsync(
            new ArchiveExportRequest(source, "t", Archives, Verify: true), NullObserver.Instance, CancellationToken.None));

        Assert.Equal(ErrorIds.ArchiveFailed, error.ErrorId);
        Assert.Contains("column v of the row with rowid 7", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.Exists(Archives) ? Directory.GetFiles(Archives) : []);

        Sqlite.Execute(source.Database, "UPDATE t SET v = CAST(v AS BLOB) WHERE rowid = 7");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, "t", Archives, Verify: true), NullObserver.Instance, CancellationToken.None);
        Assert.True(archive.Verified, archive.VerifyReason);
    }
}
