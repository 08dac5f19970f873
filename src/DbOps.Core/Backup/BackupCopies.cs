using System.Diagnostics;
using System.Security.Cryptography;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Journal;
using DbOps.Core.Progress;

namespace DbOps.Core.Backup;

/// <summary>
/// Backups kept in several places: each copy is written like a backup (temporary name, flushed, renamed, its
/// manifest last), proved byte-identical to the manifest's SHA-256, and journalled, so Test-Backup can find it again.
/// </summary>
public static partial class BackupService
{
    private static readonly StringComparer PathComparer = OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    /// <summary>
    /// Copies the backup at <paramref name="path"/> (the file or its manifest) and its manifest into
    /// <paramref name="destination"/>, under the same name. A failure leaves nothing there.
    /// </summary>
    /// <exception cref="DbOpsException">
    /// DestinationNotWritable, InsufficientDiskSpace, DestinationExists, BackupCorrupt (the original no longer matches
    /// its manifest) or BackupCopyFailed.
    /// </exception>
    public static async Task<BackupCopy> CopyAsync(
        string path, string destination, string? journalPath, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var (manifest, manifestPath, backupPath) = BackupManifest.Load(Path.GetFullPath(path));
        var folder = Path.GetFullPath(destination);
        ArtifactFiles.EnsureWritableFolder(folder);
        foreach (var abandoned in ArtifactFiles.RemoveAbandoned(folder))
        {
            observer.Verbose($"Removed {abandoned}, left in '{folder}' by a copy or backup whose process was killed.");
        }
        // The same file name, so the copied manifest (which names its file relative to itself) needs no change.
        var copyPath = Path.Combine(folder, manifest.File);
        var copyManifestPath = BackupManifest.PathFor(copyPath);
        if (File.Exists(copyPath) || File.Exists(copyManifestPath))
        {
            throw new DbOpsException(ErrorIds.DestinationExists, ErrorKind.AlreadyExists,
                $"A backup named '{copyPath}' already exists (the original's own folder, or an earlier copy). Choose another -Destination; " +
                "DbOps never overwrites a backup.", copyPath);
        }
        if (!File.Exists(backupPath))
        {
            throw MissingBackup(backupPath);
        }

        var temporary = ArtifactFiles.TemporaryPathFor(copyPath);
        var committed = false;
        try
        {
            observer.Progress(new OperationProgress($"Copying {backupPath}", $"to {folder}", 0));
            if (await CopyHashingAsync(backupPath, temporary, cancellationToken) != manifest.Sha256)
            {
                throw new DbOpsException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                    $"The backup file '{backupPath}' no longer matches the SHA-256 its manifest records; it was not copied. Copy another " +
                    "copy of it, or take a new backup.", backupPath);
            }
            // Read back what landed, so a copy is only ever kept when its bytes are the ones the manifest vouches for.
            if (await ArtifactFiles.Sha256Async(temporary, cancellationToken) != manifest.Sha256)
            {
                throw new DbOpsException(ErrorIds.BackupCopyFailed, ErrorKind.WriteError,
                    $"The copy written to '{folder}' read back with a different SHA-256 from the backup's manifest; it was not kept. " +
                    "Check that storage, or copy to another -Destination.", copyPath);
            }
            ArtifactFiles.Publish(temporary, copyPath, overwrite: false);
            committed = true;
            ArtifactFiles.WriteAllTextAtomic(copyManifestPath, await File.ReadAllTextAsync(manifestPath, cancellationToken), overwrite: false);
        }
        catch (Exception e)
        {
            ArtifactFiles.DeleteQuietly(temporary);
            if (committed)
            {
                // No manifest means no backup: do not leave a file that looks complete.
                ArtifactFiles.DeleteQuietly(copyPath);
                ArtifactFiles.DeleteQuietly(copyManifestPath);
            }
            if (ArtifactFiles.IsDiskFull(e))
            {
                throw ArtifactFiles.DiskFull(folder, e);
            }
            if (e is IOException or UnauthorizedAccessException)
            {
                throw new DbOpsException(ErrorIds.BackupCopyFailed, ErrorKind.WriteError,
                    $"Copying '{backupPath}' to '{folder}' failed: {e.Message} Nothing was kept there.", copyPath, e);
            }
            throw;
        }
        observer.Verbose($"Copied {backupPath} to {copyPath} ({manifest.SizeBytes} bytes, SHA-256 checked) with its manifest.");
        OperationsJournal.Record(journalPath, EntryFor(manifest, JournalOperations.BackupCopied, copyPath) with
        {
            Target = backupPath,
            Verified = manifest.VerifiedAt is not null,
            Undo = $"Remove-Item -LiteralPath {UndoCommand.Quote(copyPath)}, {UndoCommand.Quote(copyManifestPath)}",
        }, observer);
        return new BackupCopy(manifest, copyPath, copyManifestPath, backupPath, clock.Elapsed);
    }

    /// <summary>
    /// Checks every other place the journal records for the backup that <paramref name="original"/> checked (its
    /// original and its copies, found by SHA-256, less those Remove-Backup deleted). Each copy's manifest must equal the
    /// original's and its file must have the recorded SHA-256; then it shares the original's verdict when that verified,
    /// and is restore-tested itself when not, since an intact copy is what saves a damaged original.
    /// </summary>
    public static async Task<IReadOnlyList<BackupVerification>> VerifyCopiesAsync(
        BackupVerification original, DbOpsConnection? server, string? toolPath, string? journalPath, IOperationObserver observer,
        CancellationToken cancellationToken)
    {
        var (manifest, _, backupPath) = BackupManifest.Load(original.ManifestPath);
        var results = new List<BackupVerification>();
        foreach (var location in RecordedLocations(manifest.Sha256, journalPath).Where(p => !PathComparer.Equals(p, backupPath)))
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var (copyManifest, copyManifestPath, copyPath) = BackupManifest.Load(location);
                if (copyManifest.Serialize() != manifest.Serialize())
                {
                    throw new DbOpsException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                        $"The manifest of the copy '{location}' differs from the original's ('{original.ManifestPath}'): it was edited or " +
                        "replaced. Delete that copy and copy the backup again with Copy-Backup.", location);
                }
                if (!original.Verified)
                {
                    results.Add(await VerifyAsync(copyPath, server, toolPath, observer, cancellationToken, journalPath));
                    continue;
                }
                await RequireIntactAsync(copyManifest, copyPath, cancellationToken);
                results.Add(new BackupVerification(manifest.Provider, manifest.Database, copyPath, copyManifestPath, verified: true, null,
                    $"A copy of '{backupPath}': its SHA-256 and manifest match the original's, which verified.", original.Tables,
                    original.ForeignKeyViolations, clock.Elapsed) { Skipped = original.Skipped });
            }
            catch (DbOpsException e)
            {
                results.Add(new BackupVerification(manifest.Provider, manifest.Database, location, BackupManifest.PathFor(location), false,
                    e.ErrorId, e.Message, [], 0, clock.Elapsed));
            }
        }
        return results;
    }

    /// <summary>Where the journal says a backup with this SHA-256 was written or copied, and not deleted since, in order.</summary>
    internal static IReadOnlyList<string> RecordedLocations(string sha256, string? journalPath)
    {
        var locations = new List<string>();
        // Only a deletion takes a location away: a restore test, restore or creation from it leaves the file where it was.
        foreach (var entry in OperationsJournal.Open(journalPath).Read().Where(e => e.Sha256 == sha256 && e.Path is not null))
        {
            if (entry.Operation is JournalOperations.Backup or JournalOperations.BackupCopied or JournalOperations.BackupDeleted)
            {
                locations.RemoveAll(p => PathComparer.Equals(p, entry.Path));
            }
            if (entry.Operation is JournalOperations.Backup or JournalOperations.BackupCopied)
            {
                locations.Add(entry.Path!);
            }
        }
        return locations;
    }

    /// <summary>Copies a file into a new owner-only file, flushed to disk; returns the SHA-256 of the bytes read.</summary>
    private static async Task<string> CopyHashingAsync(string from, string to, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
        await using var target = ArtifactFiles.CreateOwnerOnly(to, bufferSize: 0);
        var buffer = new byte[4 << 20];
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
        target.Flush(flushToDisk: true);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>A journal entry about the backup a manifest describes, at <paramref name="path"/>.</summary>
    private static JournalEntry EntryFor(BackupManifest manifest, string operation, string path) => new()
    {
        Time = DateTimeOffset.UtcNow,
        Operation = operation,
        Provider = manifest.Provider,
        Server = manifest.Server,
        Database = manifest.Database,
        Path = path,
        Sha256 = manifest.Sha256,
        Rows = manifest.Tables.Sum(t => t.Rows),
    };
}
