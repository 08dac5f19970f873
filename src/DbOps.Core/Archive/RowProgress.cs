using System.Diagnostics;

namespace DbOps.Core.Archive;

/// <summary>Reports progress at most about four times a second.</summary>
internal sealed class RowProgress(long expected, Action<long> report)
{
    private readonly Stopwatch _since = Stopwatch.StartNew();

    public long Expected { get; } = expected;

    public void Update(long rows)
    {
        if (_since.ElapsedMilliseconds >= 250)
        {
            _since.Restart();
            report(rows);
        }
    }
}
