using DbOps.Core.Connections;

namespace DbOps.Core.Backup;

/// <summary>A copy of a backup that Copy-Backup wrote and checked against the backup's manifest.</summary>
public sealed class BackupCopy
{
    internal BackupCopy(BackupManifest manifest, string path, string manifestPath, string original, TimeSpan duration)
    {
        Provider = manifest.Provider;
        Database = manifest.Database;
        Server = manifest.Server;
        Path = path;
        ManifestPath = manifestPath;
        Original = original;
        SizeBytes = manifest.SizeBytes;
        Sha256 = manifest.Sha256;
        CreatedAt = manifest.CreatedAt;
        Duration = duration;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database that was backed up (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>host:port of the PostgreSQL server; null for SQLite.</summary>
    public string? Server { get; }

    /// <summary>Full path of the copy.</summary>
    public string Path { get; }

    /// <summary>Full path of the copy's manifest.</summary>
    public string ManifestPath { get; }

    /// <summary>The backup file it was copied from.</summary>
    public string Original { get; }

    /// <summary>Size in bytes.</summary>
    public long SizeBytes { get; }

    /// <summary>SHA-256 of the copy, read back after writing: the manifest's.</summary>
    public string Sha256 { get; }

    /// <summary>When the backup itself was taken (UTC).</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Always Copied: a copy that fails is an error, and nothing of it is kept.</summary>
    public string Status => "Copied";

    /// <summary>How long the copy took.</summary>
    public TimeSpan Duration { get; }

    /// <inheritdoc/>
    public override string ToString() => Path;
}

/// <summary>A backup that Remove-Backup deleted, with its manifest.</summary>
public sealed class BackupRemoval
{
    internal BackupRemoval(BackupManifest manifest, string path, bool verified)
    {
        Provider = manifest.Provider;
        Database = manifest.Database;
        Server = manifest.Server;
        Path = path;
        SizeBytes = manifest.SizeBytes;
        Sha256 = manifest.Sha256;
        CreatedAt = manifest.CreatedAt;
        Verified = verified;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database that was backed up (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>host:port of the PostgreSQL server; null for SQLite.</summary>
    public string? Server { get; }

    /// <summary>Full path of the deleted backup file (its manifest went with it).</summary>
    public string Path { get; }

    /// <summary>Size in bytes.</summary>
    public long SizeBytes { get; }

    /// <summary>SHA-256 the manifest recorded.</summary>
    public string Sha256 { get; }

    /// <summary>When the backup was taken (UTC).</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>True when it had passed a restore test (a newer verified backup was kept).</summary>
    public bool Verified { get; }

    /// <summary>Always Deleted.</summary>
    public string Status => "Deleted";

    /// <inheritdoc/>
    public override string ToString() => Path;
}
