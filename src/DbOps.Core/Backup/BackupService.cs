using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using DbOps.Core.Connections;
using DbOps.Core.Databases;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.IO;
using DbOps.Core.Progress;

namespace DbOps.Core.Backup;

/// <summary>What Backup-Database was asked to do.</summary>
/// <param name="Source">The database to back up.</param>
/// <param name="Destination">The folder for the backup and its manifest (created if missing).</param>
/// <param name="Name">The backup file's name; by default the database name and a UTC time stamp.</param>
/// <param name="Verify">Restore into a scratch database and compare row counts.</param>
/// <param name="ToolPath">pg_dump/pg_restore (file or folder) to use instead of searching.</param>
/// <param name="JournalPath">The operations journal to record the backup in; null for the default one.</param>
public sealed record BackupRequest(
    DbOpsConnection Source, string Destination, string? Name = null, bool Verify = false, string? ToolPath = null, string? JournalPath = null);

/// <summary>Choices for Restore-Database.</summary>
/// <param name="Force">Replace a target that already holds tables.</param>
/// <param name="NoOwner">PostgreSQL: skip ownership and privileges (for a server without the original roles).</param>
/// <param name="JournalPath">The operations journal to record the restore (or the database -Create made) in; null for the default one.</param>
public sealed record RestoreOptions(bool Force, bool NoOwner, string? JournalPath = null)
{
    /// <summary>Create the target, which must not exist yet, with the source's encoding and locale, marked as DbOps's.</summary>
    public bool Create { get; init; }
}

/// <summary>
/// Backups that prove they restore. The steps common to both engines live here: naming, writing under a
/// temporary name, counting rows from the artifact, hashing, verifying, and the manifest written last.
/// </summary>
public static partial class BackupService
{
    /// <summary>Writes a backup of <paramref name="request"/>.Source; a failure leaves no partial file and no manifest.</summary>
    public static async Task<BackupResult> BackupAsync(BackupRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var source = request.Source;
        var engine = DatabaseEngines.For(source.Provider).Backup;
        var context = new EngineContext(observer, $"Backing up {source}", request.ToolPath, cancellationToken);
        var createdAt = DateTimeOffset.UtcNow;

        if (request.Name is { } name && !ArtifactFiles.IsPlainFileName(name))
        {
            throw new DbOpsException(ErrorIds.InvalidBackupName, ErrorKind.InvalidArgument,
                $"-Name '{name}' must be a plain file name; put the folder in -Destination.", name);
        }
        var folder = Path.GetFullPath(request.Destination);
        ArtifactFiles.EnsureWritableFolder(folder);
        foreach (var abandoned in ArtifactFiles.RemoveAbandoned(folder))
        {
            observer.Verbose($"Removed {abandoned}, left in '{folder}' by a backup whose process was killed.");
        }
        var finalPath = Path.Combine(folder, request.Name ?? DefaultFileName(source, createdAt, engine.Extension));
        var manifestPath = BackupManifest.PathFor(finalPath);
        if (File.Exists(finalPath) || File.Exists(manifestPath))
        {
            throw new DbOpsException(ErrorIds.DestinationExists, ErrorKind.AlreadyExists,
                $"A backup named '{finalPath}' already exists. Choose another -Name or -Destination; DbOps never overwrites a backup.", finalPath);
        }

        var temporary = ArtifactFiles.TemporaryPathFor(finalPath);
        var committed = false;
        try
        {
            using (ArtifactFiles.CreateOwnerOnly(temporary))
            {
                // Created empty with owner-only permissions before the engine writes into it.
            }
            context.Report("Writing the backup", 0);
            var written = await engine.WriteAsync(source, temporary, context);
            var tables = written.Tables;
            context.Report("Hashing and flushing the backup", 99);
            // Hashing (CPU) and flushing to disk (I/O) overlap: for a large SQLite copy each takes a good part of a second.
            var hashing = ArtifactFiles.Sha256Async(temporary, cancellationToken);
            ArtifactFiles.FlushToDisk(temporary);
            var manifest = new BackupManifest
            {
                Provider = source.Provider,
                Database = source.Database,
                Server = source.Server,
                User = source.User,
                ServerVersion = source.ServerVersion,
                Format = engine.Format,
                ToolVersion = written.ToolVersion,
                File = Path.GetFileName(finalPath),
                SizeBytes = new FileInfo(temporary).Length,
                Sha256 = await hashing,
                CreatedAt = createdAt,
                Tables = tables,
                Encoding = written.Locale?.Encoding,
                Collate = written.Locale?.Collate,
                Ctype = written.Locale?.Ctype,
            };

            // Verified while still under its temporary name: a process killed meanwhile leaves only a .partial file.
            BackupVerification? verification = null;
            if (request.Verify)
            {
                verification = await VerifyCoreAsync(manifest, manifestPath, temporary, source, context, reportedPath: finalPath);
                if (verification.Verified)
                {
                    manifest = manifest with { VerifiedAt = DateTimeOffset.UtcNow };
                }
            }
            ArtifactFiles.Publish(temporary, finalPath, overwrite: false);
            committed = true;
            ArtifactFiles.WriteAllTextAtomic(manifestPath, manifest.Serialize(), overwrite: false);
            observer.Verbose($"Wrote {finalPath} ({manifest.SizeBytes} bytes, {tables.Count} tables) and its manifest.");
            OperationsJournal.Record(request.JournalPath, JournalEntry.For(source, JournalOperations.Backup) with
            {
                Rows = tables.Sum(t => t.Rows),
                Path = finalPath,
                Sha256 = manifest.Sha256,
                Verified = manifest.VerifiedAt is not null,
            }, observer);
            return new BackupResult(manifest, finalPath, manifestPath, clock.Elapsed, verification, source);
        }
        catch (Exception e)
        {
            ArtifactFiles.DeleteQuietly(temporary);
            if (committed)
            {
                // No manifest means no backup: do not leave a file that looks complete.
                ArtifactFiles.DeleteQuietly(finalPath);
                ArtifactFiles.DeleteQuietly(manifestPath);
            }
            if (ArtifactFiles.IsDiskFull(e))
            {
                throw ArtifactFiles.DiskFull(folder, e);
            }
            if (e is IOException or UnauthorizedAccessException)
            {
                throw new DbOpsException(ErrorIds.BackupFailed, ErrorKind.WriteError,
                    $"Writing the backup of {source} to '{folder}' failed: {e.Message}", finalPath, e);
            }
            throw;
        }
    }

    /// <summary>
    /// Checks a backup written earlier: the file's size and SHA-256 against its manifest, then a restore into a
    /// scratch database (PostgreSQL) or an integrity check of the file (SQLite), then every table's row count.
    /// </summary>
    /// <param name="path">The backup file or its manifest.</param>
    /// <param name="server">PostgreSQL: the server to create the scratch database on; by default the one the manifest names.</param>
    /// <param name="toolPath">pg_restore (file or folder) to use instead of searching.</param>
    /// <param name="observer">Receives progress.</param>
    /// <param name="cancellationToken">Stops the check (the scratch database is still dropped).</param>
    /// <param name="journalPath">The operations journal to record the test in; null for the default one.</param>
    public static async Task<BackupVerification> VerifyAsync(
        string path, DbOpsConnection? server, string? toolPath, IOperationObserver observer, CancellationToken cancellationToken,
        string? journalPath = null)
    {
        var (manifest, manifestPath, backupPath) = BackupManifest.Load(Path.GetFullPath(path));
        var context = new EngineContext(observer, $"Verifying {backupPath}", toolPath, cancellationToken);
        var verification = await VerifyCoreAsync(manifest, manifestPath, backupPath, server, context, checkHash: true);
        RecordTest(journalPath, manifest, backupPath, server, verification, observer);
        return verification;
    }

    /// <summary>Restores a backup into <paramref name="target"/>. Refuses a target holding tables unless Force.</summary>
    /// <param name="path">The backup file or its manifest.</param>
    /// <param name="target">The database to restore into (a SQLite file that may not exist yet).</param>
    /// <param name="options">Force, NoOwner.</param>
    /// <param name="toolPath">pg_restore (file or folder) to use instead of searching.</param>
    /// <param name="observer">Receives progress.</param>
    /// <param name="cancellationToken">Stops the restore.</param>
    public static async Task<RestoreResult> RestoreAsync(
        string path, DbOpsConnection target, RestoreOptions options, string? toolPath, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (manifest, _, backupPath) = BackupManifest.Load(Path.GetFullPath(path));
        if (manifest.Provider != target.Provider)
        {
            throw new DbOpsException(ErrorIds.ProviderMismatch, ErrorKind.InvalidArgument,
                $"'{backupPath}' is a {manifest.Provider} backup and cannot be restored into {target}.", backupPath);
        }
        var engine = DatabaseEngines.For(target.Provider).Backup;
        var context = new EngineContext(observer, $"Restoring into {target}", toolPath, cancellationToken);
        await RequireIntactAsync(manifest, backupPath, cancellationToken);
        if (options.Create)
        {
            return await CreateAndRestoreAsync(manifest, backupPath, target, options, context, clock);
        }
        if (!options.Force && !await engine.IsEmptyAsync(target, context))
        {
            throw new DbOpsException(ErrorIds.TargetNotEmpty, ErrorKind.InvalidState,
                $"{target} already holds tables. Restore into an empty database, or pass -Force to replace its contents.", target.ToString());
        }
        RestoredCounts restored;
        try
        {
            restored = await engine.RestoreAsync(manifest, backupPath, target, options, context);
        }
        catch (DbException e)
        {
            throw new DbOpsException(ErrorIds.RestoreFailed, ErrorKind.OperationFailed,
                $"Restoring '{backupPath}' into {target} was interrupted by a database error ({e.Message}); the target may be " +
                "partly restored. Check it with Get-DatabaseSnapshot, or restore again with -Force.", target.ToString(), e);
        }
        context.Report("Done", 100);
        var result = new RestoreResult(target.Provider, target.Database, target.Server, backupPath, Compare(manifest, restored), clock.Elapsed)
        {
            Target = target,
        };
        RecordRestore(options.JournalPath, target, manifest, result, options.Force, observer);
        return result;
    }

    /// <summary>
    /// Restore-Database -Create: creates the target (refused, nothing touched, when it exists), marks it as DbOps's,
    /// restores into it, and journals DatabaseCreated with the Remove-Database line that undoes it. A restore that
    /// fails leaves no half-made database behind.
    /// </summary>
    private static async Task<RestoreResult> CreateAndRestoreAsync(
        BackupManifest manifest, string backupPath, DbOpsConnection target, RestoreOptions options, EngineContext context, Stopwatch clock)
    {
        var lifecycle = DatabaseEngines.For(target.Provider).Databases;
        var cancellationToken = context.CancellationToken;
        if (await lifecycle.ExistsAsync(target, cancellationToken))
        {
            throw new DbOpsException(ErrorIds.DatabaseExists, ErrorKind.AlreadyExists,
                $"-Create makes a new database, and {target} already exists; it was not touched. Name a database that does not " +
                "exist yet, or restore into this one without -Create (-Force replaces what it holds).", target.ToString());
        }
        var mark = $"{CreationMarks.Prefix} Restore-Database -Create at {DateTimeOffset.UtcNow:u} from {backupPath}";
        context.Report($"Creating {target}", 0);
        await lifecycle.CreateAsync(target, manifest.Locale, mark, cancellationToken);
        context.Observer.Verbose($"Created {target}{(manifest.Locale is { } l ? $" with the source's encoding {l.Encoding} and locale {l.Collate}" : "")}.");
        RestoredCounts restored;
        try
        {
            restored = await DatabaseEngines.For(target.Provider).Backup.RestoreAsync(manifest, backupPath, target, options, context);
        }
        catch (Exception e)
        {
            try
            {
                await lifecycle.RemoveAsync(target, endSessions: true, CancellationToken.None);
            }
            catch (Exception cleanup) when (cleanup is DbException or DbOpsException or IOException)
            {
                context.Observer.Warning($"The restore failed and {target}, which -Create had just made, could not be removed " +
                                         $"({cleanup.Message}); remove it with: {CreationMarks.RemoveLine(target)}");
            }
            if (e is DbException)
            {
                throw new DbOpsException(ErrorIds.RestoreFailed, ErrorKind.OperationFailed,
                    $"Restoring '{backupPath}' into the new database {target} failed ({e.Message}); it was removed again.", target.ToString(), e);
            }
            throw;
        }
        OperationsJournal.Record(options.JournalPath, JournalEntry.For(target, JournalOperations.DatabaseCreated) with
        {
            Target = manifest.Database,
            Rows = restored.Rows.Values.Sum(),
            Path = backupPath,
            Sha256 = manifest.Sha256,
            Undo = CreationMarks.RemoveLine(target),
        }, context.Observer);
        context.Report("Done", 100);
        return new RestoreResult(target.Provider, target.Database, target.Server, backupPath, Compare(manifest, restored), clock.Elapsed)
        {
            Created = true,
            Target = target,
        };
    }

    /// <summary>
    /// A restore changes the target, so it is journalled about the target. When it replaced contents (-Force), its
    /// undo puts back the last backup the journal holds of the target (changes made after that backup are not in it).
    /// </summary>
    private static void RecordRestore(string? journalPath, DbOpsConnection target, BackupManifest manifest, RestoreResult result,
                                      bool replaced, IOperationObserver observer)
    {
        var previous = !replaced ? null : OperationsJournal.Open(journalPath).Read().LastOrDefault(e =>
            e.Operation == JournalOperations.Backup && e.Path is not null && e.Path != result.BackupPath
            && e.IsAbout(target.Provider, target.Server, target.Database) && File.Exists(e.Path));
        OperationsJournal.Record(journalPath, JournalEntry.For(target, JournalOperations.DatabaseRestored) with
        {
            Rows = result.Tables.Sum(t => t.Actual ?? 0),
            Path = result.BackupPath,
            Sha256 = manifest.Sha256,
            Verified = result.Tables.All(t => t.Match),
            Figures = new Dictionary<string, double> { ["seconds"] = Math.Round(result.Duration.TotalSeconds, 3) },
            Outcome = result.Tables.All(t => t.Match) ? null : "CountMismatch",
            Undo = previous is null ? null : UndoCommand.Restore(target, previous.Path!),
        }, observer);
    }

    /// <summary>A backup test is journalled about the database the backup is of, whether it verified or not.</summary>
    private static void RecordTest(string? journalPath, BackupManifest manifest, string backupPath, DbOpsConnection? server,
                                   BackupVerification verification, IOperationObserver observer) =>
        OperationsJournal.Record(journalPath, new JournalEntry
        {
            Time = DateTimeOffset.UtcNow,
            Operation = JournalOperations.BackupTested,
            Provider = manifest.Provider,
            Server = manifest.Server,
            Database = manifest.Database,
            Role = server?.User ?? manifest.User,
            Rows = manifest.Tables.Sum(t => t.Rows),
            Path = backupPath,
            Sha256 = manifest.Sha256,
            Verified = verification.Verified,
            Figures = new Dictionary<string, double> { ["seconds"] = Math.Round(verification.Duration.TotalSeconds, 3) },
            Outcome = verification.Verified ? null : "Failed",
        }, observer);

    /// <summary>A file name from the database name and a UTC time stamp, e.g. sales-20261123-101500123.dump.</summary>
    internal static string DefaultFileName(DbOpsConnection source, DateTimeOffset at, string extension)
    {
        return $"{ArtifactFiles.DatabaseStem(source)}-{at.UtcDateTime.ToString("yyyyMMdd-HHmmssfff", CultureInfo.InvariantCulture)}{extension}";
    }

    /// <summary>
    /// Restores (PostgreSQL) or checks (SQLite) the file at <paramref name="filePath"/> and compares every table's
    /// rows with the manifest. Anything that stops the check — a damaged file, a server that refuses the scratch
    /// database — comes back as a failed verification with its error id, never as a lost backup.
    /// </summary>
    private static async Task<BackupVerification> VerifyCoreAsync(
        BackupManifest manifest, string manifestPath, string filePath, DbOpsConnection? server, EngineContext context,
        bool checkHash = false, string? reportedPath = null)
    {
        var clock = Stopwatch.StartNew();
        BackupVerification Result(bool verified, string? errorId, string reason, IReadOnlyList<TableComparison> tables, long orphans,
                                  IReadOnlyList<string>? skipped = null) =>
            new(manifest.Provider, manifest.Database, reportedPath ?? filePath, manifestPath, verified, errorId, reason, tables, orphans, clock.Elapsed)
            {
                Skipped = ValueList.Of(skipped ?? []),
            };

        RestoredCounts restored;
        try
        {
            if (checkHash)
            {
                context.Report("Checking the file against its manifest", 0);
                await RequireIntactAsync(manifest, filePath, context.CancellationToken);
            }
            restored = await DatabaseEngines.For(manifest.Provider).Backup.RestoreToScratchAsync(manifest, filePath, server, context);
        }
        catch (Exception e) when (Unfinished.IsFailure(e))
        {
            // A check that cannot run (a lost connection too) is a failed verification, never a lost backup.
            var error = Unfinished.Error(e, ErrorIds.BackupVerificationFailed, $"verifying '{reportedPath ?? filePath}'",
                "The backup is kept, not verified; check it later with Test-Backup.", reportedPath ?? filePath);
            return Result(false, error.ErrorId, error.Message, [], 0);
        }

        var tables = Compare(manifest, restored);
        var mismatches = tables.Where(t => !t.Match).ToList();
        context.Report("Done", 100);
        if (restored.ForeignKeyViolations > 0)
        {
            context.Observer.Warning($"The backup holds {restored.ForeignKeyViolations} row(s) that break foreign keys, as the source did " +
                                     "when it was backed up; the backup is faithful. PRAGMA foreign_key_check on the live database lists them.");
        }
        var skipped = restored.Skipped.Count == 0 ? "" : $" Left out of the scratch restore, as it could not be created there: {string.Join("; ", restored.Skipped)}.";
        if (skipped.Length > 0)
        {
            context.Observer.Warning($"{filePath}:{skipped} Every table was still restored and counted.");
        }
        return mismatches.Count == 0
            ? Result(true, null, $"SHA-256 matches; all {tables.Count} tables read back with the recorded row counts.{skipped}", tables,
                restored.ForeignKeyViolations, restored.Skipped)
            : Result(false, ErrorIds.BackupVerificationFailed,
                $"{mismatches.Count} of {tables.Count} tables differ from the manifest after restoring: " +
                string.Join(", ", mismatches.Take(5)) + skipped, tables, restored.ForeignKeyViolations, restored.Skipped);
    }

    /// <summary>The file must be there with the size and SHA-256 its manifest records.</summary>
    private static async Task RequireIntactAsync(BackupManifest manifest, string backupPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(backupPath))
        {
            throw MissingBackup(backupPath);
        }
        var size = new FileInfo(backupPath).Length;
        var sha = size == manifest.SizeBytes ? await ArtifactFiles.Sha256Async(backupPath, cancellationToken) : null;
        if (sha != manifest.Sha256)
        {
            throw new DbOpsException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                $"The backup file '{backupPath}' has changed since it was written (size {size} bytes, manifest says {manifest.SizeBytes}; " +
                "SHA-256 differs). It is damaged or was replaced; use another backup.", backupPath);
        }
    }

    private static DbOpsException MissingBackup(string backupPath) =>
        new(ErrorIds.BackupCorrupt, ErrorKind.InvalidData, $"The backup file '{backupPath}' named by its manifest is missing.", backupPath);

    private static IReadOnlyList<TableComparison> Compare(BackupManifest manifest, RestoredCounts restored) =>
        manifest.Tables.Select(t => new TableComparison(t.Schema, t.Name, t.Rows,
            restored.Rows.TryGetValue((t.Schema, t.Name), out var rows) ? rows : null)).ToList();
}
