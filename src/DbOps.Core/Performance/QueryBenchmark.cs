using System.Globalization;
using DbOps.Core.Connections;

namespace DbOps.Core.Performance;

/// <summary>How a measured statement was run, so nobody mistakes a rolled-back write for a committed one.</summary>
public enum QueryExecutionMode
{
    /// <summary>A statement that only reads, run on a read-only connection.</summary>
    ReadOnly,
    /// <summary>A data-modifying statement; every execution (and the plan's run) was rolled back.</summary>
    RolledBack,
    /// <summary>A data-modifying statement run with -AllowWrite: every timed execution committed.</summary>
    Committed,
}

/// <summary>
/// One query measured: the client-side latency distribution of repeated executions (results fully read),
/// the plan of one analysed run, and, with a baseline, the speed-up against it.
/// </summary>
public sealed class QueryBenchmark
{
    internal QueryBenchmark(
        DbOpsConnection source, string query, IReadOnlyDictionary<string, object?>? parameters, int warmup,
        IReadOnlyList<double> samplesMs, long rows, QueryExecutionMode mode, QueryPlanSummary plan, QueryBenchmark? baseline)
    {
        Source = source;
        Provider = source.Provider;
        Database = source.Database;
        Query = query;
        Parameters = parameters;
        Warmup = warmup;
        var sorted = samplesMs.Order().ToArray();
        SamplesMs = samplesMs;
        Iterations = sorted.Length;
        MinMs = sorted[0];
        MaxMs = sorted[^1];
        MeanMs = sorted.Average();
        MedianMs = QueryStatistics.Median(sorted);
        P95Ms = QueryStatistics.NearestRank(sorted, 0.95);
        Rows = rows;
        Mode = mode;
        Plan = plan;
        if (baseline is not null)
        {
            BaselineMedianMs = baseline.MedianMs;
            SpeedUp = MedianMs > 0 ? baseline.MedianMs / MedianMs : null;
            PlanChanged = !string.Equals(baseline.Plan.Signature, plan.Signature, StringComparison.Ordinal);
        }
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The statement as measured.</summary>
    public string Query { get; }

    /// <summary>The parameter values it ran with (named without the @), or null.</summary>
    public IReadOnlyDictionary<string, object?>? Parameters { get; }

    /// <summary>Untimed executions before the timed ones.</summary>
    public int Warmup { get; }

    /// <summary>Timed executions.</summary>
    public int Iterations { get; }

    /// <summary>Fastest execution, in milliseconds.</summary>
    public double MinMs { get; }

    /// <summary>Median execution time, in milliseconds: the figure to compare.</summary>
    public double MedianMs { get; }

    /// <summary>Mean execution time, in milliseconds.</summary>
    public double MeanMs { get; }

    /// <summary>95th percentile (nearest rank), in milliseconds.</summary>
    public double P95Ms { get; }

    /// <summary>Slowest execution, in milliseconds.</summary>
    public double MaxMs { get; }

    /// <summary>Every timed execution in run order, in milliseconds.</summary>
    public IReadOnlyList<double> SamplesMs { get; }

    /// <summary>Rows returned by one execution (rows affected, for a statement that returns none).</summary>
    public long Rows { get; }

    /// <summary>Whether it only read, was rolled back, or committed.</summary>
    public QueryExecutionMode Mode { get; }

    /// <summary>The plan of one analysed run (PostgreSQL) or the query plan (SQLite).</summary>
    public QueryPlanSummary Plan { get; }

    /// <summary>The baseline's median, when a baseline was given.</summary>
    public double? BaselineMedianMs { get; }

    /// <summary>Baseline median / this median: 2.0 means twice as fast as the baseline.</summary>
    public double? SpeedUp { get; }

    /// <summary>True when the plan's shape (node types, relations, indexes) differs from the baseline's.</summary>
    public bool? PlanChanged { get; }

    /// <summary>The connection it was measured through, so the object pipes back into Measure-QueryPerformance.</summary>
    public DbOpsConnection Source { get; }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{MedianMs:F3} ms median over {Iterations}{(SpeedUp is { } s ? $", {s:F2}x vs baseline" : "")}: {Query}");
}

/// <summary>The parts of a plan that explain a query's speed.</summary>
public sealed class QueryPlanSummary
{
    internal QueryPlanSummary(
        IReadOnlyList<PlanNode> nodes, IReadOnlyList<ScannedRelation> sequentialScans, double? planningMs, double? executionMs, string text,
        long? sharedHit = null, long? sharedRead = null)
    {
        Nodes = nodes;
        NodeTypes = ValueList.Of(nodes.Select(n => n.NodeType).Distinct(StringComparer.Ordinal));
        SequentialScans = sequentialScans;
        IndexesUsed = ValueList.Of(nodes.Where(n => n.Index is not null).Select(n => n.Index!).Distinct(StringComparer.Ordinal));
        var root = nodes.FirstOrDefault();
        EstimatedRows = root?.EstimatedRows;
        ActualRows = root?.ActualRows;
        PlanningMs = planningMs;
        SharedBlocksHit = sharedHit;
        SharedBlocksRead = sharedRead;
        ExecutionMs = executionMs;
        Text = text;
        Signature = string.Join(" / ", nodes.Select(n => $"{n.Depth}:{n.NodeType}:{n.Relation}:{n.Index}"));
    }

    /// <summary>The distinct node types, in plan order (e.g. "Index Scan", "SEARCH").</summary>
    public IReadOnlyList<string> NodeTypes { get; }

    /// <summary>Relations read in full: PostgreSQL Seq Scan nodes, SQLite SCAN without an index (and automatic indexes).</summary>
    public IReadOnlyList<ScannedRelation> SequentialScans { get; }

    /// <summary>Indexes the plan uses (SQLite: "table (INTEGER PRIMARY KEY)" for a rowid lookup).</summary>
    public IReadOnlyList<string> IndexesUsed { get; }

    /// <summary>The planner's row estimate for the whole statement (PostgreSQL).</summary>
    public double? EstimatedRows { get; }

    /// <summary>The rows the whole statement produced in the analysed run (PostgreSQL).</summary>
    public double? ActualRows { get; }

    /// <summary>Planning time of the analysed run (PostgreSQL).</summary>
    public double? PlanningMs { get; }

    /// <summary>Shared buffers the analysed run found in PostgreSQL's cache (BUFFERS, whole statement).</summary>
    public long? SharedBlocksHit { get; }

    /// <summary>Shared buffers the analysed run had to read from the OS or disk: high means a cold cache.</summary>
    public long? SharedBlocksRead { get; }

    /// <summary>Server-side execution time of the analysed run (PostgreSQL).</summary>
    public double? ExecutionMs { get; }

    /// <summary>Every node, depth-first, with its estimates.</summary>
    public IReadOnlyList<PlanNode> Nodes { get; }

    /// <summary>The plan as indented text, one node a line.</summary>
    public string Text { get; }

    /// <summary>The plan's shape, compared to decide PlanChanged.</summary>
    public string Signature { get; }

    /// <inheritdoc/>
    public override string ToString()
    {
        var parts = new List<string>();
        if (SequentialScans.Count > 0)
        {
            parts.Add("full scan of " + string.Join(", ", SequentialScans));
        }
        if (IndexesUsed.Count > 0)
        {
            parts.Add("index " + string.Join(", ", IndexesUsed));
        }
        if (parts.Count == 0)
        {
            parts.Add(string.Join(", ", NodeTypes));
        }
        if (EstimatedRows is { } estimated && ActualRows is { } actual)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"rows {estimated:0} est / {actual:0} actual"));
        }
        return string.Join("; ", parts);
    }
}

/// <summary>One node of a plan.</summary>
public sealed class PlanNode
{
    internal PlanNode(int depth, string nodeType, string? relation, string? index, double? estimatedRows, double? actualRows, long? loops, string detail)
    {
        Depth = depth;
        NodeType = nodeType;
        Relation = relation;
        Index = index;
        EstimatedRows = estimatedRows;
        ActualRows = actualRows;
        Loops = loops;
        Detail = detail;
    }

    /// <summary>0 for the root.</summary>
    public int Depth { get; }

    /// <summary>"Seq Scan", "Index Scan", "Hash Join" (PostgreSQL); "SCAN", "SEARCH" (SQLite).</summary>
    public string NodeType { get; }

    /// <summary>The table the node reads, schema-qualified on PostgreSQL, if any.</summary>
    public string? Relation { get; }

    /// <summary>The index the node uses, if any.</summary>
    public string? Index { get; }

    /// <summary>Rows the planner expected per loop (PostgreSQL).</summary>
    public double? EstimatedRows { get; }

    /// <summary>Rows the node produced in all loops together (PostgreSQL, analysed run).</summary>
    public double? ActualRows { get; }

    /// <summary>How many times the node ran (PostgreSQL).</summary>
    public long? Loops { get; }

    /// <summary>The node as one line of text.</summary>
    public string Detail { get; }

    /// <inheritdoc/>
    public override string ToString() => Detail;
}

/// <summary>A relation a plan reads in full, with its size.</summary>
public sealed class ScannedRelation
{
    internal ScannedRelation(string relation, long? rows, long? sizeBytes)
    {
        Relation = relation;
        Rows = rows;
        SizeBytes = sizeBytes;
    }

    /// <summary>The table (schema.table on PostgreSQL).</summary>
    public string Relation { get; }

    /// <summary>Its rows: the planner's estimate (reltuples) on PostgreSQL, an exact count on SQLite.</summary>
    public long? Rows { get; }

    /// <summary>Its size on disk with indexes and TOAST (PostgreSQL), or its pages (SQLite, when dbstat is available).</summary>
    public long? SizeBytes { get; }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Relation} ({(Rows is { } r ? $"{r:N0} rows" : "? rows")}{(SizeBytes is { } b ? $", {QueryStatistics.FormatBytes(b)}" : "")})");
}

/// <summary>Order statistics over timings.</summary>
internal static class QueryStatistics
{
    public static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    /// <summary>The nearest-rank percentile: the smallest sample with at least <paramref name="fraction"/> of samples at or below it.</summary>
    public static double NearestRank(IReadOnlyList<double> sorted, double fraction) =>
        sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Count) - 1, 0, sorted.Count - 1)];

    public static string FormatBytes(long bytes) => bytes >= 1 << 20
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:F1} MB")
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(bytes / 1024.0):F0} KB");
}
