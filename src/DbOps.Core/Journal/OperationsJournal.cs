using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;

namespace DbOps.Core.Journal;

/// <summary>The operations DbOps records in the journal.</summary>
public static class JournalOperations
{
    /// <summary>Backup-Database wrote a backup.</summary>
    public const string Backup = nameof(Backup);
    /// <summary>Export-TableArchive wrote a table archive.</summary>
    public const string ArchiveCreated = nameof(ArchiveCreated);
    /// <summary>Remove-DeprecatedTable dropped a table.</summary>
    public const string TableRemoved = nameof(TableRemoved);
    /// <summary>
    /// Remove-DeprecatedTable is about to commit a drop; <see cref="TableRemoved"/> with the same
    /// <see cref="JournalEntry.Id"/> follows. If the process died in between (or the COMMIT failed), the outcome is
    /// settled by whether the table still exists: the next removal on that database appends the TableRemoved line
    /// for a table that is gone, and a snapshot comparison counts the intent for a table that is gone.
    /// </summary>
    public const string TableRemovalStarted = nameof(TableRemovalStarted);

    // Issue 16: row moves
    /// <summary>
    /// Copy-TableData copied rows into <see cref="JournalEntry.Target"/>: Rows copied, Figures for skipped, conflicting and
    /// updated rows and the comparison's counts, Checksum of the source table, Verified when -Verify found the source contained.
    /// With -OnConflict Update, Path and Sha256 name the verified archive of the target rows it overwrote as they were before
    /// (Figures priorImageRows), and Undo puts them back.
    /// </summary>
    public const string RowsCopied = nameof(RowsCopied);


    // Issue 17: column retirement, renames, dependents
    /// <summary>Rename-Table renamed a table: <see cref="JournalEntry.Table"/> is the old name, <see cref="JournalEntry.Target"/> the new one (schema.name).</summary>
    public const string TableRenamed = nameof(TableRenamed);
    /// <summary>Remove-DeprecatedColumn dropped a column after archiving its values with the table's key.</summary>
    public const string ColumnRemoved = nameof(ColumnRemoved);
    /// <summary>
    /// Remove-DeprecatedColumn is about to commit a drop; <see cref="ColumnRemoved"/> with the same <see cref="JournalEntry.Id"/>
    /// follows. If the process died in between, the column's absence settles it: a snapshot comparison counts the intent's
    /// column archive, and the next Remove-DeprecatedColumn that drops a column of that database appends the ColumnRemoved line.
    /// </summary>
    public const string ColumnRemovalStarted = nameof(ColumnRemovalStarted);
    /// <summary>Import-TableArchive put a column archive's values back into the live table.</summary>
    public const string ColumnRestored = nameof(ColumnRestored);


    // Issue 18: row fixes, rehearsal databases
    /// <summary>Restore-Database -Create created a database and restored a backup into it; Undo is the Remove-Database line.</summary>
    public const string DatabaseCreated = nameof(DatabaseCreated);
    /// <summary>Remove-Database dropped a database (SQLite: deleted its files).</summary>
    public const string DatabaseRemoved = nameof(DatabaseRemoved);
    /// <summary>Remove-TableRow deleted rows; <see cref="JournalEntry.Path"/> is the verified archive of their prior image.</summary>
    public const string RowsRemoved = nameof(RowsRemoved);
    /// <summary>Update-TableRow changed rows; <see cref="JournalEntry.Path"/> is the verified archive of their prior image.</summary>
    public const string RowsUpdated = nameof(RowsUpdated);
    /// <summary>Import-TableArchive -Mode Upsert put a rows archive's prior image back.</summary>
    public const string RowsRestored = nameof(RowsRestored);


    // Issue 19: restores, backup tests and copies, retention, constraints, indexes
    /// <summary>Restore-Database restored a backup (Path) into a database; Undo restores the backup taken before it.</summary>
    public const string DatabaseRestored = nameof(DatabaseRestored);
    /// <summary>Test-Backup checked a backup (Path, Sha256); Verified says whether it restored with the recorded row counts.</summary>
    public const string BackupTested = nameof(BackupTested);
    /// <summary>Import-TableArchive loaded an archive (Path) into a table (Target).</summary>
    public const string ArchiveImported = nameof(ArchiveImported);
    /// <summary>Add-SafeConstraint added a constraint (Objects) and validated it against every row (Verified).</summary>
    public const string ConstraintAdded = nameof(ConstraintAdded);
    /// <summary>Add-SafeIndex built an index (Objects); Undo drops it.</summary>
    public const string IndexAdded = nameof(IndexAdded);
    /// <summary>Remove-UnusedIndex dropped an index (Objects); Undo is its CREATE INDEX.</summary>
    public const string IndexRemoved = nameof(IndexRemoved);
    /// <summary>Export-IntegrityReport wrote an integrity report (Path, Sha256) with its summary in Figures.</summary>
    public const string IntegrityChecked = nameof(IntegrityChecked);
    /// <summary>Measure-QueryPerformance compared a query with a baseline: medians and speed-up in Figures.</summary>
    public const string QueryCompared = nameof(QueryCompared);


    // Issue 19, second part: backup copies and retention
    /// <summary>Copy-Backup wrote a copy of a backup and its manifest: Path is the copy, Target the original, Sha256 checked.</summary>
    public const string BackupCopied = nameof(BackupCopied);
    /// <summary>Remove-Backup deleted a backup and its manifest under a retention rule.</summary>
    public const string BackupDeleted = nameof(BackupDeleted);

    // Issue 22: fleets

}

/// <summary>
/// One line of the operations journal: what was done to which database, when, by whom, and the artifact that
/// proves it (path, checksum). Never a password.
/// </summary>
public sealed record JournalEntry
{
    /// <summary>When the operation finished.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>What was done (see <see cref="JournalOperations"/>).</summary>
    public required string Operation { get; init; }

    /// <summary>Links an intent (<see cref="JournalOperations.TableRemovalStarted"/>, <see cref="JournalOperations.ColumnRemovalStarted"/>) to its outcome.</summary>
    public string? Id { get; init; }

    /// <summary>The database engine.</summary>
    public required DatabaseProvider Provider { get; init; }

    /// <summary>host:port for PostgreSQL; null for SQLite.</summary>
    public string? Server { get; init; }

    /// <summary>The PostgreSQL database name or the SQLite file's full path.</summary>
    public required string Database { get; init; }

    /// <summary>The table's schema, for table operations.</summary>
    public string? Schema { get; init; }

    /// <summary>The table, for table operations.</summary>
    public string? Table { get; init; }

    /// <summary>Rows involved: the table's rows, or all rows of a backup.</summary>
    public long? Rows { get; init; }

    /// <summary>The artifact: a backup file or an archive manifest.</summary>
    public string? Path { get; init; }

    /// <summary>The table's content checksum, for archives and removals.</summary>
    public string? Checksum { get; init; }

    /// <summary>The artifact file's SHA-256, when there is one file.</summary>
    public string? Sha256 { get; init; }

    /// <summary>True when the artifact was proved to restore.</summary>
    public bool Verified { get; init; }

    /// <summary>The column, for column operations (a retired column).</summary>
    public string? Column { get; init; }

    /// <summary>
    /// The other object of a two-sided operation, as schema.name: the new name of a renamed table, the target of a row
    /// move, the database a backup was restored into.
    /// </summary>
    public string? Target { get; init; }

    /// <summary>Further objects the operation touched or created: constraint and index names, dependents retired with a table.</summary>
    public IReadOnlyList<string>? Objects { get; init; }

    /// <summary>Named figures beyond <see cref="Rows"/>: seconds taken, rows skipped or in conflict, timings before and after.</summary>
    public IReadOnlyDictionary<string, double>? Figures { get; init; }

    /// <summary>What came of it: null or "Succeeded", or a word such as "Failed" or "Partial" when an entry records a failure.</summary>
    public string? Outcome { get; init; }

    /// <summary>The command that undoes the operation, where there is one (a PowerShell line a person can run).</summary>
    public string? Undo { get; init; }

    /// <summary>The database role (PostgreSQL user) that did it; null for SQLite.</summary>
    public string? Role { get; init; }

    /// <summary>The operating-system user who ran it.</summary>
    public string User { get; init; } = Environment.UserName;

    /// <summary>The machine it ran on.</summary>
    public string Host { get; init; } = Environment.MachineName;

    /// <summary>The DbOps version that wrote the entry.</summary>
    public string DbOpsVersion { get; init; } = typeof(JournalEntry).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>An entry about <paramref name="connection"/>'s database.</summary>
    public static JournalEntry For(DbOpsConnection connection, string operation) => new()
    {
        Time = DateTimeOffset.UtcNow,
        Operation = operation,
        Provider = connection.Provider,
        Server = connection.Server,
        Database = connection.Database,
        Role = connection.User,
    };

    /// <summary>True when the entry is about that database (same engine, server and name or file).</summary>
    public bool IsAbout(DatabaseProvider provider, string? server, string database) =>
        Provider == provider
        && string.Equals(Database, database, Engines.DatabaseEngines.For(provider).Inspection.DatabaseNameComparison)
        && (server is null || Server is null || string.Equals(Server, server, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// The operations journal: one JSON-lines file that every cmdlet and every later run finds without being told
/// where it is. The location is, in order: the path given by the caller, the <c>DBOPS_JOURNAL</c> environment
/// variable, or <c>DbOps/journal.jsonl</c> in the user's local data folder (~/.local/share on Linux).
/// </summary>
internal sealed class OperationsJournal
{
    public const string EnvironmentVariable = "DBOPS_JOURNAL";

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    private OperationsJournal(string path) => Path = path;

    /// <summary>The journal file's full path.</summary>
    public string Path { get; }

    /// <summary>The journal at <paramref name="path"/>, or the default one when it is null or empty.</summary>
    public static OperationsJournal Open(string? path = null) => new(System.IO.Path.GetFullPath(
        !string.IsNullOrWhiteSpace(path) ? path
        : Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
        : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "DbOps", "journal.jsonl")));

    /// <summary>
    /// Appends one entry as one line. Writers hold the file exclusively for the single write, so concurrent
    /// processes never interleave partial lines; a writer that finds the file busy waits briefly and retries.
    /// </summary>
    /// <exception cref="DbOpsException"><see cref="ErrorIds.JournalUnavailable"/> when the file cannot be written.</exception>
    public void Append(JournalEntry entry)
    {
        var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(entry, Options) + "\n");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var stream = OpenForAppend();
                stream.Write(line);
                stream.Flush(flushToDisk: true);
                return;
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && !IO.ArtifactFiles.IsDiskFull(e) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(Math.Min(200, 5 * (attempt + 1)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DbOpsException(ErrorIds.JournalUnavailable, ErrorKind.WriteError,
                    $"The operations journal '{Path}' could not be written: {e.Message} " +
                    $"Make it writable, or point ${EnvironmentVariable} (or -JournalPath) at a writable file.", Path, e);
            }
        }
    }

    /// <summary>
    /// The journal decides whether a drop lost data, so it is owner-only like every artifact: created 0600 (in a
    /// folder DbOps creates 0700), and an existing file that others may read or write is narrowed to 0600 first.
    /// </summary>
    private FileStream OpenForAppend()
    {
        var folder = System.IO.Path.GetDirectoryName(Path)!;
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 };
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
            return new FileStream(Path, options);
        }
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        options.UnixCreateMode = IO.ArtifactFiles.OwnerOnly;
        var stream = new FileStream(Path, options);
        if ((File.GetUnixFileMode(stream.SafeFileHandle) & ~IO.ArtifactFiles.OwnerOnly) != 0)
        {
            File.SetUnixFileMode(stream.SafeFileHandle, IO.ArtifactFiles.OwnerOnly);
        }
        return stream;
    }

    /// <summary>
    /// Records a finished operation. The artifact is complete whatever happens here, so a journal that cannot be
    /// written is a warning, not a failure of the operation.
    /// </summary>
    public static void Record(string? journalPath, JournalEntry entry, IOperationObserver observer)
    {
        try
        {
            Open(journalPath).Append(entry);
        }
        catch (DbOpsException e)
        {
            observer.Warning(e.Message);
        }
    }

    /// <summary>
    /// All entries in the order written. A line that does not parse (a writer killed mid-line on a file system
    /// without atomic appends) is skipped rather than hiding every entry after it.
    /// </summary>
    /// <exception cref="DbOpsException"><see cref="ErrorIds.JournalUnavailable"/> when the file cannot be read.</exception>
    public IReadOnlyList<JournalEntry> Read()
    {
        if (!File.Exists(Path))
        {
            return [];
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return ReadOnce();
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && DateTime.UtcNow < deadline)
            {
                // A writer holds the file exclusively for its one line (an advisory lock on Unix): wait for it.
                Thread.Sleep(Math.Min(200, 5 * (attempt + 1)));
            }
            catch (FileNotFoundException)
            {
                return [];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DbOpsException(ErrorIds.JournalUnavailable, ErrorKind.ResourceUnavailable,
                    $"The operations journal '{Path}' could not be read: {e.Message} " +
                    $"Make it readable, or point ${EnvironmentVariable} (or -JournalPath) at the journal to use.", Path, e);
            }
        }
    }

    private List<JournalEntry> ReadOnce()
    {
        var entries = new List<JournalEntry>();
        using var reader = new StreamReader(new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }
            try
            {
                if (JsonSerializer.Deserialize<JournalEntry>(line, Options) is { } entry)
                {
                    entries.Add(entry);
                }
            }
            catch (JsonException)
            {
                // A torn line: skip it, keep the rest.
            }
        }
        return entries;
    }

}
