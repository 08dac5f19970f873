using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Dapper;
using DbOps.Core.Performance;

namespace DbOps.Core.Engines;

/// <summary>Turns PostgreSQL's <c>EXPLAIN (..., FORMAT JSON)</c> output into a <see cref="QueryPlanSummary"/>.</summary>
internal static class PostgresPlanReader
{
    /// <summary>Sizes of the relations a plan reads in full: the planner's row estimate and the size with indexes and TOAST.</summary>
    private const string RelationSizeSql = """
        SELECT c.reltuples::bigint AS Rows, pg_catalog.pg_total_relation_size(c.oid) AS Bytes
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = @schema AND c.relname = @name
        """;

    /// <summary>True when any node of the (unanalysed) plan writes: INSERT, UPDATE, DELETE, MERGE, also inside a CTE.</summary>
    public static bool Modifies(string explainJson)
    {
        using var document = JsonDocument.Parse(explainJson);
        return Walk(document.RootElement[0].GetProperty("Plan"), 0).Any(n => n.Node.GetProperty("Node Type").GetString() == "ModifyTable");
    }

    public static async Task<QueryPlanSummary> SummariseAsync(string explainJson, DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        using var document = JsonDocument.Parse(explainJson);
        var top = document.RootElement[0];
        var nodes = new List<PlanNode>();
        var scanned = new List<(string Schema, string Name)>();
        var text = new StringBuilder();
        foreach (var (node, depth) in Walk(top.GetProperty("Plan"), 0))
        {
            var type = node.GetProperty("Node Type").GetString()!;
            var schema = String(node, "Schema");
            var name = String(node, "Relation Name");
            var relation = name is null ? null : schema is null ? name : $"{schema}.{name}";
            var index = String(node, "Index Name");
            var loops = Number(node, "Actual Loops");
            var actual = Number(node, "Actual Rows") is { } perLoop ? perLoop * (loops ?? 1) : (double?)null;
            var estimated = Number(node, "Plan Rows");
            var detail = string.Create(CultureInfo.InvariantCulture,
                $"{type}{(relation is null ? "" : $" on {relation}")}{(index is null ? "" : $" using {index}")} (rows {estimated:0} est, {(actual is { } a ? a.ToString("0", CultureInfo.InvariantCulture) : "?")} actual{(loops is > 1 ? $", {loops} loops" : "")})");
            nodes.Add(new PlanNode(depth, type, relation, index, estimated, actual, loops is null ? null : (long)loops.Value, detail));
            text.Append(' ', depth * 2).AppendLine(detail);
            if (type == "Seq Scan" && schema is not null && name is not null && !scanned.Contains((schema, name)))
            {
                scanned.Add((schema, name));
            }
        }
        var sizes = new List<ScannedRelation>();
        foreach (var (schema, name) in scanned)
        {
            var size = await connection.QuerySingleOrDefaultAsync<(long Rows, long Bytes)?>(new CommandDefinition(
                RelationSizeSql, new { schema, name }, transaction, cancellationToken: cancellationToken));
            sizes.Add(new ScannedRelation($"{schema}.{name}", size?.Rows is >= 0 ? size?.Rows : null, size?.Bytes));
        }
        // The root node's buffer counts include its children's.
        var root = top.GetProperty("Plan");
        return new QueryPlanSummary(nodes, sizes, Number(top, "Planning Time"), Number(top, "Execution Time"), text.ToString().TrimEnd(),
            (long?)Number(root, "Shared Hit Blocks"), (long?)Number(root, "Shared Read Blocks"));
    }

    /// <summary>Depth-first, parents before children.</summary>
    private static IEnumerable<(JsonElement Node, int Depth)> Walk(JsonElement node, int depth)
    {
        yield return (node, depth);
        if (node.TryGetProperty("Plans", out var children))
        {
            foreach (var child in children.EnumerateArray())
            {
                foreach (var item in Walk(child, depth + 1))
                {
                    yield return item;
                }
            }
        }
    }

    private static string? String(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static double? Number(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}
