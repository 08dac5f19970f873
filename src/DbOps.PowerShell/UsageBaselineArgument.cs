using DbOps.Core.Usage;

namespace DbOps.PowerShell;

/// <summary>What -Since accepts: a baseline from Start-UsageWatch, or the path of a saved one.</summary>
public sealed class UsageBaselineArgument
{
    /// <summary>Wraps a baseline object.</summary>
    public UsageBaselineArgument(UsageBaseline baseline) => Baseline = baseline;

    /// <summary>Wraps the path of a saved baseline file.</summary>
    public UsageBaselineArgument(string path) => Path = path;

    /// <summary>The baseline, when one was given.</summary>
    public UsageBaseline? Baseline { get; }

    /// <summary>The file, when a path was given.</summary>
    public string? Path { get; }

    /// <inheritdoc/>
    public override string ToString() => Baseline?.ToString() ?? Path ?? "";
}
