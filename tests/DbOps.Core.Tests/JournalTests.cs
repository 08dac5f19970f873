using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Journal;
using DbOps.Core.Progress;

namespace DbOps.Core.Tests;

public sealed class JournalTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static JournalEntry Entry(int i) => new()
    {
        Time = DateTimeOffset.UtcNow, Operation = JournalOperations.ArchiveCreated, Provider = DatabaseProvider.SQLite,
        Database = "/data/app.db", Table = $"table_{i}", Rows = i, Checksum = new string('c', 64), Verified = true,
    };

    [Fact]
    public async Task Concurrent_writers_never_interleave_partial_lines()
    {
        var journal = OperationsJournal.Open(_folder.File("journal.jsonl"));

        await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => journal.Append(Entry(i)))));

        var entries = journal.Read();
        Assert.Equal(400, File.ReadAllLines(journal.Path).Length);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => $"table_{i}"), entries.Select(e => e.Table).Order(StringComparer.Ordinal).OrderBy(t => int.Parse(t![6..])));
        Assert.All(entries, e => Assert.Equal(Environment.UserName, e.User));
    }

    [Fact]
    public void The_journal_is_owner_only_when_created_and_narrowed_when_it_was_not()
    {
        var journal = OperationsJournal.Open(_folder.File(Path.Combine("new-folder", "journal.jsonl")));
        journal.Append(Entry(1));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(journal.Path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(journal.Path)!));

        var open = _folder.File("open.jsonl");
        File.WriteAllText(open, "");
        File.SetUnixFileMode(open, (UnixFileMode)0b110_110_110);   // 0666: what umask 000 gives
        OperationsJournal.Open(open).Append(Entry(2));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(open));
    }

    [Fact]
    public void A_torn_line_is_skipped_and_the_entries_after_it_are_read()
    {
        var journal = OperationsJournal.Open(_folder.File("journal.jsonl"));
        journal.Append(Entry(1));
        File.AppendAllText(journal.Path, "{\"time\":\"2026-01-01T00:00:00Z\",\"opera");
        File.AppendAllText(journal.Path, "\n");
        journal.Append(Entry(2));

        Assert.Equal(["table_1", "table_2"], journal.Read().Select(e => e.Table));
    }

    [Fact]
    public void The_default_journal_comes_from_the_environment_variable_then_the_user_data_folder()
    {
        Assert.Equal(Path.GetFullPath(Environment.GetEnvironmentVariable(OperationsJournal.EnvironmentVariable)!), OperationsJournal.Open().Path);
        Assert.Equal(_folder.File("given.jsonl"), OperationsJournal.Open(_folder.File("given.jsonl")).Path);
    }

    [Fact]
    public void An_unwritable_journal_is_a_clear_error()
    {
        var journal = OperationsJournal.Open(Path.Combine(_folder.File("a-file"), "journal.jsonl"));
        File.WriteAllText(_folder.File("a-file"), "not a folder");

        var error = Assert.Throws<Errors.DbOpsException>(() => journal.Append(Entry(1)));
        Assert.Equal(Errors.ErrorIds.JournalUnavailable, error.ErrorId);
    }

    [Fact]
    public async Task A_backup_is_recorded_with_its_path_hash_rows_and_verification()
    {
        var source = await Sqlite.GoalsTrackerAsync(_folder);
        var journalPath = _folder.File("ops.jsonl");

        var result = await BackupService.BackupAsync(
            new BackupRequest(source, _folder.File("backups"), Verify: true, JournalPath: journalPath), NullObserver.Instance, CancellationToken.None);

        var entry = Assert.Single(OperationsJournal.Open(journalPath).Read());
        Assert.Equal((JournalOperations.Backup, result.Path, result.Sha256, true), (entry.Operation, entry.Path, entry.Sha256, entry.Verified));
        Assert.Equal(200 + 2000 + 44 + 6000 + 350, entry.Rows);
        Assert.True(entry.IsAbout(DatabaseProvider.SQLite, null, source.Database));
    }
}
