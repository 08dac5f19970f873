using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Progress;

namespace DbOps.Core.Engines;

/// <summary>What every engine call needs besides its arguments.</summary>
internal sealed record EngineContext(IOperationObserver Observer, string Activity, string? ToolPath, CancellationToken CancellationToken)
{
    public void Report(string status, int percent) => Observer.Progress(new OperationProgress(Activity, status, percent));
}

/// <summary>A backup file just written: the tool that wrote it, the rows it holds per table, and the source's locale (PostgreSQL).</summary>
internal sealed record WrittenBackup(string ToolVersion, IReadOnlyList<ManifestTable> Tables)
{
    public DatabaseLocale? Locale { get; init; }
}

/// <summary>The result of restoring a backup somewhere and counting what arrived; Skipped: what was left out, and why.</summary>
internal sealed record RestoredCounts(IReadOnlyDictionary<(string Schema, string Name), long> Rows, long ForeignKeyViolations)
{
    public IReadOnlyList<string> Skipped { get; init; } = [];
}

/// <summary>
/// The engine-specific half of backups: how to write an artifact, count rows from it, and restore it.
/// BackupService holds the half that is the same for both (naming, atomic files, manifests, comparison).
/// </summary>
internal interface IBackupEngine
{
    /// <summary>Written into the manifest, e.g. "pg_dump-custom".</summary>
    string Format { get; }

    /// <summary>The backup file's extension, with the dot.</summary>
    string Extension { get; }

    /// <summary>
    /// Writes a consistent backup of <paramref name="source"/> to an existing empty file, and counts every
    /// table's rows by reading what was written (the artifact, never the live database).
    /// </summary>
    Task<WrittenBackup> WriteAsync(DbOpsConnection source, string path, EngineContext context);

    /// <summary>Restores into a scratch place (dropped afterwards) and counts the tables the manifest names.</summary>
    Task<RestoredCounts> RestoreToScratchAsync(BackupManifest manifest, string path, DbOpsConnection? server, EngineContext context);

    /// <summary>True when the target holds no user tables (a missing SQLite file counts as empty).</summary>
    Task<bool> IsEmptyAsync(DbOpsConnection target, EngineContext context);

    /// <summary>Restores into <paramref name="target"/>, replacing what is there; counts the manifest's tables.</summary>
    Task<RestoredCounts> RestoreAsync(BackupManifest manifest, string path, DbOpsConnection target, RestoreOptions options, EngineContext context);
}
