using System.Data.Common;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Documentation;

/// <summary>A column's shape, never its values: how much of it is NULL and about how many distinct values it holds.</summary>
/// <param name="NullFraction">0 to 1, or null when the table is empty.</param>
/// <param name="DistinctCount">Distinct non-null values (an estimate when <see cref="TableProfile.Source"/> is pg_stats).</param>
internal sealed record ColumnProfile(double? NullFraction, long? DistinctCount);

/// <summary>A table's exact row count and its columns' profiles.</summary>
/// <param name="Rows">Exact row count, or null when the table could not be read.</param>
/// <param name="Columns">Profiles by column name; empty when profiling was not asked for.</param>
/// <param name="Source">Where the profiles come from: <c>pg_stats</c>, <c>counted</c>, or both.</param>
/// <param name="Error">Why the table could not be read (e.g. no SELECT privilege), or null.</param>
internal sealed record TableProfile(long? Rows, IReadOnlyDictionary<string, ColumnProfile> Columns, string? Source, string? Error = null)
{
    public static TableProfile Unreadable(string error) => new(null, new Dictionary<string, ColumnProfile>(), null, error);
}

/// <summary>
/// Profiles columns cheaply: on PostgreSQL from the planner's statistics (pg_stats) where the table has been
/// analysed, otherwise with one aggregate query per table (count, count of non-null, count of distinct).
/// Only aggregates are read: no value of any row ever leaves the server.
/// </summary>
internal static class ColumnProfiler
{
    /// <summary>Columns per aggregate query: PostgreSQL allows 1664 result columns, SQLite 2000 by default.</summary>
    private const int ColumnsPerQuery = 400;

    public static async Task<TableProfile> ProfileAsync(
        IDatabaseEngine provider, DbConnection connection, TableSchema table, bool profile, CancellationToken cancellationToken)
    {
        if (!profile)
        {
            return new TableProfile(await provider.CountRowsAsync(connection, table.Table, cancellationToken), new Dictionary<string, ColumnProfile>(), null);
        }
        var profiles = new Dictionary<string, ColumnProfile>(StringComparer.Ordinal);
        var sources = new List<string>();
        var statistics = await provider.Inspection.ReadColumnStatisticsAsync(connection, table.Table, cancellationToken);

        long? rows = null;
        var uncovered = table.Columns.Where(c => !statistics.ContainsKey(c.Name)).ToList();
        if (uncovered.Count > 0 || table.Columns.Count == 0)
        {
            IEnumerable<ColumnInfo[]> chunks = uncovered.Count == 0 ? [[]] : uncovered.Chunk(ColumnsPerQuery);
            foreach (var chunk in chunks)
            {
                rows = await CountAsync(provider, connection, table.Table, chunk, profiles, cancellationToken);
            }
            if (uncovered.Count > 0)
            {
                sources.Add("counted");
            }
        }
        rows ??= await provider.CountRowsAsync(connection, table.Table, cancellationToken);
        foreach (var column in table.Columns)
        {
            if (statistics.TryGetValue(column.Name, out var s))
            {
                // n_distinct below zero is minus the number of distinct values divided by the number of rows (-1: every row
                // differs); zero means unknown (ANALYZE cannot tell for types without an equality operator, such as json),
                // unless every value is NULL.
                long? distinct = s.Distinct > 0 ? (long)Math.Round(s.Distinct)
                    : s.Distinct < 0 ? (long)Math.Round(-s.Distinct * rows.Value)
                    : s.NullFraction >= 1 ? 0 : null;
                profiles[column.Name] = new ColumnProfile(rows == 0 ? null : s.NullFraction, distinct);
            }
        }
        if (statistics.Count > 0 && table.Columns.Any(c => statistics.ContainsKey(c.Name)))
        {
            sources.Insert(0, "pg_stats");
        }
        return new TableProfile(rows.Value, profiles, sources.Count == 0 ? null : string.Join(" + ", sources));
    }

    /// <summary>One aggregate query: count(*), then count(c) and count(DISTINCT c) for each column. Returns the row count.</summary>
    private static async Task<long> CountAsync(
        IDatabaseEngine provider, DbConnection connection, TableRef table, IReadOnlyList<ColumnInfo> columns,
        Dictionary<string, ColumnProfile> profiles, CancellationToken cancellationToken)
    {
        var select = new List<string> { "count(*)" };
        foreach (var column in columns)
        {
            var quoted = provider.QuoteIdentifier(column.Name);
            select.Add($"count({quoted})");
            select.Add(provider.Inspection.CountDistinct(quoted));
        }
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {string.Join(", ", select)} FROM {provider.Inspection.OwnRows(table)}";
        command.CommandTimeout = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var rows = Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
        for (var i = 0; i < columns.Count; i++)
        {
            var nonNull = Convert.ToInt64(reader.GetValue(1 + 2 * i), System.Globalization.CultureInfo.InvariantCulture);
            var distinct = Convert.ToInt64(reader.GetValue(2 + 2 * i), System.Globalization.CultureInfo.InvariantCulture);
            profiles[columns[i].Name] = new ColumnProfile(rows == 0 ? null : (double)(rows - nonNull) / rows, distinct);
        }
        return rows;
    }
}
