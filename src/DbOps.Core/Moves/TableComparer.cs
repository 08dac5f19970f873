using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Progress;

namespace DbOps.Core.Moves;

/// <summary>
/// Compare-TableData: which source rows are in the target through a column map, which are missing or changed, and which
/// target rows are extra, with their counts and first samples, in one set-based query (a full join on the key) inside
/// one snapshot. It only reads, on a read-only connection.
/// </summary>
public static class TableComparer
{
    /// <summary>Compares the source of <paramref name="map"/> with its target; refuses a map that cannot be compared (stable error ids).</summary>
    public static Task<TableComparison> CompareAsync(TableMap map, IOperationObserver observer, CancellationToken cancellationToken) =>
        CompareAsync(map, 1, observer, cancellationToken);

    /// <summary>
    /// Compares the source of <paramref name="map"/> with its target; across two databases, the first key ranges over
    /// <paramref name="parallel"/> connections per side, each side's all in one snapshot (issue 22). In one database the
    /// comparison is one set-based statement, which <paramref name="parallel"/> leaves as it is.
    /// </summary>
    public static async Task<TableComparison> CompareAsync(TableMap map, int parallel, IOperationObserver observer, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallel, 1);
        var clock = Stopwatch.StartNew();
        if (map.TargetDatabase is not null)
        {
            return await RangeComparer.CompareAsync(map, parallel, observer, clock, cancellationToken);
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
        observer.Verbose($"Comparing {map.Source.Name} with {map.Target.Name}: {sql.CountsAndSamples}");
        List<object?[]> rows;
        try
        {
            rows = await MoveSql.ReadAsync(connection, transaction, sql.CountsAndSamples, null,
                r => Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? null : r.GetValue(i)).ToArray(), cancellationToken);
        }
        catch (DbException e) when (map.Source.Engine.Moves.ProbeProblem(e) == MapProblem.IncomparableTypes)
        {
            throw new DbOpsException(ErrorIds.MoveTypesIncomparable, ErrorKind.InvalidArgument,
                $"The map pairs values the database cannot compare ({map.Source.Engine.Tuning.ServerMessage(e)}). " +
                "Map the column to a target-side expression that converts it (e.g. \"status::text\") or leave it out (-Map @{ col = $null }).", map.Target.Name, e);
        }
        var result = new CountsAndSamples(map, rows);
        var (sourceRows, targetRows, missing, extra, changed) = (result.Count("s"), result.Count("t"), result.Count("m"), result.Count("e"), result.Count("c"));
        var byColumn = map.Values.Select((v, i) => (v.Name, Count: result.ChangedIn(i))).Where(c => c.Count > 0).ToDictionary(c => c.Name, c => c.Count);
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
            MissingSamples = result.Samples("m").Select(r => r.Key).ToList(),
            ChangedSamples = result.Samples("c").ToList(),
            ExtraSamples = result.Samples("e").Select(r => r.Key).ToList(),
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
    private const int SampleCount = 10;

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
        // The differing rows, joined once and kept (MATERIALIZED) for both their counts and their first samples; each
        // side is also counted on its own. Kind: m(issing), e(xtra), c(hanged); s and t are the sides' row counts.
        var sideKeys = keys.Select(i => $"{MapSide.Key(i, "\"s\"")} AS \"sk{i}\"").Concat(keys.Select(i => $"{MapSide.Key(i, "\"t\"")} AS \"tk{i}\""));
        var keyColumns = string.Join(", ", keys.Select(i => $"\"sk{i}\"").Concat(keys.Select(i => $"\"tk{i}\"")));
        var flagColumns = values.Select(i => $"\"f{i}\"").ToList();
        var noKeys = string.Concat(keys.Concat(keys).Select(_ => ", NULL"));
        var noFlags = string.Concat(values.Select(_ => ", NULL"));
        CountsAndSamples = $"{With}, \"d\" AS MATERIALIZED (SELECT CASE WHEN {tKey} IS NULL THEN 'm' WHEN {sKey} IS NULL THEN 'e' ELSE 'c' END AS \"kind\", " +
            $"{string.Join(", ", sideKeys)}{string.Concat(values.Select(i => $", CASE WHEN {Differs[i]} THEN 1 ELSE 0 END AS \"f{i}\""))} " +
            $"FROM \"s\" FULL JOIN \"t\" ON {Join} WHERE {sKey} IS NULL OR {tKey} IS NULL OR {anyDiffers}) " +
            // The samples first: PostgreSQL types a UNION's columns pair by pair, and NULL against NULL would be text.
            $"SELECT \"kind\", 0, {keyColumns}{string.Concat(flagColumns.Select(f => ", " + f))} " +
            $"FROM (SELECT \"d\".*, row_number() OVER (PARTITION BY \"kind\" ORDER BY {keyColumns}) AS \"n\" FROM \"d\") AS \"ranked\" " +
            $"WHERE \"n\" <= {SampleCount} UNION ALL " +
            $"SELECT \"kind\", count(*){noKeys}{string.Concat(flagColumns.Select(f => $", sum({f})"))} FROM \"d\" GROUP BY \"kind\" UNION ALL " +
            $"SELECT 's', (SELECT count(*) FROM \"s\"){noKeys}{noFlags} UNION ALL " +
            $"SELECT 't', (SELECT count(*) FROM \"t\"){noKeys}{noFlags} " +
            $"ORDER BY {string.Join(", ", Enumerable.Range(0, 2 * keys.Count + 1).Select(i => (i == 0 ? 1 : i + 2).ToString(CultureInfo.InvariantCulture)))}";
        Missing = $"{With} SELECT {Keys("s", keys)} FROM \"s\" WHERE NOT EXISTS (SELECT 1 FROM \"t\" WHERE {Join}) ORDER BY {order}";
        Extra = $"{With} SELECT {Keys("t", keys)} FROM \"t\" WHERE NOT EXISTS (SELECT 1 FROM \"s\" WHERE {Join}) ORDER BY {order}";
        Changed = $"{With} SELECT {Keys("s", keys)}{string.Concat(Differs.Select(d => $", CASE WHEN {d} THEN 1 ELSE 0 END"))} " +
            $"FROM \"s\" JOIN \"t\" ON {Join} WHERE {anyDiffers} ORDER BY {order}";
    }

    public string With { get; }
    public string Join { get; }
    public IReadOnlyList<string> Differs { get; }
    /// <summary>
    /// One statement for the whole comparison. Its rows: (kind, count, NULL keys, per-column counts) for each side's rows
    /// (kind s, t) and each kind of difference (m, e, c); then (kind, 0, source keys, target keys, 1/0 flags) for up to
    /// <see cref="SampleCount"/> samples of each kind, in key order.
    /// </summary>
    public string CountsAndSamples { get; }
    public string Missing { get; }
    public string Extra { get; }
    public string Changed { get; }

    private static string Keys(string alias, IEnumerable<int> keys) => string.Join(", ", keys.Select(i => MapSide.Key(i, $"\"{alias}\"")));
}

/// <summary>The rows of <see cref="ComparisonSql.CountsAndSamples"/>, read back.</summary>
internal sealed class CountsAndSamples(ResolvedMap map, List<object?[]> rows)
{
    private int Keys => map.Keys.Count;

    /// <summary>The rows of a kind (s, t, m, e, c); 0 when none.</summary>
    public long Count(string kind) => rows.Where(r => IsCount(r) && (string)r[0]! == kind).Select(r => Convert.ToInt64(r[1], CultureInfo.InvariantCulture)).FirstOrDefault();

    /// <summary>How many changed rows differ in mapped value <paramref name="i"/>.</summary>
    public long ChangedIn(int i) => rows.Where(r => IsCount(r) && (string)r[0]! == "c").Select(r => Convert.ToInt64(r[2 + 2 * Keys + i], CultureInfo.InvariantCulture)).FirstOrDefault();

    /// <summary>The samples of a kind: the key (the source's, the target's for extra rows) and the columns that differ.</summary>
    public IEnumerable<ChangedRow> Samples(string kind) => rows.Where(r => !IsCount(r) && (string)r[0]! == kind).Select(r => new ChangedRow(
        MoveSql.KeyText(r.Skip(kind == "e" ? 2 + Keys : 2).Take(Keys).Select(v => v ?? DBNull.Value).ToList()),
        map.Values.Where((_, i) => Convert.ToInt64(r[2 + 2 * Keys + i], CultureInfo.InvariantCulture) == 1).Select(v => v.Name).ToList()));

    /// <summary>A count row has no keys (a sample row always has one side's).</summary>
    private bool IsCount(object?[] r) => r.Skip(2).Take(2 * Keys).All(v => v is null);
}
