using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Progress;

namespace DbOps.Core.Moves;

/// <summary>
/// Compare-TableData: which source rows are in the target through a column map, which are missing or changed, and which
/// target rows are extra, in one set-based query (a full join on the key) inside one snapshot. It only reads, on a
/// read-only connection.
/// </summary>
public static class TableComparer
{
    private const int SampleCount = 10;

    /// <summary>Compares the source of <paramref name="map"/> with its target; refuses a map that cannot be compared (stable error ids).</summary>
    public static async Task<TableComparison> CompareAsync(TableMap map, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        if (map.TargetDatabase is not null)
        {
            return await RangeComparer.CompareAsync(map, observer, clock, cancellationToken);
        }
        var sourceEngine = DatabaseEngines.For(map.Source);
        await using var source = await sourceEngine.OpenReadOnlyAsync(map.Source, cancellationToken);
        var resolved = await ResolvedMap.ResolveAsync(map, source.Connection, forCopy: false, cancellationToken);
        await using var snapshot = await sourceEngine.BeginSnapshotAsync(source.Connection, cancellationToken);
        return await CompareInOneAsync(resolved, source.Connection, snapshot, observer, clock, cancellationToken);
    }

    /// <summary>Compares the two sides of <paramref name="map"/>, which live in the database of <paramref name="connection"/>.</summary>
    internal static async Task<TableComparison> CompareInOneAsync(ResolvedMap map, DbConnection connection, DbTransaction? transaction,
        IOperationObserver observer, Stopwatch clock, CancellationToken cancellationToken)
    {
        await MoveSql.RequireUsableKeyAsync(map.Source, "source", connection, transaction, cancellationToken);
        await MoveSql.RequireUsableKeyAsync(map.Target, "target", connection, transaction, cancellationToken);
        var sql = new ComparisonSql(map);
        observer.Verbose($"Comparing {map.Source.Name} with {map.Target.Name}: {sql.Counts}");
        List<long> counts;
        try
        {
            counts = (await MoveSql.ReadAsync(connection, transaction, sql.Counts, null,
                r => Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? 0L : Convert.ToInt64(r.GetValue(i), CultureInfo.InvariantCulture)).ToList(),
                cancellationToken)).Single();
        }
        catch (DbException e) when (map.Source.Engine.Moves.ProbeProblem(e) == MapProblem.IncomparableTypes)
        {
            throw new DbOpsException(ErrorIds.MoveTypesIncomparable, ErrorKind.InvalidArgument,
                $"The map pairs values the database cannot compare ({map.Source.Engine.Tuning.ServerMessage(e)}). " +
                "Map the column to a target-side expression that converts it (e.g. \"status::text\") or leave it out (-Map @{ col = $null }).", map.Target.Name, e);
        }
        var (sourceRows, targetRows, missing, extra, changed) = (counts[0], counts[1], counts[2], counts[3], counts[4]);
        var byColumn = map.Values.Select((v, i) => (v.Name, Count: counts[5 + i])).Where(c => c.Count > 0).ToDictionary(c => c.Name, c => c.Count);

        async Task<List<string>> KeysAsync(string listing, long count) => count == 0 ? [] :
            await MoveSql.ReadAsync(connection, transaction, listing, null, r => MoveSql.KeyText(MoveSql.KeyValues(r, map.Keys.Count)), cancellationToken, SampleCount);
        var changedSamples = changed == 0 ? [] : await MoveSql.ReadAsync(connection, transaction, sql.Changed, null, r => ChangedRow(map, r), cancellationToken, SampleCount);
        return new TableComparison
        {
            Source = map.Source.Name,
            Target = map.Target.Name,
            SourceRows = sourceRows,
            TargetRows = targetRows,
            Matched = sourceRows - missing - changed,
            Missing = missing,
            Changed = changed,
            Extra = extra,
            ChangedColumns = byColumn,
            MissingSamples = await KeysAsync(sql.Missing, missing),
            ChangedSamples = changedSamples,
            ExtraSamples = await KeysAsync(sql.Extra, extra),
            MissingSql = sql.Missing,
            ChangedSql = sql.Changed,
            ExtraSql = sql.Extra,
            Method = "SetBased",
            Verdict = TableComparison.VerdictOf(missing, changed, extra),
            Duration = clock.Elapsed,
        };
    }

    /// <summary>A row of a changed listing: the key, then one 1/0 flag per mapped value.</summary>
    internal static ChangedRow ChangedRow(ResolvedMap map, DbDataReader reader) => new(
        MoveSql.KeyText(MoveSql.KeyValues(reader, map.Keys.Count)),
        map.Values.Where((_, i) => Convert.ToInt64(reader.GetValue(map.Keys.Count + i), CultureInfo.InvariantCulture) == 1).Select(v => v.Name).ToList());
}

/// <summary>The statements of a comparison in one database: the counts, and a listing of each kind a person can run.</summary>
internal sealed class ComparisonSql
{
    public ComparisonSql(ResolvedMap map, string? sourceCondition = null)
    {
        var keys = Enumerable.Range(0, map.Keys.Count).ToList();
        var values = Enumerable.Range(0, map.Values.Count).ToList();
        var dialect = map.Source.Engine.Moves;
        With = $"WITH \"s\" AS ({map.Source.Select(sourceCondition)}), \"t\" AS ({map.Target.Select()})";
        Join = string.Join(" AND ", keys.Select(i => $"{map.Source.ComparableKey(i, "s")} = {map.Target.ComparableKey(i, "t")}"));
        Differs = values.Select(i => dialect.Differs(map.Source.ComparableValue(i, "s"), map.Target.ComparableValue(i, "t"))).ToList();
        var anyDiffers = Differs.Count == 0 ? "1 = 0" : string.Join(" OR ", Differs);
        var sKey = MapSide.Key(0, "\"s\"");
        var tKey = MapSide.Key(0, "\"t\"");
        var order = string.Join(", ", keys.Select(i => (i + 1).ToString(CultureInfo.InvariantCulture)));
        string Sum(string condition) => $"COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)";
        Counts = $"{With} SELECT {Sum($"{sKey} IS NOT NULL")}, {Sum($"{tKey} IS NOT NULL")}, {Sum($"{tKey} IS NULL")}, {Sum($"{sKey} IS NULL")}, " +
            $"{Sum($"{sKey} IS NOT NULL AND {tKey} IS NOT NULL AND ({anyDiffers})")}" +
            string.Concat(Differs.Select(d => $", {Sum($"{sKey} IS NOT NULL AND {tKey} IS NOT NULL AND {d}")}")) +
            $" FROM \"s\" FULL JOIN \"t\" ON {Join}";
        Missing = $"{With} SELECT {Keys("s", keys)} FROM \"s\" WHERE NOT EXISTS (SELECT 1 FROM \"t\" WHERE {Join}) ORDER BY {order}";
        Extra = $"{With} SELECT {Keys("t", keys)} FROM \"t\" WHERE NOT EXISTS (SELECT 1 FROM \"s\" WHERE {Join}) ORDER BY {order}";
        Changed = $"{With} SELECT {Keys("s", keys)}{string.Concat(Differs.Select(d => $", CASE WHEN {d} THEN 1 ELSE 0 END"))} " +
            $"FROM \"s\" JOIN \"t\" ON {Join} WHERE {anyDiffers} ORDER BY {order}";
    }

    public string With { get; }
    public string Join { get; }
    public IReadOnlyList<string> Differs { get; }
    public string Counts { get; }
    public string Missing { get; }
    public string Extra { get; }
    public string Changed { get; }

    private static string Keys(string alias, IEnumerable<int> keys) => string.Join(", ", keys.Select(i => MapSide.Key(i, $"\"{alias}\"")));
}
