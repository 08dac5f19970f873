namespace DbOps.Core.Moves;

/// <summary>
/// How many source rows the next batch of a copy takes. With -BatchSize, always that many. Without, batches are sized by
/// time, as pt-online-schema-change's --chunk-time and gh-ost do: a fixed row count is too small on a big, fast table
/// (a transaction, a bound query and a statement per 10,000 rows are most of the copy's overhead) and too big on a slow
/// one. The size only moves where the next batch ends; each batch still copies exactly the rows of its key range, so a
/// rerun resumes as with fixed sizes. -Parallel's writers update it after each batch while the bounds' reader reads it,
/// so it is read and written whole (Volatile).
/// </summary>
internal sealed class BatchSizer
{
    /// <summary>The first batch's rows when sized by time (the former fixed default).</summary>
    public const int Start = 10_000;

    /// <summary>Never smaller: below it the per-batch overhead is most of a batch's time whatever it takes.</summary>
    public const int Min = 1_000;

    /// <summary>
    /// Never larger: one transaction holds at most this many rows' locks and WAL. Measured, too: copying 5,000,000 rows on
    /// PostgreSQL 15, batches that grew to 130,000..320,000 rows took longer per row than batches of 100,000 (14.4 s
    /// against 11.9 s; docs/performance.md), so a fast table's batches stop growing here.
    /// </summary>
    public const int Max = 100_000;

    /// <summary>Sizes round to this many rows, so -Verbose and progress read 24,000 rather than 23,871.</summary>
    private const int Step = 1_000;

    private int _size;

    /// <param name="fixedSize">-BatchSize, or null to size by time.</param>
    /// <param name="batchTime">How long a batch should take when sized by time.</param>
    public BatchSizer(int? fixedSize, TimeSpan batchTime)
    {
        BatchTime = fixedSize is null ? batchTime : null;
        _size = fixedSize ?? Start;
    }

    /// <summary>The time a batch is sized to take, or null with a fixed -BatchSize.</summary>
    public TimeSpan? BatchTime { get; }

    /// <summary>The rows the next batch takes.</summary>
    public int Current => Volatile.Read(ref _size);

    /// <summary>
    /// After a batch of <paramref name="size"/> rows took <paramref name="elapsed"/> (its statements through COMMIT): the
    /// next batches' size. True when it changed.
    /// </summary>
    public bool Observe(int size, TimeSpan elapsed)
    {
        if (BatchTime is not { } target)
        {
            return false;
        }
        var next = Next(size, elapsed, target);
        return Interlocked.Exchange(ref _size, next) != next;
    }

    /// <summary>
    /// The size that would take about <paramref name="target"/> at the rate the last batch ran: at most half or twice the
    /// last size (one slow or quick batch, a lock wait or a cached page, does not swing it wildly), rounded to a multiple
    /// of 1,000 and kept within <see cref="Min"/>..<see cref="Max"/>.
    /// </summary>
    public static int Next(int size, TimeSpan elapsed, TimeSpan target)
    {
        var rate = elapsed > TimeSpan.Zero ? size * (target / elapsed) : double.PositiveInfinity;
        var damped = Math.Clamp(rate, size / 2.0, size * 2.0);
        var rounded = Math.Round(damped / Step, MidpointRounding.AwayFromZero) * Step;
        return (int)Math.Clamp(rounded, Min, Max);
    }
}
