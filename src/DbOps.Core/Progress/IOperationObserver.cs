namespace DbOps.Core.Progress;

/// <summary>One progress report: what is being done and how far along it is.</summary>
/// <param name="Activity">The operation, e.g. "Backup-Database sales".</param>
/// <param name="Status">The current step, e.g. "Dumping public.orders".</param>
/// <param name="PercentComplete">0 to 100, or -1 when unknown.</param>
public sealed record OperationProgress(string Activity, string Status, int PercentComplete);

/// <summary>
/// How Core tells its host what is happening. Core may call it from any thread; the PowerShell layer
/// queues the calls and writes them on the pipeline thread.
/// </summary>
public interface IOperationObserver
{
    /// <summary>Reports progress of a long step.</summary>
    void Progress(OperationProgress progress);

    /// <summary>A detail for -Verbose.</summary>
    void Verbose(string message);

    /// <summary>Something the user should know that does not stop the operation.</summary>
    void Warning(string message);
}

/// <summary>An observer that ignores everything.</summary>
public sealed class NullObserver : IOperationObserver
{
    /// <summary>The shared instance (it holds no state).</summary>
    public static readonly NullObserver Instance = new();

    /// <inheritdoc/>
    public void Progress(OperationProgress progress) { }

    /// <inheritdoc/>
    public void Verbose(string message) { }

    /// <inheritdoc/>
    public void Warning(string message) { }
}
