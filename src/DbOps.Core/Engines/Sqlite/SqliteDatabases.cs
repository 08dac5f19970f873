using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DbOps.Core.Engines;

/// <summary>
/// SQLite's half of <see cref="IDatabaseLifecycle"/>: a database is a file. The mark is a sidecar file,
/// <c>&lt;file&gt;.dbops-created</c>, holding the mark's text. Not a mark inside the file: the restored pages must stay
/// exactly the backup's, so a snapshot of the copy compares cleanly with one of its source, and application_id and
/// user_version belong to the application. The sidecar travels with the file's name, and Remove-Database deletes it
/// with the file.
/// </summary>
internal sealed class SqliteDatabases : IDatabaseLifecycle
{
    public static readonly SqliteDatabases Instance = new();

    public const string MarkSuffix = ".dbops-created";

    /// <summary>The files SQLite keeps beside a database while it is in use or after a crash.</summary>
    private static readonly string[] Siblings = ["-wal", "-shm", "-journal"];

    public Task<bool> ExistsAsync(DbOpsConnection target, CancellationToken cancellationToken) => Task.FromResult(File.Exists(target.Database));

    public Task CreateAsync(DbOpsConnection target, DatabaseLocale? locale, string mark, CancellationToken cancellationToken)
    {
        ArtifactFiles.EnsureWritableFolder(Path.GetDirectoryName(target.Database)!);
        try
        {
            // An empty file is an empty SQLite database; CreateNew claims the name, or fails if someone just took it.
            using (new FileStream(target.Database, FileMode.CreateNew, FileAccess.Write))
            {
            }
        }
        catch (IOException e) when (File.Exists(target.Database))
        {
            throw new DbOpsException(ErrorIds.DatabaseExists, ErrorKind.AlreadyExists,
                $"{target} was created by someone else a moment ago; it was not touched. Choose another path.", target.Database, e);
        }
        File.WriteAllText(target.Database + MarkSuffix, mark + "\n");
        return Task.CompletedTask;
    }

    public Task<string?> CreationMarkAsync(DbOpsConnection target, CancellationToken cancellationToken)
    {
        var sidecar = target.Database + MarkSuffix;
        var mark = File.Exists(target.Database) && File.Exists(sidecar) ? File.ReadAllText(sidecar).Trim() : null;
        // Any file can carry the name; only DbOps's own text is a mark.
        return Task.FromResult(mark?.StartsWith(Databases.CreationMarks.Prefix, StringComparison.Ordinal) == true ? mark : null);
    }

    public async Task<IReadOnlyList<string>> RemoveAsync(DbOpsConnection target, bool endSessions, CancellationToken cancellationToken)
    {
        if (!endSessions && File.Exists(target.Database) && new FileInfo(target.Database).Length > 0)
        {
            await RequireUnusedAsync(target, cancellationToken);
        }
        var removed = new List<string>();
        foreach (var file in Siblings.Select(s => target.Database + s).Prepend(target.Database).Append(target.Database + MarkSuffix))
        {
            if (File.Exists(file))
            {
                File.Delete(file);
                removed.Add(file);
            }
        }
        return removed;
    }

    /// <summary>
    /// SQLite cannot list who has a file open. An exclusive lock taken without waiting shows whether another connection
    /// is writing, or reading in rollback-journal mode; a WAL reader takes no such lock, so a non-empty -wal file (left
    /// while a connection is open, or by one that crashed) counts as use too. That is the use DbOps can see.
    /// </summary>
    private static async Task RequireUnusedAsync(DbOpsConnection target, CancellationToken cancellationToken)
    {
        var wal = new FileInfo(target.Database + "-wal");
        if (wal.Exists && wal.Length > 0)
        {
            throw new DbOpsException(ErrorIds.DatabaseHasSessions, ErrorKind.InvalidState,
                $"{target} has a write-ahead log ('{wal.FullName}'): a connection has it open, or one ended without closing it, and it was not " +
                "deleted. Close it, or pass -EndSessions to delete the files anyway.", target.Database);
        }
        await using var connection = await SqliteEngine.OpenFileAsync(target.Database, SqliteOpenMode.ReadWrite, cancellationToken);
        await connection.ExecuteAsync("PRAGMA busy_timeout = 0");
        try
        {
            await connection.ExecuteAsync("BEGIN EXCLUSIVE; ROLLBACK");
        }
        catch (SqliteException e) when ((e.SqliteErrorCode & 0xFF) is raw.SQLITE_BUSY or raw.SQLITE_LOCKED)
        {
            throw new DbOpsException(ErrorIds.DatabaseHasSessions, ErrorKind.InvalidState,
                $"{target} is in use by another connection (it holds a lock on the file) and was not deleted. Close it, or pass " +
                "-EndSessions to delete the files anyway (a process that has them open keeps its copy until it closes them).",
                target.Database, e);
        }
    }
}
