using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Progress;

namespace DbOps.Core.Moves;

/// <summary>
/// Compare-TableData across two databases (reladiff's method): the table is cut in key ranges and each database counts
/// and checksums the rows of every range in one grouped statement, both databases at once; ranges that agree are
/// matched without shipping a row, ranges that differ are cut again by the keys of the side with more rows, and ranges
/// of at most <see cref="LeafRows"/> rows are fetched from both sides and compared here, value by value, with the
/// type-aware equality of <see cref="ValuesEqual"/>. Both sides are read in read-only snapshots.
/// <para>With -Parallel N (issue 22) the first level's parts, the whole table, are read in N contiguous groups of parts,
/// each group's statement on its own connection, all of a side's connections in that side's one snapshot (PostgreSQL:
/// exported by the first, joined by the others), so the result is the table at one moment as over one connection. A
/// side whose engine cannot share a snapshot (SQLite) reads that level over its one connection, with a warning. Deeper
/// levels stay on the first connection: they read only the parts that differ.</para>
/// </summary>
internal static class RangeComparer
{
    /// <summary>A differing range this small is fetched and compared row by row.</summary>
    private const int LeafRows = 64;

    /// <summary>
    /// How many parts a range is cut into. Many: all parts cost one statement per side, and a part that differs is read
    /// again, so smaller parts around a few differences mean fewer rows read twice.
    /// </summary>
    private const int Parts = 256;

    private const int SampleCount = 10;

    public static async Task<TableComparison> CompareAsync(TableMap map, int parallel, IOperationObserver observer, Stopwatch clock,
        CancellationToken cancellationToken)
    {
        var sourceEngine = DatabaseEngines.For(map.Source);
        var targetEngine = DatabaseEngines.For(map.TargetDatabase!);
        await using var sourceSession = await sourceEngine.OpenReadOnlyAsync(map.Source, cancellationToken);
        await using var targetSession = await targetEngine.OpenReadOnlyAsync(map.TargetDatabase!, cancellationToken);
        var resolved = await ResolvedMap.ResolveAsync(map, sourceSession.Connection, forCopy: false, cancellationToken, targetSession.Connection);
        sourceEngine.Moves.PrepareChecksums(sourceSession.Connection);
        targetEngine.Moves.PrepareChecksums(targetSession.Connection);
        await using var sourceSnapshot = await sourceEngine.BeginSnapshotAsync(sourceSession.Connection, cancellationToken);
        await using var targetSnapshot = await targetEngine.BeginSnapshotAsync(targetSession.Connection, cancellationToken);
        var source = new Side(resolved.Source, sourceSession.Connection, sourceSnapshot);
        var target = new Side(resolved.Target, targetSession.Connection, targetSnapshot);
        await MoveSql.RequireUsableKeyAsync(resolved.Source, "source", source.Connection, source.Transaction, cancellationToken);
        await MoveSql.RequireUsableKeyAsync(resolved.Target, "target", target.Connection, target.Transaction, cancellationToken);

        var run = new Run(resolved, source, target);
        var (sourceRows, targetRows) = await run.CountsAsync(cancellationToken);
        observer.Verbose($"Comparing {sourceRows} source rows with {targetRows} target rows in key ranges.");
        // The other connections join after the counts: whatever commits meanwhile, they read the moment the counts read.
        await using var sourceReaders = await Readers.JoinAsync(sourceEngine, map.Source, source, parallel, cancellationToken);
        await using var targetReaders = await Readers.JoinAsync(targetEngine, map.TargetDatabase!, target, parallel, cancellationToken);
        WarnIfNotParallel(resolved, parallel, sourceReaders, targetReaders, observer);
        // The whole table is split at once: a checksum of it alone would be read again as soon as one row differs.
        await run.SplitAsync(null, null, sourceRows, targetRows, sourceReaders.Sides, targetReaders.Sides, observer, cancellationToken);
        return run.Result(sourceRows, targetRows, clock.Elapsed);
    }

    private static void WarnIfNotParallel(ResolvedMap map, int parallel, Readers source, Readers target, IOperationObserver observer)
    {
        if (parallel <= 1)
        {
            return;
        }
        var (s, t) = (source.WhyNot, target.WhyNot);
        if (s is not null && t is not null)
        {
            observer.Warning($"{map.Source.Name} is compared over one connection per side, not {parallel}: {(s == t ? s : $"source: {s}; target: {t}")}.");
        }
        else if (s is not null || t is not null)
        {
            observer.Warning($"{map.Source.Name} is compared over one connection on the {(s is null ? "target" : "source")} side, not {parallel} " +
                             $"(the {(s is null ? "source" : "target")} side uses {parallel}): {s ?? t}.");
        }
        else
        {
            observer.Verbose($"The first key ranges are read over {parallel} connections per side, each side's in one snapshot.");
        }
    }

    /// <summary>
    /// A side's connections for the first level's groups of parts (issue 22): its own first, then up to parallel - 1 more
    /// that joined its snapshot; only its own when its engine cannot share a snapshot (<see cref="WhyNot"/> says why).
    /// </summary>
    private sealed class Readers : IAsyncDisposable
    {
        private readonly List<(ReadOnlySession Session, DbTransaction Snapshot)> _joined = [];

        private Readers(Side first) => Sides = [first];

        public List<Side> Sides { get; }

        public string? WhyNot { get; private set; }

        public static async Task<Readers> JoinAsync(IDatabaseEngine engine, DbOpsConnection database, Side first, int parallel, CancellationToken cancellationToken)
        {
            var readers = new Readers(first);
            if (parallel <= 1)
            {
                return readers;
            }
            var (id, whyNot) = await engine.Archive.ShareSnapshotAsync(first.Connection, first.Transaction, cancellationToken);
            if (id is null)
            {
                readers.WhyNot = whyNot;
                return readers;
            }
            try
            {
                // One after another: opening is cheap next to the reads, and a failure leaves only the joined ones to close.
                for (var i = 1; i < parallel; i++)
                {
                    var session = await engine.OpenReadOnlyAsync(database, cancellationToken);
                    DbTransaction snapshot;
                    try
                    {
                        snapshot = await engine.Archive.JoinSnapshotAsync(session.Connection, id, cancellationToken);
                    }
                    catch
                    {
                        await session.DisposeAsync();
                        throw;
                    }
                    readers._joined.Add((session, snapshot));
                    engine.Moves.PrepareChecksums(session.Connection);
                    readers.Sides.Add(first with { Connection = session.Connection, Transaction = snapshot });
                }
            }
            catch
            {
                await readers.DisposeAsync();
                throw;
            }
            return readers;
        }

        /// <summary>Ends the joined read-only transactions and closes their connections (the first side's own is not this class's).</summary>
        public async ValueTask DisposeAsync()
        {
            foreach (var (session, snapshot) in _joined)
            {
                await snapshot.DisposeAsync();
                await session.DisposeAsync();
            }
            _joined.Clear();
        }
    }

    /// <summary>One side: its rows, one of its connections and the snapshot that connection reads.</summary>
    private sealed record Side(MapSide Map, DbConnection Connection, DbTransaction Transaction);

    /// <summary>A range's row count and checksum on one side.</summary>
    private sealed record Summary(long Rows, string Checksum);

    private sealed class Run(ResolvedMap map, Side source, Side target)
    {
        private readonly Dictionary<string, object?[]> _sourceRows = new(StringComparer.Ordinal);
        private readonly Dictionary<string, object?[]> _targetRows = new(StringComparer.Ordinal);
        private long _matchedInRanges;

        public long RowsShipped { get; private set; }

        /// <summary>The row count of each side, the two databases at once.</summary>
        public async Task<(long Source, long Target)> CountsAsync(CancellationToken cancellationToken) =>
            await BothAsync(CountAsync(source, cancellationToken), CountAsync(target, cancellationToken));

        private static async Task<long> CountAsync(Side side, CancellationToken cancellationToken) =>
            (await MoveSql.ReadAsync(side.Connection, side.Transaction, $"SELECT count(*) FROM ({side.Map.Select()}) AS \"c\"", null,
                r => Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), cancellationToken)).Single();

        public async Task CompareAsync(object[]? after, object[]? upTo, (Summary Source, Summary Target) summaries, IOperationObserver observer,
            CancellationToken cancellationToken)
        {
            if (summaries.Source == summaries.Target)
            {
                _matchedInRanges += summaries.Source.Rows;
                return;
            }
            if (summaries.Source.Rows + summaries.Target.Rows <= 2 * LeafRows)
            {
                var (sourceRows, targetRows) = await BothAsync(FetchAsync(source, after, upTo, cancellationToken), FetchAsync(target, after, upTo, cancellationToken));
                Keep(sourceRows, _sourceRows);
                Keep(targetRows, _targetRows);
                return;
            }
            observer.Verbose($"A range of {Math.Max(summaries.Source.Rows, summaries.Target.Rows)} rows differs: splitting it.");
            await SplitAsync(after, upTo, summaries.Source.Rows, summaries.Target.Rows, observer, cancellationToken);
        }

        /// <summary>Cuts the range (after, upTo] in up to <see cref="Parts"/> parts and compares each, over each side's one connection.</summary>
        public Task SplitAsync(object[]? after, object[]? upTo, long sourceRows, long targetRows, IOperationObserver observer, CancellationToken cancellationToken) =>
            SplitAsync(after, upTo, sourceRows, targetRows, [source], [target], observer, cancellationToken);

        /// <summary>
        /// Cuts the range (after, upTo] in up to <see cref="Parts"/> parts and compares each; the parts' summaries are read
        /// over the given connections of each side (see <see cref="GroupsAsync"/>), the cut keys on the first.
        /// </summary>
        public async Task SplitAsync(object[]? after, object[]? upTo, long sourceRows, long targetRows, IReadOnlyList<Side> sourceReaders,
            IReadOnlyList<Side> targetReaders, IOperationObserver observer, CancellationToken cancellationToken)
        {
            // Split by the keys of the side with more rows in the range, so every part shrinks.
            var splitter = sourceRows >= targetRows ? source : target;
            var bounds = await BoundsAsync(splitter, after, upTo, Math.Max(1, (Math.Max(sourceRows, targetRows) + Parts - 1) / Parts), cancellationToken);
            var parts = await PartsAsync(after, upTo, bounds, sourceReaders, targetReaders, cancellationToken);
            var from = after;
            foreach (var (bound, part) in bounds.Append(upTo).Zip(parts))
            {
                await CompareAsync(from, bound, part, observer, cancellationToken);
                from = bound;
            }
        }

        /// <summary>
        /// Count and checksum of each part of the range (after, upTo] that <paramref name="bounds"/> cut (part i ends at
        /// bounds[i], the last at upTo): grouped statements on each side, the two databases at once.
        /// </summary>
        private async Task<List<(Summary Source, Summary Target)>> PartsAsync(object[]? after, object[]? upTo, List<object[]> bounds,
            IReadOnlyList<Side> sourceReaders, IReadOnlyList<Side> targetReaders, CancellationToken cancellationToken)
        {
            var (sourceParts, targetParts) = await BothAsync(
                GroupsAsync(sourceReaders, after, upTo, bounds, cancellationToken), GroupsAsync(targetReaders, after, upTo, bounds, cancellationToken));
            return Enumerable.Range(0, bounds.Count + 1).Select(i => (sourceParts.GetValueOrDefault(i, Empty), targetParts.GetValueOrDefault(i, Empty))).ToList();
        }

        /// <summary>A part with no rows on a side (its aggregate has no group to report).</summary>
        private static readonly Summary Empty = new(0, "0");

        /// <summary>
        /// The summaries of all parts on one side: the parts in as many contiguous groups as <paramref name="readers"/>, each
        /// group one grouped statement over its own key range on its own connection, all at once. The bounds between the
        /// groups are the parts' own, so every part is read whole by one statement, as over one connection.
        /// </summary>
        private async Task<Dictionary<int, Summary>> GroupsAsync(IReadOnlyList<Side> readers, object[]? after, object[]? upTo, List<object[]> bounds,
            CancellationToken cancellationToken)
        {
            var parts = bounds.Count + 1;
            var groups = Math.Min(readers.Count, parts);
            var reads = Enumerable.Range(0, groups).Select(g =>
            {
                var (first, last) = (parts * g / groups, parts * (g + 1) / groups - 1);
                return PartSummariesAsync(readers[g], first == 0 ? after : bounds[first - 1], last == parts - 1 ? upTo : bounds[last],
                    bounds.GetRange(first, last - first), first, cancellationToken);
            }).ToList();
            await Task.WhenAll(reads);
            return reads.SelectMany(r => r.Result).ToDictionary(p => p.Key, p => p.Value);
        }

        /// <summary>The summaries of the parts of (after, upTo] that <paramref name="bounds"/> cut, numbered from <paramref name="firstPart"/>.</summary>
        private async Task<Dictionary<int, Summary>> PartSummariesAsync(Side side, object[]? after, object[]? upTo, List<object[]> bounds, int firstPart,
            CancellationToken cancellationToken)
        {
            var (condition, parameters) = Range(after, upTo);
            var dialect = side.Map.Engine.Moves;
            var parts = Enumerable.Range(0, map.Keys.Count).Select(i => (Sql: MapSide.Key(i), Type: side.Map.Types[i]))
                .Concat(Enumerable.Range(0, map.Values.Count).Select(i => (Sql: MapSide.Value(i), Type: side.Map.Types[map.Keys.Count + i])))
                .Select(p => $"COALESCE(CAST(length({dialect.CanonicalText(p.Sql, p.Type)}) AS TEXT) || ':' || {dialect.CanonicalText(p.Sql, p.Type)}, 'N')");
            var sql = $"SELECT {PartOf(0, bounds.Count, bounds, parameters)}, count(*), {dialect.ChecksumAggregate(string.Join(" || '|' || ", parts))} " +
                $"FROM ({side.Map.Select(condition)}) AS \"c\" GROUP BY 1";
            return (await MoveSql.ReadAsync(side.Connection, side.Transaction, sql, parameters,
                r => (Part: firstPart + Convert.ToInt32(r.GetValue(0), CultureInfo.InvariantCulture),
                    Summary: new Summary(Convert.ToInt64(r.GetValue(1), CultureInfo.InvariantCulture), Convert.ToString(r.GetValue(2), CultureInfo.InvariantCulture) ?? "")),
                cancellationToken)).ToDictionary(p => p.Part, p => p.Summary);
        }

        /// <summary>
        /// The number of the part (first..last) a row's key falls in, part i ending at bounds[i]: a tree of CASEs, so a
        /// row takes about log2(parts) key comparisons (each bound a parameter appended to <paramref name="parameters"/>).
        /// </summary>
        private string PartOf(int first, int last, List<object[]> bounds, List<object?> parameters)
        {
            if (first == last)
            {
                return first.ToString(CultureInfo.InvariantCulture);
            }
            var middle = (first + last) / 2;
            var bound = string.Join(", ", Enumerable.Range(parameters.Count, map.Keys.Count).Select(MoveSql.Parameter));
            parameters.AddRange(bounds[middle]);
            return $"CASE WHEN {KeyRow} <= ({bound}) THEN {PartOf(first, middle, bounds, parameters)} ELSE {PartOf(middle + 1, last, bounds, parameters)} END";
        }

        /// <summary>Runs a statement in each database at once (each side has its own connection).</summary>
        private static async Task<(T Source, T Target)> BothAsync<T>(Task<T> source, Task<T> target)
        {
            await Task.WhenAll(source, target);
            return (await source, await target);
        }

        /// <summary>Every <paramref name="step"/>-th key of the range on <paramref name="side"/>, in key order (the range's own end left out).</summary>
        private async Task<List<object[]>> BoundsAsync(Side side, object[]? after, object[]? upTo, long step, CancellationToken cancellationToken)
        {
            var (condition, parameters) = Range(after, upTo);
            var keys = string.Join(", ", Enumerable.Range(0, map.Keys.Count).Select(i => MapSide.Key(i)));
            var sql = $"SELECT {keys} FROM (SELECT {keys}, row_number() OVER (ORDER BY {keys}) AS \"n\" FROM ({side.Map.Select(condition)}) AS \"b\") AS \"numbered\" " +
                $"WHERE \"n\" % {step.ToString(CultureInfo.InvariantCulture)} = 0 ORDER BY {keys}";
            var bounds = await MoveSql.ReadAsync(side.Connection, side.Transaction, sql, parameters, r => MoveSql.KeyValues(r, map.Keys.Count), cancellationToken);
            if (bounds.Count > 0 && upTo is not null && KeyText(bounds[^1]) == KeyText(upTo))
            {
                bounds.RemoveAt(bounds.Count - 1);
            }
            return bounds;
        }

        private async Task<List<object?[]>> FetchAsync(Side side, object[]? after, object[]? upTo, CancellationToken cancellationToken)
        {
            var (condition, parameters) = Range(after, upTo);
            return await MoveSql.ReadAsync(side.Connection, side.Transaction, side.Map.Select(condition), parameters,
                r => Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? null : r.GetValue(i)).ToArray(), cancellationToken);
        }

        private void Keep(List<object?[]> fetched, Dictionary<string, object?[]> rows)
        {
            foreach (var row in fetched)
            {
                rows[KeyText(row)] = row;
                RowsShipped++;
            }
        }

        /// <summary>The key columns as one row value, (k0, k1, ...).</summary>
        private string KeyRow => $"({string.Join(", ", Enumerable.Range(0, map.Keys.Count).Select(i => MapSide.Key(i)))})";

        /// <summary>The range (after, upTo] as a condition over k0.. with @p0.. parameters.</summary>
        private (string? Condition, List<object?> Parameters) Range(object[]? after, object[]? upTo)
        {
            var keyCount = map.Keys.Count;
            var row = KeyRow;
            var conditions = new List<string>();
            var parameters = new List<object?>();
            foreach (var (bound, op) in new[] { (after, ">"), (upTo, "<=") })
            {
                if (bound is not null)
                {
                    conditions.Add($"{row} {op} ({string.Join(", ", Enumerable.Range(parameters.Count, keyCount).Select(MoveSql.Parameter))})");
                    parameters.AddRange(bound);
                }
            }
            return (conditions.Count == 0 ? null : string.Join(" AND ", conditions), parameters);
        }

        /// <summary>A key as both engines' values agree on it (1 and 1L, "a" and "a"), for pairing the fetched rows.</summary>
        private string KeyText(object?[] row) => MoveSql.KeyText(row.Take(map.Keys.Count).Select(v => v is bool b ? (b ? 1L : 0L) : v ?? DBNull.Value).ToList());

        public TableComparison Result(long sourceRows, long targetRows, TimeSpan elapsed)
        {
            var missing = _sourceRows.Where(r => !_targetRows.ContainsKey(r.Key)).Select(r => r.Key).ToList();
            var extra = _targetRows.Where(r => !_sourceRows.ContainsKey(r.Key)).Select(r => r.Key).ToList();
            var changed = new List<ChangedRow>();
            foreach (var (key, row) in _sourceRows)
            {
                if (_targetRows.TryGetValue(key, out var other))
                {
                    var columns = map.Values.Where((_, i) => !ValuesEqual(row[map.Keys.Count + i], other[map.Keys.Count + i])).Select(v => v.Name).ToList();
                    if (columns.Count > 0)
                    {
                        changed.Add(new ChangedRow(key, columns));
                    }
                }
            }
            return new TableComparison
            {
                Source = map.Source.Name,
                Target = map.Target.Name,
                SourceRows = sourceRows,
                TargetRows = targetRows,
                Matched = sourceRows - missing.Count - changed.Count,
                Missing = missing.Count,
                Changed = changed.Count,
                Extra = extra.Count,
                ChangedColumns = changed.SelectMany(c => c.Columns).GroupBy(c => c).ToDictionary(g => g.Key, g => (long)g.Count()),
                MissingSamples = Samples(missing),
                ChangedSamples = changed.OrderBy(c => _sourceRows[c.Key], KeyOrder).Take(SampleCount).ToList(),
                ExtraSamples = extra.OrderBy(k => _targetRows[k], KeyOrder).Take(SampleCount).ToList(),
                Method = "KeyRanges",
                RowsShipped = RowsShipped,
                Verdict = TableComparison.VerdictOf(missing.Count, changed.Count, extra.Count),
                Duration = elapsed,
            };
            List<string> Samples(List<string> keys) => keys.OrderBy(k => _sourceRows[k], KeyOrder).Take(SampleCount).ToList();
        }

        private IComparer<object?[]> KeyOrder => Comparer<object?[]>.Create((a, b) =>
        {
            for (var i = 0; i < map.Keys.Count; i++)
            {
                var order = Comparer<object?>.Default.Compare(Number(a[i]) ?? a[i], Number(b[i]) ?? b[i]);
                if (order != 0)
                {
                    return order;
                }
            }
            return 0;
        });
    }

    /// <summary>
    /// Equality of two values fetched from two engines: NULL equals NULL; numbers by value (1.50 = 1.5), a boolean as 1/0
    /// (SQLite stores booleans so); instants by instant, a text that reads as one against a timestamp; JSON objects and
    /// arrays as documents (key order and spacing do not count); everything else as equal .NET values (text by ordinal).
    /// </summary>
    internal static bool ValuesEqual(object? a, object? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }
        if (Number(a) is { } x && Number(b) is { } y)
        {
            return x == y;
        }
        if (Instant(a) is { } s && Instant(b) is { } t && (a is not string || b is not string))
        {
            return s == t;
        }
        if (a is string p && b is string q)
        {
            return p == q || Json(p) is { } j && Json(q) is { } k && JsonNode.DeepEquals(j, k);
        }
        if (a is byte[] u && b is byte[] v)
        {
            return u.AsSpan().SequenceEqual(v);
        }
        return a.Equals(b);
    }

    private static decimal? Number(object? value) => value switch
    {
        bool b => b ? 1 : 0,
        byte or short or int or long or decimal => Convert.ToDecimal(value, CultureInfo.InvariantCulture),
        double d when Math.Abs(d) < 7.9e27 => (decimal)d,
        float f when Math.Abs(f) < 7.9e27 => (decimal)f,
        _ => null,
    };

    private static DateTimeOffset? Instant(object value) => value switch
    {
        DateTimeOffset o => o,
        DateTime d => new DateTimeOffset(DateTime.SpecifyKind(d, d.Kind == DateTimeKind.Local ? DateTimeKind.Local : DateTimeKind.Utc)),
        string s when DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var o) => o,
        _ => null,
    };

    private static JsonNode? Json(string text)
    {
        var start = text.TrimStart();
        if (start.Length == 0 || start[0] is not ('{' or '['))
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
