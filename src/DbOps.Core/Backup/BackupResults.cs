using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.Core.Backup;

/// <summary>Where a backup stands.</summary>
public enum BackupStatus
{
    /// <summary>Written and counted from the artifact; not restored yet.</summary>
    Completed,
    /// <summary>Restored into a scratch database and every table's row count matched.</summary>
    Verified,
    /// <summary>Written, but the verifying restore failed or counts differed.</summary>
    VerificationFailed,
}

/// <summary>A backup that Backup-Database wrote, as its manifest records it.</summary>
public sealed class BackupResult
{
    internal BackupResult(BackupManifest manifest, string path, string manifestPath, TimeSpan duration, BackupVerification? verification,
                          DbOpsConnection? source)
    {
        Provider = manifest.Provider;
        Database = manifest.Database;
        Server = manifest.Server;
        Path = path;
        ManifestPath = manifestPath;
        Format = manifest.Format;
        SizeBytes = manifest.SizeBytes;
        Sha256 = manifest.Sha256;
        Tables = ValueList.Of(manifest.Tables.Select(t => new TableRowCount(t.Schema, t.Name, t.Rows)));
        ToolVersion = manifest.ToolVersion;
        CreatedAt = manifest.CreatedAt;
        Duration = duration;
        Verification = verification;
        Source = source;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database that was backed up (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>host:port of the PostgreSQL server; null for SQLite.</summary>
    public string? Server { get; }

    /// <summary>Full path of the backup file.</summary>
    public string Path { get; }

    /// <summary>Full path of the JSON manifest beside it.</summary>
    public string ManifestPath { get; }

    /// <summary>"pg_dump-custom" or "sqlite".</summary>
    public string Format { get; }

    /// <summary>Size of the backup file in bytes.</summary>
    public long SizeBytes { get; }

    /// <summary>SHA-256 of the backup file, lower-case hex.</summary>
    public string Sha256 { get; }

    /// <summary>Each table's row count, counted from the backup file itself.</summary>
    public IReadOnlyList<TableRowCount> Tables { get; }

    /// <summary>How many tables the backup holds.</summary>
    public int TableCount => Tables.Count;

    /// <summary>Rows over all tables.</summary>
    public long TotalRows => Tables.Sum(t => t.Rows);

    /// <summary>True only when a verifying restore matched every table's row count.</summary>
    public bool Verified => Verification?.Verified == true;

    /// <summary>Completed, Verified or VerificationFailed.</summary>
    public BackupStatus Status => Verification is null ? BackupStatus.Completed
        : Verification.Verified ? BackupStatus.Verified : BackupStatus.VerificationFailed;

    /// <summary>The details of the verification, when -Verify was given.</summary>
    public BackupVerification? Verification { get; }

    /// <summary>pg_dump's version line, or the SQLite library version.</summary>
    public string ToolVersion { get; }

    /// <summary>When the backup was taken (UTC).</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>How long the backup (and verification) took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>The connection it was taken from, so Test-Backup can reuse it for a scratch restore.</summary>
    internal DbOpsConnection? Source { get; }

    /// <inheritdoc/>
    public override string ToString() => Path;
}

/// <summary>One table's row count as recorded in the manifest and as found after restoring.</summary>
public sealed class TableComparison
{
    internal TableComparison(string schema, string name, long expected, long? actual)
    {
        Schema = schema;
        Name = name;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The table's schema.</summary>
    public string Schema { get; }

    /// <summary>The table's name.</summary>
    public string Name { get; }

    /// <summary>schema.name (SQLite: name).</summary>
    public string Table => new TableRef(Schema, Name).ToString();

    /// <summary>Rows the manifest records.</summary>
    public long Expected { get; }

    /// <summary>Rows found after restoring; null when the table was missing.</summary>
    public long? Actual { get; }

    /// <summary>True when both counts are equal.</summary>
    public bool Match => Actual == Expected;

    /// <inheritdoc/>
    public override string ToString() => $"{Table}: {Expected} -> {(Actual?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "missing")}";
}

/// <summary>Whether a backup file is intact and restores to the row counts its manifest records.</summary>
public sealed class BackupVerification
{
    internal BackupVerification(DatabaseProvider provider, string database, string path, string manifestPath, bool verified,
                                string? errorId, string reason, IReadOnlyList<TableComparison> tables, long foreignKeyViolations,
                                TimeSpan duration)
    {
        Provider = provider;
        Database = database;
        Path = path;
        ManifestPath = manifestPath;
        Verified = verified;
        ErrorId = errorId;
        Reason = reason;
        Tables = ValueList.Of(tables);
        ForeignKeyViolations = foreignKeyViolations;
        Duration = duration;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database the backup was taken from.</summary>
    public string Database { get; }

    /// <summary>The backup file.</summary>
    public string Path { get; }

    /// <summary>Its manifest.</summary>
    public string ManifestPath { get; }

    /// <summary>True when the file is intact, restores, and every table's count matches.</summary>
    public bool Verified { get; }

    /// <summary>Verified or Failed.</summary>
    public string Status => Verified ? "Verified" : "Failed";

    /// <summary>Why verification failed (BackupCorrupt, BackupVerificationFailed, ...); null when verified.</summary>
    public string? ErrorId { get; }

    /// <summary>What was checked, or what failed.</summary>
    public string Reason { get; }

    /// <summary>Each table: recorded count against restored count.</summary>
    public IReadOnlyList<TableComparison> Tables { get; }

    /// <summary>Tables whose counts differ or that are missing.</summary>
    public IReadOnlyList<TableComparison> Mismatches => Tables.Where(t => !t.Match).ToList();

    /// <summary>
    /// SQLite: rows that PRAGMA foreign_key_check reports. A faithful backup of data with orphans holds the same
    /// orphans, so this is reported (and warned about) but does not fail verification.
    /// </summary>
    public long ForeignKeyViolations { get; }

    /// <summary>
    /// What the verification left out, and why: PostgreSQL extensions the scratch database's user may not create
    /// (e.g. pg_stat_statements without a superuser). Every table was still restored and counted.
    /// </summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];

    /// <summary>How long verification took.</summary>
    public TimeSpan Duration { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Path}: {Status}";
}

/// <summary>A restore that Restore-Database completed.</summary>
public sealed class RestoreResult
{
    internal RestoreResult(DatabaseProvider provider, string database, string? server, string backupPath,
                           IReadOnlyList<TableComparison> tables, TimeSpan duration)
    {
        Provider = provider;
        Database = database;
        Server = server;
        BackupPath = backupPath;
        Tables = ValueList.Of(tables);
        Duration = duration;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The target database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>host:port of the target server; null for SQLite.</summary>
    public string? Server { get; }

    /// <summary>The backup that was restored.</summary>
    public string BackupPath { get; }

    /// <summary>Each table's count in the manifest and in the restored target.</summary>
    public IReadOnlyList<TableComparison> Tables { get; }

    /// <summary>How many tables were restored.</summary>
    public int TableCount => Tables.Count;

    /// <summary>Rows counted in the restored target.</summary>
    public long TotalRows => Tables.Sum(t => t.Actual ?? 0);

    /// <summary>Restored when every count matches the manifest, CountMismatch otherwise.</summary>
    public string Status => Tables.All(t => t.Match) ? "Restored" : "CountMismatch";

    /// <summary>How long the restore took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>True when -Create made the database for this restore (and marked it, so Remove-Database may drop it).</summary>
    public bool Created { get; init; }

    /// <summary>The restored database, so the result can be piped to Remove-Database.</summary>
    internal DbOpsConnection? Target { get; init; }

    /// <inheritdoc/>
    public override string ToString() => $"{Database}: {Status}";
}
