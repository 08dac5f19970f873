using System.Data.Common;
using System.Globalization;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Integrity;

/// <summary>
/// The columns that name a row in samples: the primary key, else a unique key over NOT NULL columns, else the
/// engine's row address (SQLite rowid, PostgreSQL ctid). <see cref="Names"/> are what users see.
/// </summary>
internal sealed record RowKey(IReadOnlyList<string> Names, bool IsRowAddress);

/// <summary>
/// Two forms of one set-based query: <see cref="Listing"/>, the SQL a person runs to see every offending row
/// (key columns first, ordered by key), and <see cref="Probe"/>, which counts them and returns the first
/// <see cref="IntegritySql.SampleSize"/> keys in one statement over the offending rows materialized first: the count
/// is a scalar subquery over them, so it is taken before LIMIT.
/// </summary>
internal sealed record RowQuery(string Listing, string Probe);

/// <summary>How integrity checks spell their SQL for one engine: quoting, row keys, and the listing/probe pair.</summary>
internal sealed class IntegritySql(IDatabaseEngine provider)
{
    public const int SampleSize = 10;

    public IDatabaseEngine Provider { get; } = provider;

    public string Quote(string identifier) => Provider.QuoteIdentifier(identifier);

    /// <summary>A table as SQL: "schema"."name" on PostgreSQL, "name" on SQLite (its main schema).</summary>
    public string Table(TableRef table) => Provider.QualifiedName(table);

    /// <summary>A column, optionally qualified by a table alias.</summary>
    public string Column(string? alias, string column) => alias is null ? Quote(column) : $"{alias}.{Quote(column)}";

    public string ColumnList(string? alias, IEnumerable<string> columns) => string.Join(", ", columns.Select(c => Column(alias, c)));

    public RowKey KeyOf(TableSchema table)
    {
        if (table.PrimaryKey is { Columns.Count: > 0 } primary)
        {
            return new RowKey(primary.Columns, false);
        }
        var unique = table.UniqueKeys.FirstOrDefault(k => k.Columns.All(c => table.FindColumn(c) is { IsNullable: false }));
        return unique is not null ? new RowKey(unique.Columns, false) : new RowKey([Provider.RowAddress(table)], true);
    }

    /// <summary>The key's columns as SQL (row addresses are system columns, so they are not quoted).</summary>
    public string KeyList(string? alias, RowKey key) => string.Join(", ", KeyExpressions(alias, key));

    public IReadOnlyList<string> KeyExpressions(string? alias, RowKey key) =>
        key.IsRowAddress ? [alias is null ? key.Names[0] : $"{alias}.{key.Names[0]}"] : key.Names.Select(c => Column(alias, c)).ToList();

    /// <summary>
    /// Builds the listing and the probe over <paramref name="fromWhere"/> (a FROM ... WHERE ... that yields exactly the
    /// offending rows). The listing also shows <paramref name="shownColumns"/> after the key.
    /// </summary>
    public RowQuery Rows(string? alias, RowKey key, IEnumerable<string> shownColumns, string fromWhere, string? with = null)
    {
        var keys = KeyList(alias, key);
        var shown = shownColumns.Where(c => !key.Names.Contains(c)).Select(c => Column(alias, c)).ToList();
        var prefix = with is null ? "" : $"WITH {with}\n";
        var listing = $"{prefix}SELECT {string.Join(", ", [keys, .. shown])}\n{fromWhere}\nORDER BY {keys}";
        // MATERIALIZED: the planner must find the offending rows first (a scan it may run in parallel), then keep only the
        // lowest keys for the sample (a top-N heap sort); left to itself it may walk the whole table in key order to avoid a
        // sort it guesses is big. A separate count(*) plus an ORDER BY key LIMIT 10 anti-join reads the table twice: the
        // planner estimates one offending row and scans for the sample too (issue 22). The count is a scalar subquery, not
        // count(*) OVER (): a window copies every offending row into a second tuplestore (which spills past work_mem).
        var aliases = Enumerable.Range(0, key.Names.Count).Select(i => $"dbops_k{i}").ToList();
        var aliased = string.Join(", ", KeyExpressions(alias, key).Zip(aliases, (k, a) => $"{k} AS {a}"));
        var probe = $"WITH {(with is null ? "" : with + ",\n")}dbops_rows AS MATERIALIZED (\nSELECT {aliased}\n{fromWhere})\n" +
                    $"SELECT (SELECT count(*) FROM dbops_rows) AS dbops_total, {string.Join(", ", aliases)}\nFROM dbops_rows\n" +
                    $"ORDER BY {string.Join(", ", aliases)}\nLIMIT {SampleSize}";
        return new RowQuery(listing, probe);
    }

    /// <summary>"c.a IS NOT NULL AND c.b IS NOT NULL".</summary>
    public string AllNotNull(string? alias, IEnumerable<string> columns) =>
        string.Join(" AND ", columns.Select(c => $"{Column(alias, c)} IS NOT NULL"));

    /// <summary>Runs a probe: the total from its first column, the sample keys from the rest.</summary>
    public static async Task<(long Total, IReadOnlyList<string> Sample)> CountAndSampleAsync(
        DbConnection connection, DbTransaction? transaction, string probeSql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = probeSql;
        command.Transaction = transaction;
        command.CommandTimeout = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        long total = 0;
        var sample = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            total = Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture);
            sample.Add(FormatKey(reader, 1));
        }
        return (total, sample);
    }

    /// <summary>A key as text: the value for a one-column key, "(a, b)" for a composite one.</summary>
    public static string FormatKey(DbDataReader reader, int first)
    {
        var parts = Enumerable.Range(first, reader.FieldCount - first).Select(i => FormatValue(reader.IsDBNull(i) ? null : reader.GetValue(i))).ToList();
        return parts.Count == 1 ? parts[0] : $"({string.Join(", ", parts)})";
    }

    public static string FormatValue(object? value) => value switch
    {
        null => "NULL",
        string s => s,
        DateTime d => d.ToString(d.TimeOfDay == TimeSpan.Zero ? "yyyy-MM-dd" : "yyyy-MM-dd HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture),
        DateTimeOffset d => d.ToString("yyyy-MM-dd HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture),
        byte[] b => "\\x" + Convert.ToHexStringLower(b),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>"(a, b)" or "a", as people write columns in messages.</summary>
    public static string Names(IReadOnlyList<string> columns) => columns.Count == 1 ? columns[0] : $"({string.Join(", ", columns)})";
}
