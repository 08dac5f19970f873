using System.Globalization;
using System.Text.RegularExpressions;
using DbOps.Core.Connections;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Sql;

namespace DbOps.Core.Performance;

/// <summary>A statement pg_stat_statements has seen, with its cost and a flag for a likely N+1 pattern.</summary>
public sealed class SlowQuery
{
    internal SlowQuery(DbOpsConnection source, Row row, StatementKind kind, int rankByTotal, int rankByMean, double percentOfTotal,
                       string? nPlusOne, DateTimeOffset? statsSince)
    {
        Source = source;
        Provider = source.Provider;
        Database = row.DatabaseName;
        Kind = kind;
        QueryId = row.QueryId;
        Query = row.Query;
        User = row.UserName;
        Calls = row.Calls;
        TotalMs = row.TotalMs;
        MeanMs = row.MeanMs;
        Rows = row.Rows;
        PercentOfTotal = percentOfTotal;
        RankByTotal = rankByTotal;
        RankByMean = rankByMean;
        LikelyNPlusOne = nPlusOne is not null;
        NPlusOneEvidence = nPlusOne;
        StatsSince = statsSince;
        ParameterCount = System.Text.RegularExpressions.Regex.Matches(row.Query, @"\$(\d+)")
            .Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).Count();
    }

    /// <summary>
    /// How many $n placeholders the normalised statement has: 0 pipes straight into Measure-QueryPerformance, more
    /// need -Parameters @{ '1' = ... }.
    /// </summary>
    public int ParameterCount { get; }

    /// <summary>Always PostgreSQL.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database the statements ran in.</summary>
    public string Database { get; }

    /// <summary>Application, or what Get-SlowQuery leaves out by default: Utility, Catalog, DbOps.</summary>
    public StatementKind Kind { get; }

    /// <summary>pg_stat_statements' queryid.</summary>
    public long? QueryId { get; }

    /// <summary>The normalised statement: constants appear as $1, $2, ... (pass values with -Parameters @{ '1' = ... }).</summary>
    public string Query { get; }

    /// <summary>The role that ran it.</summary>
    public string? User { get; }

    /// <summary>How many times it ran.</summary>
    public long Calls { get; }

    /// <summary>Total execution time, in milliseconds.</summary>
    public double TotalMs { get; }

    /// <summary>Mean execution time, in milliseconds.</summary>
    public double MeanMs { get; }

    /// <summary>Rows returned or affected, all calls together.</summary>
    public long Rows { get; }

    /// <summary>Its share of the execution time of every statement read (all kinds, the databases and roles asked for), in percent.</summary>
    public double PercentOfTotal { get; }

    /// <summary>1 for the statement with the most total time, among the kinds asked for.</summary>
    public int RankByTotal { get; }

    /// <summary>1 for the statement with the highest mean time.</summary>
    public int RankByMean { get; }

    /// <summary>
    /// Very many calls of a cheap single-row statement: the shape of a loop in the application issuing one query
    /// per item (an N+1 pattern). One set-based query usually replaces them.
    /// </summary>
    public bool LikelyNPlusOne { get; }

    /// <summary>For a likely N+1: the calls, the mean time and the rows per call that make it one, in words.</summary>
    public string? NPlusOneEvidence { get; }

    /// <summary>When pg_stat_statements was last reset (PostgreSQL 14+), or null when unknown.</summary>
    public DateTimeOffset? StatsSince { get; }

    /// <summary>The connection it was read through, so the object pipes into Measure-QueryPerformance.</summary>
    public DbOpsConnection Source { get; }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{TotalMs:F1} ms in {Calls} calls: {Query}");

    /// <summary>One statement of the engine's statistics (PostgreSQL's pg_stat_statements).</summary>
    internal sealed record Row(long? QueryId, string Query, string? UserName, string DatabaseName, long Calls, double TotalMs, double MeanMs, long Rows);
}

/// <summary>What a statement is, for leaving out what is not the application's own work.</summary>
public enum StatementKind
{
    /// <summary>A query or data change (SELECT, INSERT, UPDATE, DELETE, MERGE, WITH, VALUES, TABLE) of the application.</summary>
    Application,
    /// <summary>A utility statement: DDL, COPY, ANALYZE, VACUUM, SET, transaction control, CREATE/DROP DATABASE, ...</summary>
    Utility,
    /// <summary>A query of the system catalogs or statistics views (pg_catalog, information_schema, pg_stat_*): tools, monitoring, drivers.</summary>
    Catalog,
    /// <summary>A statement DbOps ran over user tables, marked with DbOps's leading comment (counts, checksums).</summary>
    DbOps,
}

/// <summary>What Get-SlowQuery reads.</summary>
/// <param name="Connection">A PostgreSQL database.</param>
/// <param name="Top">How many statements by total time, and how many by mean time (the union is returned, with every likely N+1).</param>
/// <param name="NPlusOneMinCalls">Calls from which a cheap single-row statement is flagged as a likely N+1.</param>
/// <param name="NPlusOneMaxMeanMs">Mean time below which such a statement counts as cheap.</param>
public sealed record SlowQueryRequest(DbOpsConnection Connection, int Top = 10, long NPlusOneMinCalls = 1000, double NPlusOneMaxMeanMs = 1.0)
{
    /// <summary>The kinds of statement to rank and return; the application's own by default.</summary>
    public IReadOnlyList<StatementKind> Kinds { get; init; } = [StatementKind.Application];

    /// <summary>Only statements run by these roles; all roles when empty.</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>Only statements run in these databases; the connection's database when empty ("*" for every database).</summary>
    public IReadOnlyList<string> Databases { get; init; } = [];
}

/// <summary>Reads the most expensive statements of the connected database from pg_stat_statements.</summary>
public static class SlowQueries
{
    /// <summary>Reads the statements; fails with StatStatementsUnavailable when the extension cannot be read.</summary>
    public static async Task<IReadOnlyList<SlowQuery>> GetAsync(SlowQueryRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var statistics = await DatabaseEngines.For(request.Connection).Tuning.ReadStatementsAsync(request, cancellationToken);
        return Rank(request.Connection, request, statistics.Rows, statistics.Since, observer);
    }

    /// <summary>
    /// Classifies every statement, ranks the kinds asked for by total and by mean time, and returns the top of each
    /// with every likely N+1 among all of them: a loop's statement is cheap, so it rarely ranks high by either.
    /// </summary>
    internal static IReadOnlyList<SlowQuery> Rank(DbOpsConnection source, SlowQueryRequest request, IReadOnlyList<SlowQuery.Row> rows,
                                                  DateTimeOffset? since, IOperationObserver observer)
    {
        var grandTotal = rows.Sum(r => r.TotalMs);
        var classified = rows.Select(r => (Row: r, Kind: StatementClassifier.Classify(r.Query))).ToList();
        var kept = classified.Where(x => request.Kinds.Contains(x.Kind)).ToList();
        // Ranks by position in kept: two rows can be equal by value (rows hidden by privileges, PostgreSQL 14+'s
        // toplevel pairs), so the rows themselves cannot be keys.
        var byTotal = Ranks(kept.Select(x => x.Row.TotalMs));
        var byMean = Ranks(kept.Select(x => x.Row.MeanMs));
        var result = kept
            .Select((x, i) => (x.Row, x.Kind, Total: byTotal[i], Mean: byMean[i], NPlusOne: NPlusOneEvidence(x.Row, request)))
            .Where(x => x.Total <= request.Top || x.Mean <= request.Top || x.NPlusOne is not null)
            .OrderBy(x => x.Total)
            .Select(x => new SlowQuery(source, x.Row, x.Kind, x.Total, x.Mean, grandTotal > 0 ? 100 * x.Row.TotalMs / grandTotal : 0, x.NPlusOne, since))
            .ToList();
        var left = classified.Where(x => !request.Kinds.Contains(x.Kind)).GroupBy(x => x.Kind).Select(g => $"{g.Count()} {g.Key}");
        observer.Verbose($"pg_stat_statements: {rows.Count} statement(s), {kept.Count} of the kinds asked for ranked; left out: {string.Join(", ", left)}.");
        return result;
    }

    /// <summary>Each value's rank, 1 for the largest, in the order given.</summary>
    private static int[] Ranks(IEnumerable<double> values)
    {
        var list = values.ToList();
        var ranks = new int[list.Count];
        var order = Enumerable.Range(0, list.Count).OrderByDescending(i => list[i]).ToList();
        for (var rank = 0; rank < order.Count; rank++)
        {
            ranks[order[rank]] = rank + 1;
        }
        return ranks;
    }

    /// <summary>
    /// Many calls of the same shape (pg_stat_statements has already folded the constants into $n), each cheap and
    /// returning about one row: one query per item of a loop. Null when the statement does not look like that.
    /// </summary>
    private static string? NPlusOneEvidence(SlowQuery.Row row, SlowQueryRequest request) =>
        row.Calls >= request.NPlusOneMinCalls && row.MeanMs <= request.NPlusOneMaxMeanMs && row.Rows <= row.Calls * 2
        && row.Query.Contains('$') && StatementClassifier.FirstWord(row.Query) is "select" or "with"
            ? string.Create(CultureInfo.InvariantCulture,
                $"{row.Calls} calls of the same statement at {row.MeanMs:0.###} ms each, {(double)row.Rows / row.Calls:0.##} row(s) per call: one query per item of a loop; one set-based query (a join, or = ANY($1) with an array) usually replaces them")
            : null;

}

/// <summary>Tells the application's statements from utility statements, catalog queries and DbOps's own.</summary>
internal static class StatementClassifier
{
    private static readonly HashSet<string> Plannable = new(StringComparer.Ordinal) { "select", "with", "insert", "update", "delete", "merge", "values", "table" };

    /// <summary>
    /// A schema-qualified catalog name, or one of the system views and catalogs tools and drivers read. PostgreSQL's
    /// names: only PostgreSQL keeps statement statistics (pg_stat_statements), so only its statements reach here.
    /// </summary>
    private static readonly Regex CatalogRelation = new(
        @"\b(pg_catalog|information_schema)\s*\.|\bpg_(stat|statio|class|namespace|attribute|index|constraint|type|proc|roles?|database|settings|extension|locks|depend|description|tables|indexes|views|sequences|matviews)\w*\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    public static StatementKind Classify(string query)
    {
        var first = SqlText.Tokens(query, bracketQuotes: false).FirstOrDefault(t => t.Kind is not SqlText.TokenKind.Space);
        if (first.Kind == SqlText.TokenKind.Comment && first.Length > 0 && query.Substring(first.Start, first.Length) == DbOpsTraffic.Marker.Trim())
        {
            return StatementKind.DbOps;
        }
        return !Plannable.Contains(FirstWord(query)) ? StatementKind.Utility
            : CatalogRelation.IsMatch(query) ? StatementKind.Catalog
            : StatementKind.Application;
    }

    /// <summary>The first keyword, lower case, after comments and opening parentheses.</summary>
    public static string FirstWord(string query) =>
        SqlText.Tokens(query, bracketQuotes: false).Where(t => t.Kind is SqlText.TokenKind.Word).Select(t => query.Substring(t.Start, t.Length).ToLowerInvariant()).FirstOrDefault() ?? "";
}
