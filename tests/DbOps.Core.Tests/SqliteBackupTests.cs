using System.Text.Json.Nodes;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;

namespace DbOps.Core.Tests;

public sealed class SqliteBackupTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Backups => Path.Combine(_folder.Path, "backups");

    [Fact]
    public async Task Connect_refuses_a_missing_file_and_creates_nothing()
    {
        var path = _folder.File("missing.db");
        await Assertions.ThrowsDbOps(ErrorIds.DatabaseNotFound, () => DatabaseConnector.ConnectSqliteAsync(path, false, CancellationToken.None));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task Connect_creates_an_empty_database_only_when_asked()
    {
        var path = _folder.File("sub/new.db");
        var connection = await DatabaseConnector.ConnectSqliteAsync(path, create: true, CancellationToken.None);
        Assert.True(File.Exists(path));
        Assert.Equal(DatabaseProvider.SQLite, connection.Provider);
        Assert.Matches(@"^3\.\d+", connection.ServerVersion);
    }

    [Fact]
    public async Task Connect_says_when_a_file_is_not_a_database()
    {
        var path = _folder.File("notes.txt");
        await File.WriteAllTextAsync(path, new string('x', 5000));
        await Assertions.ThrowsDbOps(ErrorIds.NotADatabase, () => DatabaseConnector.ConnectSqliteAsync(path, false, CancellationToken.None));
    }

    [Fact]
    public async Task Backup_of_chinook_counts_every_table_from_the_backup_and_verifies()
    {
        var source = await Sqlite.ChinookAsync(_folder);
        var observer = new RecordingObserver();

        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups, Verify: true), observer, CancellationToken.None);

        Assert.Equal(11, result.TableCount);
        Assert.Equal(3503, result.Tables.Single(t => t.Name == "Track").Rows);
        Assert.Equal(2240, result.Tables.Single(t => t.Name == "InvoiceLine").Rows);
        Assert.True(result.Verified, result.Verification?.Reason);
        Assert.Equal(BackupStatus.Verified, result.Status);
        Assert.True(File.Exists(result.Path));
        Assert.Equal(new FileInfo(result.Path).Length, result.SizeBytes);
        Assert.Equal(64, result.Sha256.Length);
        Assert.Contains(observer.ProgressReports, p => p.PercentComplete is > 0 and <= 100);

        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(result.ManifestPath))!;
        Assert.Equal(result.Sha256, (string?)manifest["sha256"]);
        Assert.Equal(3503, (long?)manifest["tables"]!.AsArray().Single(t => (string?)t!["name"] == "Track")!["rows"]);
        Assert.NotNull((string?)manifest["verifiedAt"]);
    }

    [Fact]
    public async Task Backup_counts_come_from_the_backup_file_not_the_live_database()
    {
        var source = await Sqlite.CreateAsync(_folder.File("live.db"), "CREATE TABLE t(id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1),(2),(3);");
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        Sqlite.Execute(source.Database, "INSERT INTO t VALUES (4),(5);");

        Assert.Equal(3, result.Tables.Single().Rows);
        Assert.Equal(3, Sqlite.Count(result.Path, "t"));
    }

    [Fact]
    public async Task Backup_of_a_wal_database_keeps_writes_not_yet_checkpointed()
    {
        var path = _folder.File("wal.db");
        using var writer = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
        writer.Open();
        using (var command = writer.CreateCommand())
        {
            command.CommandText = """
                PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
                CREATE TABLE events(id INTEGER PRIMARY KEY, body TEXT);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 5000) INSERT INTO events SELECT i, 'event ' || i FROM n;
                """;
            command.ExecuteNonQuery();
        }
        Assert.True(new FileInfo(path + "-wal").Length > 0, "the rows should still be in the WAL");

        var source = await DatabaseConnector.ConnectSqliteAsync(path, false, CancellationToken.None);
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups, Verify: true), NullObserver.Instance, CancellationToken.None);

        Assert.Equal(5000, Sqlite.Count(result.Path, "events"));
        Assert.True(result.Verified);
        Assert.False(File.Exists(result.Path + "-wal"), "a backup is one self-contained file");
    }

    [Fact]
    public async Task Backup_and_manifest_are_readable_by_their_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Windows has no Unix modes; owner-only ACLs there are not built yet.
        }
        var source = await Sqlite.ChinookAsync(_folder);
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);

        var ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(ownerOnly, File.GetUnixFileMode(result.Path));
        Assert.Equal(ownerOnly, File.GetUnixFileMode(result.ManifestPath));
        Assert.Equal(new[] { result.Path, result.ManifestPath }.Order(), Directory.GetFiles(Backups).Order());
    }

    [Fact]
    public async Task Backup_never_overwrites_an_existing_backup()
    {
        var source = await Sqlite.ChinookAsync(_folder);
        await BackupService.BackupAsync(new BackupRequest(source, Backups, Name: "nightly.sqlite"), NullObserver.Instance, CancellationToken.None);
        var before = await File.ReadAllBytesAsync(Path.Combine(Backups, "nightly.sqlite"));

        await Assertions.ThrowsDbOps(ErrorIds.DestinationExists,
            () => BackupService.BackupAsync(new BackupRequest(source, Backups, Name: "nightly.sqlite"), NullObserver.Instance, CancellationToken.None));
        Assert.Equal(before, await File.ReadAllBytesAsync(Path.Combine(Backups, "nightly.sqlite")));
    }

    [Theory]
    [InlineData("../escaped.sqlite")]
    [InlineData("sub/inside.sqlite")]
    [InlineData(" ")]
    public async Task Backup_name_must_be_a_plain_file_name(string name)
    {
        var source = await Sqlite.ChinookAsync(_folder);
        await Assertions.ThrowsDbOps(ErrorIds.InvalidBackupName,
            () => BackupService.BackupAsync(new BackupRequest(source, Backups, Name: name), NullObserver.Instance, CancellationToken.None));
        Assert.False(File.Exists(_folder.File("escaped.sqlite")));
    }

    [Fact]
    public async Task Backup_to_a_folder_that_cannot_be_created_fails_cleanly()
    {
        var source = await Sqlite.ChinookAsync(_folder);
        var aFile = _folder.File("plain-file");
        await File.WriteAllTextAsync(aFile, "not a folder");

        await Assertions.ThrowsDbOps(ErrorIds.DestinationNotWritable,
            () => BackupService.BackupAsync(new BackupRequest(source, Path.Combine(aFile, "backups")), NullObserver.Instance, CancellationToken.None));
    }

    [RootFact]
    public async Task Backup_to_a_full_disk_leaves_no_partial_file_and_no_manifest()
    {
        var source = await Sqlite.ChinookAsync(_folder); // about 1 MB
        using var disk = new SmallDisk(sizeKiB: 256);

        await Assertions.ThrowsDbOps(ErrorIds.InsufficientDiskSpace,
            () => BackupService.BackupAsync(new BackupRequest(source, disk.Path), NullObserver.Instance, CancellationToken.None));
        Assert.Empty(Directory.GetFileSystemEntries(disk.Path));
    }

    [Fact]
    public async Task Documentation_to_a_full_disk_is_InsufficientDiskSpace_and_leaves_no_partial_file()
    {
        var chinook = await Sqlite.ChinookAsync(_folder);
        using var disk = new SmallDisk(sizeKiB: 16);

        await Assertions.ThrowsDbOps(ErrorIds.InsufficientDiskSpace, () => Documentation.DocumentationService.ExportAsync(
            new Documentation.DocumentationRequest(chinook, disk.Path, JournalPath: _folder.File("j.jsonl"), DotPath: _folder.File("no-graphviz-here")),
            NullObserver.Instance, CancellationToken.None));
        Assert.DoesNotContain(Directory.GetFiles(disk.Path), f => f.EndsWith(".partial", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_runs_writing_the_same_artifact_name_give_one_artifact_and_DestinationExists()
    {
        var source = await Sqlite.ChinookAsync(_folder);

        var runs = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            try
            {
                return (await BackupService.BackupAsync(new BackupRequest(source, Backups, Name: "same.db"), NullObserver.Instance, CancellationToken.None)).Path;
            }
            catch (DbOpsException e)
            {
                return e.ErrorId;
            }
        })));

        Assert.Equal([Path.Combine(Path.GetFullPath(Backups), "same.db"), ErrorIds.DestinationExists], runs.Order(StringComparer.Ordinal));
        // The rename itself, when both runs pass the first check: never an overwrite, never BackupFailed.
        var temporary = Path.Combine(Backups, "temp");
        File.WriteAllText(temporary, "x");
        var error = Assert.Throws<DbOpsException>(() => IO.ArtifactFiles.Publish(temporary, Path.Combine(Backups, "same.db"), overwrite: false));
        Assert.Equal(ErrorIds.DestinationExists, error.ErrorId);
    }

    [Fact]
    public async Task Backup_removes_partial_files_left_by_a_killed_writer_but_not_those_of_a_live_one()
    {
        var source = await Sqlite.ChinookAsync(_folder);
        Directory.CreateDirectory(Backups);
        using var finished = System.Diagnostics.Process.Start("true")!;
        finished.WaitForExit();
        var abandoned = Path.Combine(Backups, $".old.sqlite.{finished.Id}-{Guid.NewGuid():N}.partial");
        var live = Path.Combine(Backups, $".busy.sqlite.{Environment.ProcessId}-{Guid.NewGuid():N}.partial");
        await File.WriteAllTextAsync(abandoned, "half a backup");
        await File.WriteAllTextAsync(abandoned + "-journal", "its journal");
        await File.WriteAllTextAsync(live, "being written");

        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);

        Assert.Equal(new[] { result.Path, result.ManifestPath, live }.Order(), Directory.GetFiles(Backups).Order());
    }

    [Fact]
    public async Task Verify_reports_a_damaged_backup_as_corrupt_with_the_reason()
    {
        var source = await Sqlite.ChinookAsync(_folder);
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        await using (var file = new FileStream(result.Path, FileMode.Open, FileAccess.Write))
        {
            file.Position = file.Length / 2;
            file.Write(new byte[4096]);
        }

        var check = await BackupService.VerifyAsync(result.Path, null, null, NullObserver.Instance, CancellationToken.None);

        Assert.False(check.Verified);
        Assert.Equal(ErrorIds.BackupCorrupt, check.ErrorId);
        Assert.Contains("SHA-256", check.Reason);
    }

    [Fact]
    public async Task Verify_runs_integrity_check_on_a_damaged_file_whose_manifest_was_rewritten_to_match()
    {
        var source = await Sqlite.ChinookAsync(_folder);
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        await ManifestTampering.DamageAndResignAsync(result.Path, result.ManifestPath);

        var check = await BackupService.VerifyAsync(result.Path, null, null, NullObserver.Instance, CancellationToken.None);

        Assert.False(check.Verified);
        Assert.Equal(ErrorIds.BackupCorrupt, check.ErrorId);
        Assert.DoesNotContain("SHA-256", check.Reason);
    }

    [Fact]
    public async Task Verify_fails_when_the_restored_counts_differ_from_the_manifest()
    {
        var source = await Sqlite.ChinookAsync(_folder);
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(result.ManifestPath))!;
        manifest["tables"]!.AsArray().Single(t => (string?)t!["name"] == "Track")!["rows"] = 3504;
        await File.WriteAllTextAsync(result.ManifestPath, manifest.ToJsonString());

        var check = await BackupService.VerifyAsync(result.ManifestPath, null, null, NullObserver.Instance, CancellationToken.None);

        Assert.False(check.Verified);
        Assert.Equal(ErrorIds.BackupVerificationFailed, check.ErrorId);
        var track = Assert.Single(check.Mismatches);
        Assert.Equal((3504L, 3503L), (track.Expected, track.Actual!.Value));
    }

    [Fact]
    public async Task Verify_warns_about_orphans_without_failing_a_faithful_backup()
    {
        var source = await Sqlite.CreateAsync(_folder.File("orphans.db"), """
            PRAGMA foreign_keys = OFF;
            CREATE TABLE parent(id INTEGER PRIMARY KEY);
            CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
            INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1), (2, 99);
            """);
        var observer = new RecordingObserver();

        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups, Verify: true), observer, CancellationToken.None);

        Assert.True(result.Verified);
        Assert.Equal(1, result.Verification!.ForeignKeyViolations);
        Assert.Contains(observer.Warnings, w => w.Contains("foreign keys"));
    }

    [Fact]
    public async Task Verify_of_a_missing_manifest_says_which_file_is_missing()
    {
        await Assertions.ThrowsDbOps(ErrorIds.FileNotFound,
            () => BackupService.VerifyAsync(_folder.File("nope.sqlite"), null, null, NullObserver.Instance, CancellationToken.None));
    }

    [Fact]
    public async Task Restore_creates_a_new_database_and_refuses_a_non_empty_one_without_force()
    {
        var source = await Sqlite.ChinookAsync(_folder);
        var backup = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        var target = DatabaseConnector.DescribeSqliteTarget(_folder.File("restored/chinook.db"));
        var options = new RestoreOptions(Force: false, NoOwner: false);

        var restored = await BackupService.RestoreAsync(backup.Path, target, options, null, NullObserver.Instance, CancellationToken.None);
        Assert.Equal("Restored", restored.Status);
        Assert.Equal(backup.TotalRows, restored.TotalRows);
        Assert.Equal(3503, Sqlite.Count(target.Database, "Track"));

        Sqlite.Execute(target.Database, "DELETE FROM InvoiceLine WHERE InvoiceLineId > 100");
        await Assertions.ThrowsDbOps(ErrorIds.TargetNotEmpty,
            () => BackupService.RestoreAsync(backup.Path, target, options, null, NullObserver.Instance, CancellationToken.None));
        Assert.Equal(100, Sqlite.Count(target.Database, "InvoiceLine"));

        var forced = await BackupService.RestoreAsync(backup.Path, target, options with { Force = true }, null, NullObserver.Instance, CancellationToken.None);
        Assert.Equal("Restored", forced.Status);
        Assert.Equal(2240, Sqlite.Count(target.Database, "InvoiceLine"));
    }

    [Fact]
    public async Task Restore_into_a_folder_that_cannot_be_written_is_DestinationNotWritable()
    {
        var source = await Sqlite.CreateAsync(_folder.File("small.db"), "CREATE TABLE t(id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
        var backup = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        // A folder below a regular file can be created by nobody, root included (root ignores a folder's mode bits).
        var blocker = _folder.File("a-file");
        File.WriteAllText(blocker, "");
        var target = DatabaseConnector.DescribeSqliteTarget(Path.Combine(blocker, "restored", "small.db"));

        await Assertions.ThrowsDbOps(ErrorIds.DestinationNotWritable, () =>
            BackupService.RestoreAsync(backup.Path, target, new RestoreOptions(Force: false, NoOwner: false), null, NullObserver.Instance, CancellationToken.None));
    }

    [Fact]
    public async Task Restore_from_a_file_that_is_not_SQLite_is_BackupCorrupt_and_creates_nothing()
    {
        var source = await Sqlite.CreateAsync(_folder.File("small2.db"), "CREATE TABLE t(id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);");
        var backup = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        // Another file under the backup's name, with a manifest rewritten to match it: only SQLite can tell.
        var junk = System.Text.Encoding.UTF8.GetBytes(new string('x', 8192));
        File.WriteAllBytes(backup.Path, junk);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(backup.ManifestPath))!;
        manifest["sizeBytes"] = junk.Length;
        manifest["sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(junk));
        File.WriteAllText(backup.ManifestPath, manifest.ToJsonString());
        var target = DatabaseConnector.DescribeSqliteTarget(_folder.File("from-junk.db"));

        await Assertions.ThrowsDbOps(ErrorIds.BackupCorrupt, () =>
            BackupService.RestoreAsync(backup.Path, target, new RestoreOptions(Force: false, NoOwner: false), null, NullObserver.Instance, CancellationToken.None));
        Assert.False(File.Exists(target.Database));
    }

    [Fact]
    public async Task Tables_with_hostile_names_are_backed_up_and_counted()
    {
        var source = await Sqlite.CreateAsync(_folder.File("hostile.db"), """
            CREATE TABLE "we""ird; DROP TABLE t;--" (id INTEGER);
            CREATE TABLE t (id INTEGER);
            INSERT INTO "we""ird; DROP TABLE t;--" VALUES (1), (2);
            """);
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups, Verify: true), NullObserver.Instance, CancellationToken.None);

        Assert.True(result.Verified);
        Assert.Equal(2, result.Tables.Single(t => t.Name == "we\"ird; DROP TABLE t;--").Rows);
        Assert.Equal(0, Sqlite.Count(source.Database, "t"));
    }
}
