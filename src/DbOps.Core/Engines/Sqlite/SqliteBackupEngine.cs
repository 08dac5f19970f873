using Dapper;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DbOps.Core.Engines;

/// <summary>
/// SQLite backups through the online backup API: a page-by-page copy of a consistent snapshot that includes
/// what is still in the WAL (a plain file copy of a WAL database loses those writes).
/// </summary>
internal sealed class SqliteBackupEngine : IBackupEngine
{
    public static readonly SqliteBackupEngine Instance = new();

    /// <summary>Pages per step: small enough for smooth progress, large enough to cost nothing.</summary>
    private const int PagesPerStep = 4096;

    /// <summary>Writers on other connections restart an incremental copy; after this many, copy in one locked step.</summary>
    private const int MaxRestarts = 3;

    public string Format => "sqlite";

    public string Extension => ".sqlite";

    public async Task<WrittenBackup> WriteAsync(DbOpsConnection source, string path, EngineContext context)
    {
        try
        {
            return await CopyAndCountAsync(source, path, context);
        }
        catch (SqliteException e)
        {
            throw (e.SqliteErrorCode & 0xFF) == raw.SQLITE_FULL
                ? new IOException($"No space left on device ({e.Message})", 28)
                : new DbOpsException(ErrorIds.BackupFailed, ErrorKind.OperationFailed, $"SQLite could not back up {source}: {e.Message}", source.Database, e);
        }
    }

    private static async Task<WrittenBackup> CopyAndCountAsync(DbOpsConnection source, string path, EngineContext context)
    {
        await using (var from = await SqliteEngine.OpenFileAsync(source.Database, SqliteOpenMode.ReadOnly, context.CancellationToken))
        await using (var to = await SqliteEngine.OpenFileAsync(path, SqliteOpenMode.ReadWrite, context.CancellationToken))
        {
            // The copy is a temporary file that is flushed once before its rename, so SQLite's own journal and
            // syncs would only slow it down: a crash leaves a .partial file that is never used.
            await to.ExecuteAsync("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
            Copy(from, to, context);
            // A backup is one self-contained file: no -wal beside it, whatever mode the source uses.
            await to.ExecuteAsync("PRAGMA journal_mode = DELETE");
        }

        context.Report("Counting rows in the backup", 99);
        await using var copy = await SqliteEngine.OpenFileAsync(path, SqliteOpenMode.ReadOnly, context.CancellationToken);
        var counts = await SqliteEngine.Instance.CountAllAsync(copy, context.CancellationToken);
        return new WrittenBackup("SQLite " + source.ServerVersion, counts.Select(c => new ManifestTable(c.Schema, c.Name, c.Rows)).ToList());
    }

    /// <summary>The scratch copy is the backup itself, opened read-only so verifying cannot change it.</summary>
    public async Task<RestoredCounts> RestoreToScratchAsync(BackupManifest manifest, string path, DbOpsConnection? server, EngineContext context)
    {
        try
        {
            await using var connection = await SqliteEngine.OpenFileAsync(path, SqliteOpenMode.ReadOnly, context.CancellationToken);
            context.Report("PRAGMA integrity_check", 10);
            var problems = (await connection.QueryAsync<string>("PRAGMA integrity_check")).ToList();
            if (problems is not ["ok"])
            {
                throw new DbOpsException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                    $"PRAGMA integrity_check found {problems.Count} problem(s) in '{path}', first: {problems.FirstOrDefault()}", path);
            }
            context.Report("PRAGMA foreign_key_check", 50);
            var orphans = (await connection.QueryAsync("PRAGMA foreign_key_check")).LongCount();
            context.Report("Counting rows", 70);
            return new RestoredCounts(await SqliteEngine.Instance.CountExistingAsync(connection, manifest.TableRefs, context.CancellationToken), orphans);
        }
        catch (SqliteException e)
        {
            throw new DbOpsException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                $"The backup '{path}' cannot be read as a SQLite database: {e.Message}", path, e);
        }
    }

    public async Task<bool> IsEmptyAsync(DbOpsConnection target, EngineContext context)
    {
        if (!File.Exists(target.Database) || new FileInfo(target.Database).Length == 0)
        {
            return true;
        }
        await using var connection = await SqliteEngine.OpenFileAsync(target.Database, SqliteOpenMode.ReadOnly, context.CancellationToken);
        return (await SqliteEngine.Instance.ListTablesAsync(connection, context.CancellationToken)).Count == 0;
    }

    public async Task<RestoredCounts> RestoreAsync(BackupManifest manifest, string path, DbOpsConnection target, RestoreOptions options, EngineContext context)
    {
        var targetPath = target.Database;
        try
        {
            await CopyIntoAsync(path, targetPath, context);
        }
        catch (SqliteException e) when ((e.SqliteErrorCode & 0xFF) == raw.SQLITE_NOTADB)
        {
            throw new DbOpsException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                $"'{path}' is not a SQLite database, although its manifest's size and SHA-256 match it; {targetPath} was not changed. " +
                "Restore from another backup.", path, e);
        }
        await using var check = await SqliteEngine.OpenFileAsync(targetPath, SqliteOpenMode.ReadOnly, context.CancellationToken);
        return new RestoredCounts(await SqliteEngine.Instance.CountExistingAsync(check, manifest.TableRefs, context.CancellationToken), 0);
    }

    /// <summary>Copies the backup into the live file, or into a new file renamed into place when there is none.</summary>
    private static async Task CopyIntoAsync(string path, string targetPath, EngineContext context)
    {
        await using (var from = await SqliteEngine.OpenFileAsync(path, SqliteOpenMode.ReadOnly, context.CancellationToken))
        {
            if (File.Exists(targetPath))
            {
                // The backup API replaces the live file inside SQLite's own locking and journal: readers
                // see the old database or the new one, never half of each.
                await using var to = await SqliteEngine.OpenFileAsync(targetPath, SqliteOpenMode.ReadWrite, context.CancellationToken);
                Copy(from, to, context);
            }
            else
            {
                // DestinationNotWritable, before anything is written, instead of SQLite's "unable to open database file".
                ArtifactFiles.EnsureWritableFolder(Path.GetDirectoryName(targetPath)!);
                var temporary = ArtifactFiles.TemporaryPathFor(targetPath);
                try
                {
                    await using (var to = await SqliteEngine.OpenFileAsync(temporary, SqliteOpenMode.ReadWriteCreate, context.CancellationToken))
                    {
                        Copy(from, to, context);
                    }
                    ArtifactFiles.Commit(temporary, targetPath);
                }
                finally
                {
                    ArtifactFiles.DeleteQuietly(temporary);
                }
            }
        }
    }

    /// <summary>Copies every page of <paramref name="from"/> into <paramref name="to"/>, reporting progress between steps.</summary>
    private static void Copy(SqliteConnection from, SqliteConnection to, EngineContext context)
    {
        var backup = raw.sqlite3_backup_init(to.Handle, "main", from.Handle, "main")
            ?? throw SqliteFailure(to, raw.sqlite3_errcode(to.Handle));
        try
        {
            var restarts = 0;
            var lastRemaining = int.MaxValue;
            while (true)
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                var rc = raw.sqlite3_backup_step(backup, restarts < MaxRestarts ? PagesPerStep : -1);
                if (rc == raw.SQLITE_DONE)
                {
                    break;
                }
                if (rc is raw.SQLITE_BUSY or raw.SQLITE_LOCKED)
                {
                    Thread.Sleep(50);
                    continue;
                }
                if (rc != raw.SQLITE_OK)
                {
                    throw SqliteFailure(to, rc);
                }
                var remaining = raw.sqlite3_backup_remaining(backup);
                var total = Math.Max(1, raw.sqlite3_backup_pagecount(backup));
                if (remaining > lastRemaining)
                {
                    restarts++;
                }
                lastRemaining = remaining;
                context.Report($"Copied {total - remaining} of {total} pages", (int)(100L * (total - remaining) / total));
            }
        }
        finally
        {
            raw.sqlite3_backup_finish(backup);
        }
    }

    private static Exception SqliteFailure(SqliteConnection connection, int rc)
    {
        var message = raw.sqlite3_errstr(rc).utf8_to_string();
        return (rc & 0xFF) == raw.SQLITE_FULL
            ? new IOException($"No space left on device ({message})", 28)
            : new SqliteException(message, rc);
    }
}
