using DbOps.Core.Backup;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;

namespace DbOps.Core.Tests;

/// <summary>Backups kept in several places: Copy-Backup, Test-Backup -AllCopies and Remove-Backup, on SQLite.</summary>
public sealed class BackupCopyTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string JournalPath => _folder.File("journal.jsonl");

    private IReadOnlyList<JournalEntry> Journal(string operation) =>
        OperationsJournal.Open(JournalPath).Read().Where(e => e.Operation == operation).ToList();

    private Connections.DbOpsConnection? _chinook;
    private int _backups;

    /// <summary>
    /// A backup of Chinook. Each one's bytes differ (a new user_version), since retention recognises a verified backup by
    /// its SHA-256 and two backups of an unchanged SQLite file are byte-identical.
    /// </summary>
    private async Task<BackupResult> BackupAsync(string name, bool verify = false)
    {
        _chinook ??= await Sqlite.ChinookAsync(_folder);
        Sqlite.Execute(_chinook.Database, $"PRAGMA user_version = {++_backups}");
        return await BackupService.BackupAsync(new BackupRequest(_chinook, _folder.File("backups"), name, verify, JournalPath: JournalPath),
            NullObserver.Instance, CancellationToken.None);
    }

    private Task<BackupCopy> CopyAsync(string backupPath, string destination) =>
        BackupService.CopyAsync(backupPath, destination, JournalPath, NullObserver.Instance, CancellationToken.None);

    private Task<IReadOnlyList<BackupVerification>> VerifyCopiesAsync(BackupVerification original) =>
        BackupService.VerifyCopiesAsync(original, null, null, JournalPath, NullObserver.Instance, CancellationToken.None);

    private static Task<BackupVerification> VerifyAsync(string path) =>
        BackupService.VerifyAsync(path, null, null, NullObserver.Instance, CancellationToken.None);

    private IReadOnlyList<RetentionDecision> Plan(int? keep, TimeSpan? olderThan = null, string folder = "backups") =>
        BackupService.PlanRetention(new RetentionRequest(_folder.File(folder), null, keep, olderThan, JournalPath), NullObserver.Instance);

    [Fact]
    public async Task Each_copy_is_byte_identical_with_the_same_manifest_and_leaves_one_journal_entry()
    {
        var backup = await BackupAsync("chinook.sqlite", verify: true);

        var copies = new[] { await CopyAsync(backup.Path, _folder.File("nas")), await CopyAsync(backup.ManifestPath, _folder.File("usb")) };

        foreach (var copy in copies)
        {
            Assert.Equal(backup.Sha256, await IO.ArtifactFiles.Sha256Async(copy.Path, CancellationToken.None));
            Assert.Equal(await File.ReadAllTextAsync(backup.ManifestPath), await File.ReadAllTextAsync(copy.ManifestPath));
            Assert.Equal((backup.Path, "Copied"), (copy.Original, copy.Status));
            Assert.Equal(2, Directory.GetFiles(Path.GetDirectoryName(copy.Path)!).Length);
        }
        var entries = Journal(JournalOperations.BackupCopied);
        Assert.Equal(copies.Select(c => (c.Path, backup.Path, backup.Sha256, true)),
                     entries.Select(e => (e.Path!, e.Target!, e.Sha256!, e.Verified)));
        Assert.All(entries, e => Assert.StartsWith("Remove-Item -LiteralPath '", e.Undo, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_destination_under_a_regular_file_fails_that_copy_only_and_records_nothing()
    {
        var backup = await BackupAsync("chinook.sqlite");
        var aFile = _folder.File("plain-file");
        await File.WriteAllTextAsync(aFile, "not a folder");

        await Assertions.ThrowsDbOps(ErrorIds.DestinationNotWritable, () => CopyAsync(backup.Path, Path.Combine(aFile, "copies")));
        var copy = await CopyAsync(backup.Path, _folder.File("good"));

        Assert.True(File.Exists(copy.ManifestPath));
        Assert.Equal([copy.Path], Journal(JournalOperations.BackupCopied).Select(e => e.Path));
    }

    [RootFact]
    public async Task A_copy_onto_a_read_only_destination_fails_and_leaves_nothing_there()
    {
        var backup = await BackupAsync("chinook.sqlite");
        Directory.CreateDirectory(_folder.File("ro-source"));
        using var readOnly = new ReadOnlyMount(_folder.File("ro-source"));

        await Assertions.ThrowsDbOps(ErrorIds.DestinationNotWritable, () => CopyAsync(backup.Path, readOnly.Path));

        Assert.Empty(Directory.GetFileSystemEntries(_folder.File("ro-source")));
        Assert.Empty(Journal(JournalOperations.BackupCopied));
    }

    [RootFact]
    public async Task A_copy_onto_a_full_disk_is_InsufficientDiskSpace_and_leaves_nothing_there()
    {
        var backup = await BackupAsync("chinook.sqlite"); // about 1 MB
        using var disk = new SmallDisk(sizeKiB: 256);

        await Assertions.ThrowsDbOps(ErrorIds.InsufficientDiskSpace, () => CopyAsync(backup.Path, disk.Path));

        Assert.Empty(Directory.GetFileSystemEntries(disk.Path));
        Assert.Empty(Journal(JournalOperations.BackupCopied));
    }

    [Fact]
    public async Task A_copy_never_overwrites_a_backup_and_a_damaged_original_is_not_copied()
    {
        var backup = await BackupAsync("chinook.sqlite");
        await Assertions.ThrowsDbOps(ErrorIds.DestinationExists, () => CopyAsync(backup.Path, Path.GetDirectoryName(backup.Path)!));

        await using (var file = new FileStream(backup.Path, FileMode.Open, FileAccess.Write))
        {
            file.Position = 100;
            file.WriteByte(0xFF);
        }
        await Assertions.ThrowsDbOps(ErrorIds.BackupCorrupt, () => CopyAsync(backup.Path, _folder.File("copy")));

        Assert.Empty(Directory.GetFileSystemEntries(_folder.File("copy")));
        Assert.Empty(Journal(JournalOperations.BackupCopied));
    }

    [Fact]
    public async Task AllCopies_finds_each_recorded_copy_and_catches_the_tampered_one_by_its_path()
    {
        var backup = await BackupAsync("chinook.sqlite");
        var intact = await CopyAsync(backup.Path, _folder.File("nas"));
        var changed = await CopyAsync(backup.Path, _folder.File("usb"));
        var resigned = await CopyAsync(backup.Path, _folder.File("cloud"));
        await using (var file = new FileStream(changed.Path, FileMode.Open, FileAccess.Write))
        {
            file.Position = file.Length / 2;
            file.WriteByte(0xFF);
        }
        // Damaged, and its manifest rewritten to match: only the comparison with the original's manifest can tell.
        await ManifestTampering.DamageAndResignAsync(resigned.Path, resigned.ManifestPath);

        var original = await VerifyAsync(backup.Path);
        var copies = await VerifyCopiesAsync(original);

        Assert.True(original.Verified, original.Reason);
        Assert.Equal([intact.Path, changed.Path, resigned.Path], copies.Select(c => c.Path));
        Assert.Equal([(true, null), (false, ErrorIds.BackupCorrupt), (false, ErrorIds.BackupCorrupt)],
                     copies.Select(c => (c.Verified, c.ErrorId)));
        Assert.Equal(original.Tables.Count, copies[0].Tables.Count);
    }

    [Fact]
    public async Task AllCopies_restore_tests_an_intact_copy_when_the_original_is_damaged_and_skips_deleted_copies()
    {
        var backup = await BackupAsync("chinook.sqlite");
        var copy = await CopyAsync(backup.Path, _folder.File("nas"));
        var deleted = await CopyAsync(backup.Path, _folder.File("old"));
        var decision = Assert.Single(Plan(keep: 1, folder: "old"));
        BackupService.DeleteBackup(decision with { Delete = true }, JournalPath, NullObserver.Instance);
        await using (var file = new FileStream(backup.Path, FileMode.Open, FileAccess.Write))
        {
            file.Position = 100;
            file.WriteByte(0xFF);
        }

        var original = await VerifyAsync(backup.Path);
        var copies = await VerifyCopiesAsync(original);

        Assert.Equal(ErrorIds.BackupCorrupt, original.ErrorId);
        var checkedCopy = Assert.Single(copies);
        Assert.Equal((copy.Path, true), (checkedCopy.Path, checkedCopy.Verified));
        Assert.Equal(3503, checkedCopy.Tables.Single(t => t.Name == "Track").Actual);
        Assert.DoesNotContain(copies, c => c.Path == deleted.Path);
    }

    [Fact]
    public async Task A_copy_stays_found_after_its_own_restore_test_and_the_original_after_one_of_its()
    {
        var backup = await BackupAsync("chinook.sqlite");
        var copy = await CopyAsync(backup.Path, _folder.File("nas"));
        await using (var file = new FileStream(backup.Path, FileMode.Open, FileAccess.Write))
        {
            file.Position = 100;
            file.WriteByte(0xFF);
        }
        var original = await VerifyAsync(backup.Path);

        // The first check restore-tests the copy and journals BackupTested with the copy's path; the second must still find it.
        Assert.Single(await VerifyCopiesAsync(original));
        Assert.Contains(Journal(JournalOperations.BackupTested), e => e.Path == copy.Path);
        var again = Assert.Single(await VerifyCopiesAsync(original));
        Assert.Equal((copy.Path, true), (again.Path, again.Verified));
        Assert.Equal([backup.Path, copy.Path], BackupService.RecordedLocations(backup.Sha256, JournalPath));
    }

    [Fact]
    public async Task Retention_keeps_the_newest_and_never_the_last_verified_backup()
    {
        var verified = await BackupAsync("a.sqlite", verify: true);
        var middle = await BackupAsync("b.sqlite");
        var later = await BackupAsync("c.sqlite");
        var newest = await BackupAsync("d.sqlite");

        var decisions = Plan(keep: 1);

        Assert.Equal([(newest.Path, false), (later.Path, true), (middle.Path, true), (verified.Path, false)],
                     decisions.Select(d => (d.Path, d.Delete)));
        Assert.Contains("restore test", decisions[3].Reason, StringComparison.Ordinal);
        var removed = decisions.Where(d => d.Delete).Select(d => BackupService.DeleteBackup(d, JournalPath, NullObserver.Instance)).ToList();

        Assert.Equal([later.Path, middle.Path], removed.Select(r => r.Path));
        Assert.Equal(new[] { newest.Path, newest.ManifestPath, verified.Path, verified.ManifestPath }.Order(StringComparer.Ordinal),
                     Directory.GetFiles(_folder.File("backups")).Order(StringComparer.Ordinal));
        Assert.Equal(removed.Select(r => (r.Path, r.Sha256)), Journal(JournalOperations.BackupDeleted).Select(e => (e.Path!, e.Sha256!)));
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("truncated")]
    public async Task Retention_protects_the_next_intact_verified_backup_when_the_newest_verified_file_is_gone(string damage)
    {
        var older = await BackupAsync("a.sqlite", verify: true);
        var middle = await BackupAsync("b.sqlite");
        var phantom = await BackupAsync("c.sqlite", verify: true);
        if (damage == "missing")
        {
            File.Delete(phantom.Path);
        }
        else
        {
            await using var file = new FileStream(phantom.Path, FileMode.Open, FileAccess.Write);
            file.SetLength(file.Length / 2);
        }
        var observer = new RecordingObserver();

        var decisions = BackupService.PlanRetention(new RetentionRequest(_folder.File("backups"), null, 1, null, JournalPath), observer);

        Assert.Equal([(phantom.Path, false), (middle.Path, true), (older.Path, false)], decisions.Select(d => (d.Path, d.Delete)));
        Assert.Contains(observer.Warnings, w => w.Contains(phantom.Path, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Retention_counts_a_verification_the_journal_records_for_the_same_bytes()
    {
        var older = await BackupAsync("a.sqlite");
        var tested = await BackupAsync("b.sqlite");
        await BackupAsync("c.sqlite");
        // A restore test of a copy of b (the same SHA-256) makes b the last verified backup.
        OperationsJournal.Record(JournalPath, new JournalEntry
        {
            Time = DateTimeOffset.UtcNow, Operation = "BackupTested", Provider = tested.Provider, Database = tested.Database,
            Path = _folder.File("elsewhere/b.sqlite"), Sha256 = tested.Sha256, Verified = true,
        }, NullObserver.Instance);

        var decisions = Plan(keep: 1);

        Assert.Equal([false, false, true], decisions.Select(d => d.Delete));
        Assert.Equal(older.Path, decisions[2].Path);
    }

    [Fact]
    public async Task Retention_by_age_keeps_recent_backups_and_always_one_and_needs_a_rule()
    {
        await BackupAsync("a.sqlite");
        await BackupAsync("b.sqlite");

        Assert.All(Plan(keep: null, olderThan: TimeSpan.FromDays(1)), d => Assert.False(d.Delete));
        Assert.Equal([false, true], Plan(keep: null, olderThan: TimeSpan.Zero).Select(d => d.Delete));
        Assert.Equal(ErrorIds.RetentionRuleRequired, Assert.Throws<DbOpsException>(() => Plan(keep: null)).ErrorId);
    }

    [RootFact]
    public async Task A_deletion_that_fails_leaves_the_backup_whole_and_records_nothing()
    {
        await BackupAsync("a.sqlite");
        await BackupAsync("b.sqlite");
        using var readOnly = new ReadOnlyMount(_folder.File("backups"));
        var decision = BackupService.PlanRetention(new RetentionRequest(readOnly.Path, null, 1, null, JournalPath), NullObserver.Instance)
            .Single(d => d.Delete);

        Assert.Equal(ErrorIds.BackupDeleteFailed,
            Assert.Throws<DbOpsException>(() => BackupService.DeleteBackup(decision, JournalPath, NullObserver.Instance)).ErrorId);

        Assert.Equal(4, Directory.GetFiles(_folder.File("backups")).Length);
        Assert.Empty(Journal(JournalOperations.BackupDeleted));
    }
}

/// <summary>The same on PostgreSQL, where a copy that must stand in for a damaged original is restored into a scratch database.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresBackupCopyTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_copy_of_a_dump_restores_in_place_of_a_damaged_original()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t(id int); INSERT INTO t SELECT generate_series(1, 250);");
        var journal = _folder.File("journal.jsonl");
        var backup = await BackupService.BackupAsync(new BackupRequest(source, _folder.File("backups"), JournalPath: journal),
            NullObserver.Instance, CancellationToken.None);
        var copy = await BackupService.CopyAsync(backup.ManifestPath, _folder.File("nas"), journal, NullObserver.Instance, CancellationToken.None);
        await using (var file = new FileStream(backup.Path, FileMode.Open, FileAccess.Write))
        {
            file.Position = file.Length / 2;
            file.WriteByte(0xFF);
        }

        var original = await BackupService.VerifyAsync(backup.Path, source, null, NullObserver.Instance, CancellationToken.None);
        var copies = await BackupService.VerifyCopiesAsync(original, source, null, journal, NullObserver.Instance, CancellationToken.None);

        Assert.Equal(ErrorIds.BackupCorrupt, original.ErrorId);
        var restored = Assert.Single(copies);
        Assert.True(restored.Verified, restored.Reason);
        Assert.Equal((copy.Path, 250L), (restored.Path, restored.Tables.Single().Actual));
        Assert.Equal(0L, cluster.Scalar<long>("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dbops_verify_%'"));
    }
}
