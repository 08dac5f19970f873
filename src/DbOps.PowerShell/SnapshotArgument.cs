using DbOps.Core.Snapshots;

namespace DbOps.PowerShell;

/// <summary>What -Before and -After accept: a snapshot from Get-DatabaseSnapshot, or the path of a saved one.</summary>
public sealed class SnapshotArgument
{
    /// <summary>Wraps a snapshot object.</summary>
    public SnapshotArgument(DatabaseSnapshot snapshot) => Snapshot = snapshot;

    /// <summary>Wraps the path of a saved snapshot file.</summary>
    public SnapshotArgument(string path) => Path = path;

    /// <summary>The snapshot, when one was given.</summary>
    public DatabaseSnapshot? Snapshot { get; }

    /// <summary>The file, when a path was given.</summary>
    public string? Path { get; }

    /// <inheritdoc/>
    public override string ToString() => Snapshot?.ToString() ?? Path ?? "";
}
