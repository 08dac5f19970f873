using System.Data.Common;
using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using DbOps.Core.Performance;

namespace DbOps.Core.Engines;

/// <summary>Turns SQLite's <c>EXPLAIN QUERY PLAN</c> rows into a <see cref="QueryPlanSummary"/>.</summary>
internal static partial class SqlitePlanReader
{
    /// <summary>One row of EXPLAIN QUERY PLAN.</summary>
    public sealed record Row(long Id, long Parent, string Detail);

    // SCAN t | SCAN t USING INDEX i | SCAN t USING COVERING INDEX i | SEARCH t USING INDEX i (a=?) |
    // SEARCH t USING INTEGER PRIMARY KEY (rowid=?) | SEARCH t USING AUTOMATIC COVERING INDEX (a=?); "t AS alias" possible.
    [GeneratedRegex(@"^(?<op>SCAN|SEARCH) (?<table>\S+)(?: AS \S+)?(?: USING (?<auto>AUTOMATIC )?(?:COVERING )?(?:INDEX (?<index>\S+)|(?<pk>INTEGER PRIMARY KEY|PRIMARY KEY)))?",
                    RegexOptions.CultureInvariant)]
    private static partial Regex AccessPattern();

    public static async Task<QueryPlanSummary> SummariseAsync(IReadOnlyList<Row> rows, string query, DbConnection connection, CancellationToken cancellationToken)
    {
        var tables = (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')", cancellationToken: cancellationToken))).ToList();
        var depths = new Dictionary<long, int> { [0] = -1 };
        var nodes = new List<PlanNode>();
        var scanned = new List<string>();
        var text = new StringBuilder();
        foreach (var row in rows)
        {
            var depth = (depths.TryGetValue(row.Parent, out var parentDepth) ? parentDepth : -1) + 1;
            depths[row.Id] = depth;
            var match = AccessPattern().Match(row.Detail);
            string type;
            string? relation = null, index = null;
            if (match.Success)
            {
                type = match.Groups["op"].Value;
                relation = ResolveAlias(match.Groups["table"].Value, query, tables);
                // An automatic index is built by reading the whole table on every execution: a full scan in disguise.
                if (match.Groups["auto"].Success || (type == "SCAN" && !match.Groups["index"].Success))
                {
                    if (!scanned.Contains(relation, StringComparer.Ordinal))
                    {
                        scanned.Add(relation);
                    }
                }
                else if (match.Groups["index"].Success)
                {
                    index = match.Groups["index"].Value;
                }
                else if (match.Groups["pk"].Success)
                {
                    index = $"{relation} ({match.Groups["pk"].Value})";
                }
            }
            else
            {
                // "USE TEMP B-TREE FOR ORDER BY", "CO-ROUTINE x", "COMPOUND QUERY", ...: the words before any name.
                type = string.Join(' ', row.Detail.Split(' ').TakeWhile(w => w.Length > 0 && w.All(c => char.IsUpper(c) || c == '-')));
                type = type.Length == 0 ? row.Detail : type;
            }
            nodes.Add(new PlanNode(depth, type, relation, index, null, null, null, row.Detail));
            text.Append(' ', depth * 2).AppendLine(row.Detail);
        }
        var sizes = new List<ScannedRelation>();
        foreach (var table in scanned)
        {
            sizes.Add(await SizeAsync(connection, table, cancellationToken));
        }
        return new QueryPlanSummary(nodes, sizes, null, null, text.ToString().TrimEnd());
    }

    /// <summary>
    /// SQLite's plan names an aliased table by its alias ("SCAN s"): find "table [AS] alias" in the query and
    /// return the table, so the summary names real tables.
    /// </summary>
    private static string ResolveAlias(string name, string query, IReadOnlyList<string> tables)
    {
        if (tables.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            return name;
        }
        var pattern = "[\"`\\[]?([A-Za-z_][A-Za-z0-9_$]*)[\"`\\]]?\\s+(?:AS\\s+)?[\"`\\[]?" + Regex.Escape(name) + "[\"`\\]]?(?![A-Za-z0-9_$])";
        foreach (Match m in Regex.Matches(query, pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant))
        {
            if (tables.FirstOrDefault(t => string.Equals(t, m.Groups[1].Value, StringComparison.OrdinalIgnoreCase)) is { } table)
            {
                return table;
            }
        }
        return name;
    }

    private static async Task<ScannedRelation> SizeAsync(DbConnection connection, string table, CancellationToken cancellationToken)
    {
        var quoted = "\"" + table.Replace("\"", "\"\"") + "\"";
        long? rows = null, bytes = null;
        try
        {
            rows = await connection.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT count(*) FROM {quoted}", cancellationToken: cancellationToken));
        }
        catch (DbException)
        {
            // A view or CTE name in the plan: no table to count.
        }
        try
        {
            bytes = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT sum(pgsize) FROM dbstat WHERE name = @table", new { table }, cancellationToken: cancellationToken));
        }
        catch (DbException)
        {
            // The SQLite library was built without the dbstat table.
        }
        return new ScannedRelation(table, rows, bytes);
    }
}
