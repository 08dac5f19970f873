using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Journal;
using DbOps.Core.Progress;

namespace DbOps.Core.Backup;

/// <summary>What Remove-Backup was asked to do.</summary>
/// <param name="Folder">The folder whose backups are weighed (one folder: its copies elsewhere are not touched).</param>
/// <param name="Databases">Only backups of these databases (name or SQLite path); null for every database found.</param>
/// <param name="Keep">Keep this many of each database's newest backups (at least one, also when only -OlderThan is given).</param>
/// <param name="OlderThan">Delete only backups taken longer ago than this.</param>
/// <param name="JournalPath">The operations journal to read verifications from and record deletions in; null for the default one.</param>
public sealed record RetentionRequest(string Folder, IReadOnlyList<string>? Databases, int? Keep, TimeSpan? OlderThan, string? JournalPath);

/// <summary>One backup weighed by a retention rule: deleted or kept, and why.</summary>
internal sealed record RetentionDecision(BackupManifest Manifest, string Path, string ManifestPath, bool Verified, bool Delete, string Reason);

public static partial class BackupService
{
    /// <summary>
    /// Weighs each database's backups in a folder, newest first: the newest <c>Keep</c> (at least one) and those newer
    /// than <c>OlderThan</c> stay, and so does the newest backup that passed a restore test (its manifest says so, or
    /// the journal records a verification of the same SHA-256), whatever the rule says. Changes nothing.
    /// </summary>
    /// <exception cref="DbOpsException">RetentionRuleRequired, FileNotFound or JournalUnavailable.</exception>
    internal static IReadOnlyList<RetentionDecision> PlanRetention(RetentionRequest request, IOperationObserver observer)
    {
        if (request.Keep is null && request.OlderThan is null)
        {
            throw new DbOpsException(ErrorIds.RetentionRuleRequired, ErrorKind.InvalidArgument,
                "Say which backups may go: -Keep N keeps each database's N newest, -OlderThan deletes only older ones; give either or both.");
        }
        var folder = Path.GetFullPath(request.Folder);
        if (!Directory.Exists(folder))
        {
            throw new DbOpsException(ErrorIds.FileNotFound, ErrorKind.NotFound, $"The folder '{folder}' does not exist. Give the folder that holds the backups.", folder);
        }
        var verifiedContent = OperationsJournal.Open(request.JournalPath).Read()
            .Where(e => e.Verified && e.Sha256 is not null).Select(e => e.Sha256!).ToHashSet();
        bool IsVerified(BackupManifest manifest) => manifest.VerifiedAt is not null || verifiedContent.Contains(manifest.Sha256);

        var backups = new List<(BackupManifest Manifest, string ManifestPath, string BackupPath)>();
        foreach (var manifestPath in Directory.EnumerateFiles(folder, "*" + BackupManifest.Suffix))
        {
            try
            {
                backups.Add(BackupManifest.Load(manifestPath));
            }
            catch (DbOpsException e)
            {
                observer.Warning($"Left '{manifestPath}' alone: {e.Message}");
            }
        }

        var keep = Math.Max(1, request.Keep ?? 1);
        var cutoff = DateTimeOffset.UtcNow - request.OlderThan;
        var decisions = new List<RetentionDecision>();
        foreach (var group in backups.Where(b => IsOneOf(b.Manifest, request.Databases))
                                     .GroupBy(b => (b.Manifest.Provider, b.Manifest.Server, b.Manifest.Database)))
        {
            var newestFirst = group.OrderByDescending(b => b.Manifest.CreatedAt).ToList();
            var lastVerified = LastVerifiedIntact(newestFirst, IsVerified, observer);
            for (var i = 0; i < newestFirst.Count; i++)
            {
                var (manifest, manifestPath, backupPath) = newestFirst[i];
                var keptBecause = i < keep ? $"one of the {keep} newest"
                    : cutoff is { } taken && manifest.CreatedAt >= taken ? $"taken after {taken:u}"
                    : i == lastVerified ? "the last backup that passed a restore test"
                    : null;
                decisions.Add(new RetentionDecision(manifest, backupPath, manifestPath, IsVerified(manifest), keptBecause is null,
                    keptBecause is null ? $"older than the {keep} newest{(cutoff is null ? "" : $" and taken before {cutoff:u}")}" : $"kept: {keptBecause}"));
            }
        }
        return decisions;
    }

    /// <summary>
    /// The newest verified backup whose file is still whole (there, with its manifest's size and SHA-256): a manifest left
    /// behind by a missing or damaged file must not take the place of the last backup that can really be restored.
    /// </summary>
    private static int LastVerifiedIntact(
        List<(BackupManifest Manifest, string ManifestPath, string BackupPath)> newestFirst, Func<BackupManifest, bool> isVerified,
        IOperationObserver observer)
    {
        for (var i = 0; i < newestFirst.Count; i++)
        {
            var (manifest, _, backupPath) = newestFirst[i];
            if (!isVerified(manifest))
            {
                continue;
            }
            try
            {
                RequireIntactAsync(manifest, backupPath, CancellationToken.None).GetAwaiter().GetResult();
                return i;
            }
            catch (DbOpsException e)
            {
                observer.Warning($"Not protecting '{backupPath}' as the last verified backup: {e.Message} The next verified, intact backup is kept instead.");
            }
        }
        return -1;
    }

    /// <summary>
    /// Deletes a backup and its manifest together, and journals it. The manifest is moved aside first: from then on
    /// there is no backup, and a run killed midway leaves only hidden .partial names, which the next backup or copy
    /// into the folder removes. A failure before that leaves the backup whole.
    /// </summary>
    /// <exception cref="DbOpsException">BackupDeleteFailed.</exception>
    internal static BackupRemoval DeleteBackup(RetentionDecision decision, string? journalPath, IOperationObserver observer)
    {
        var hiddenManifest = ArtifactFiles.TemporaryPathFor(decision.ManifestPath);
        var hiddenFile = ArtifactFiles.TemporaryPathFor(decision.Path);
        try
        {
            File.Move(decision.ManifestPath, hiddenManifest);
            try
            {
                if (File.Exists(decision.Path))
                {
                    File.Move(decision.Path, hiddenFile);
                }
            }
            catch
            {
                File.Move(hiddenManifest, decision.ManifestPath);
                throw;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DbOpsException(ErrorIds.BackupDeleteFailed, ErrorKind.WriteError,
                $"Could not delete the backup '{decision.Path}': {e.Message} It was left whole, with its manifest.", decision.Path, e);
        }
        ArtifactFiles.DeleteQuietly(hiddenFile);
        ArtifactFiles.DeleteQuietly(hiddenManifest);
        observer.Verbose($"Deleted {decision.Path} and its manifest ({decision.Reason}).");

        var elsewhere = RecordedLocations(decision.Manifest.Sha256, journalPath)
            .FirstOrDefault(p => !PathComparer.Equals(p, decision.Path) && File.Exists(p));
        OperationsJournal.Record(journalPath, EntryFor(decision.Manifest, JournalOperations.BackupDeleted, decision.Path) with
        {
            Verified = decision.Verified,
            Undo = elsewhere is null ? null
                : $"Copy-Backup -Path {UndoCommand.Quote(elsewhere)} -Destination {UndoCommand.Quote(Path.GetDirectoryName(decision.Path)!)}",
        }, observer);
        return new BackupRemoval(decision.Manifest, decision.Path, decision.Verified);
    }

    private static bool IsOneOf(BackupManifest manifest, IReadOnlyList<string>? databases) =>
        databases is null
        || databases.Any(d => string.Equals(d, manifest.Database, DatabaseEngines.For(manifest.Provider).Inspection.DatabaseNameComparison));
}
