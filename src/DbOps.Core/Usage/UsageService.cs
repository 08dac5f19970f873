using System.Data.Common;
using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Usage;

/// <summary>What Find-UnusedTable was asked to do.</summary>
/// <param name="Source">The database to examine.</param>
/// <param name="CodePaths">Folders whose files are searched for each table's name.</param>
/// <param name="Exclude">Wildcard patterns (* and ?) of table names ("name" or "schema.name") to leave out.</param>
/// <param name="MinimumStatsAge">PostgreSQL: usage statistics younger than this cannot make a table Unused or Empty.</param>
public sealed record UnusedTableRequest(
    DbOpsConnection Source, IReadOnlyList<string>? CodePaths = null, IReadOnlyList<string>? Exclude = null, TimeSpan? MinimumStatsAge = null)
{
    /// <summary>PostgreSQL: judge the counters' growth since this baseline (Start-UsageWatch) instead of since the last reset.</summary>
    public UsageBaseline? Since { get; init; }

    /// <summary>The operations journal whose DbOps reads (backups, archives) are not counted as use; the default journal when null.</summary>
    public string? JournalPath { get; init; }
}

/// <summary>
/// Finds tables nothing uses, with the evidence: PostgreSQL's usage counters (and how long they have counted),
/// emptiness, dependents, and references in code. Read-only.
/// </summary>
public static class UsageService
{
    /// <summary>Examines every user table (less the excluded ones) and returns one verdict per table.</summary>
    public static async Task<IReadOnlyList<TableUsage>> FindAsync(UnusedTableRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var source = request.Source;
        var provider = DatabaseEngines.For(source.Provider);
        var minimumAge = request.MinimumStatsAge ?? UsageStatistics.DefaultMinimumAge;
        var activity = $"Finding unused tables in {source}";
        observer.Progress(new OperationProgress(activity, "Reading the catalog", 0));

        await using var session = await provider.OpenReadOnlyAsync(source, cancellationToken);

        var connection = session.Connection;
        var schema = await SchemaReader.ReadAsync(provider, connection, cancellationToken);
        var excluded = (request.Exclude ?? []).Select(Wildcard).ToList();
        var tables = schema.Tables.Where(t => !excluded.Any(p => p.IsMatch(t.Table.Name) || p.IsMatch($"{t.Table.Schema}.{t.Table.Name}"))).ToList();

        var statistics = provider.Inspection.UsageStatistics;
        StatisticsWindow? window = null;
        Dictionary<(string, string), UsageCounters> counters = [];
        if (statistics is not null)
        {
            window = await statistics.ReadWindowAsync(connection, cancellationToken);
            counters = (await statistics.ReadTableUsageAsync(connection, cancellationToken)).ToDictionary(c => (c.Schema, c.Name));
            if (request.Since is { } baseline)
            {
                (window, var growth, _) = await UsageWatch.SinceAsync(connection, source, baseline, cancellationToken);
                foreach (var counter in counters.Values)
                {
                    counter.KeepGrowth(growth(counter.Schema, counter.Name));
                }
            }
            observer.Verbose($"Usage counters since {window.Since:u} ({window.Source}).");
        }
        var dependents = await DependentsAsync(provider, connection, schema, tables.Select(t => t.Table).ToList(), cancellationToken);

        CodeReferences? code = null;
        if (request.CodePaths is { Count: > 0 } paths)
        {
            observer.Progress(new OperationProgress(activity, $"Searching {string.Join(", ", paths)} for table names", 10));
            code = await Task.Run(() => CodeReferences.Search(paths, tables.Select(t => t.Table.Name).ToList(), cancellationToken), cancellationToken);
            observer.Verbose($"Searched {code.FilesSearched} files under {string.Join(", ", paths)} for {tables.Count} table names.");
        }

        var journal = new Lazy<IReadOnlyList<Journal.JournalEntry>>(() => Journal.OperationsJournal.Open(request.JournalPath).Read());
        var results = new List<TableUsage>();
        for (var i = 0; i < tables.Count; i++)
        {
            var table = tables[i].Table;
            observer.Progress(new OperationProgress(activity, $"Examining {table}", 20 + 80 * i / Math.Max(1, tables.Count)));
            counters.TryGetValue((table.Schema, table.Name), out var counter);
            // Only inside a baseline's window, and only for tables the baseline saw: every journaled backup there read
            // them. Over the whole statistics window a backup may predate the table, and discounting it would hide use.
            var ownReads = counter is not null && window is not null && request.Since is { } since && since.Covers(table)
                ? DiscountOwnReads(counter, UsageWatch.JournaledReads(journal.Value, source, table, window))
                : null;
            // Where the engine counts use (PostgreSQL), reading the table would count as the scan this cmdlet looks for, so
            // emptiness comes from its size: no pages means no rows. A table with pages counts as holding rows even if all were deleted.
            var rows = statistics is null
                ? await provider.CountRowsAsync(connection, table, cancellationToken)
                : counter is { HeapBytes: 0 } ? 0 : Math.Max(1, Math.Max(counter?.LiveRows ?? 0, counter?.Estimate ?? 0));
            var hasRows = rows > 0;
            var (references, files) = code?.For(table.Name) ?? (0, []);
            results.Add(Decide(source, statistics is not null, table, hasRows, rows, counter, window, minimumAge,
                dependents.TryGetValue(table, out var d) ? d : [], code is null ? null : references, files, code?.FilesSearched ?? 0, ownReads));
        }
        return results;
    }

    /// <summary>The verdict and its evidence. Without usage statistics (<paramref name="keepsStatistics"/> false) the rows were counted exactly.</summary>
    private static TableUsage Decide(DbOpsConnection source, bool keepsStatistics, TableRef table, bool hasRows, long rows, UsageCounters? counters, StatisticsWindow? window,
        TimeSpan minimumAge, IReadOnlyList<string> dependents, int? references, IReadOnlyList<string> files, int filesSearched, string? ownReads = null)
    {
        var evidence = new List<string>
        {
            !keepsStatistics
                ? (hasRows ? $"holds {rows.ToString("N0", CultureInfo.InvariantCulture)} rows" : "holds no rows")
                : !hasRows ? "holds no rows (no data pages)"
                : counters is { LiveRows: 0, Estimate: 0 } ? "has data pages but its statistics count no live rows (deleted rows not yet vacuumed, or statistics reset): treated as holding rows"
                : $"holds about {rows.ToString("N0", CultureInfo.InvariantCulture)} rows (statistics estimate)",
        };
        if (counters is not null && window is not null)
        {
            evidence.Add($"since {window.Since:u} ({window.Source}): {counters.SeqScan} sequential and {counters.IdxScan} index scans, " +
                         $"{counters.Inserted} rows inserted, {counters.Updated} updated, {counters.Deleted} deleted");
        }
        else if (!keepsStatistics)
        {
            evidence.Add($"{source.Provider} keeps no usage statistics");
        }
        if (ownReads is not null)
        {
            evidence.Add(ownReads);
        }
        evidence.Add(dependents.Count == 0 ? "no dependents" : $"dependents: {string.Join(", ", dependents)}");
        if (references is { } count)
        {
            evidence.Add(count == 0 ? $"no code references in {filesSearched} files searched" : $"{count} code references in {files.Count} files: {string.Join(", ", files.Take(5))}{(files.Count > 5 ? ", ..." : "")}");
        }

        UsageVerdict verdict;
        string reason;
        if (references > 0)
        {
            (verdict, reason) = (UsageVerdict.Active, $"code names it ({references} references in {files.Count} files)");
        }
        else if (counters is { Activity: > 0 })
        {
            (verdict, reason) = (UsageVerdict.Active, $"it was scanned or written since {window?.Since:u}, {window?.Source} ({counters.SeqScan + counters.IdxScan} scans, " +
                                                      $"{counters.Inserted + counters.Updated + counters.Deleted} rows written)");
        }
        else if (dependents.Count > 0)
        {
            (verdict, reason) = (UsageVerdict.Unknown, $"other objects depend on it ({string.Join(", ", dependents.Take(3))}{(dependents.Count > 3 ? ", ..." : "")})");
        }
        else if (window is not null && !window.Covers(minimumAge))
        {
            (verdict, reason) = (UsageVerdict.Unknown, window.TooYoungReason(minimumAge));
        }
        else if (!keepsStatistics && references is null && hasRows)
        {
            (verdict, reason) = (UsageVerdict.Unknown, $"{source.Provider} keeps no usage statistics; pass -CodePath so code references can decide");
        }
        else if (!hasRows)
        {
            (verdict, reason) = (UsageVerdict.Empty, "it holds no rows and nothing shows it is used");
        }
        else
        {
            (verdict, reason) = (UsageVerdict.Unused, window is not null
                ? $"no scans or writes in {StatisticsWindow.Describe(window.Age ?? TimeSpan.Zero)} of statistics (since {window.Since:u}, {window.Source}), no dependents{(references is null ? "" : ", no code references")}"
                : "no dependents and no code references");
        }
        return new TableUsage(source, table, verdict, reason, evidence, counters, rows, counters?.SizeBytes, window?.Since, window?.Age,
            dependents, references, files);
    }

    /// <summary>
    /// Takes DbOps's own journaled reads of the table in the window out of its sequential scans (never more than there
    /// are), and says so for the evidence; null when there were none.
    /// </summary>
    private static string? DiscountOwnReads(UsageCounters counter, IReadOnlyList<(Journal.JournalEntry Entry, int Scans)> reads)
    {
        if (reads.Count == 0)
        {
            return null;
        }
        var discounted = Math.Min(counter.SeqScan, reads.Sum(r => r.Scans));
        counter.SeqScan -= discounted;
        return $"{discounted} sequential scan(s) not counted as use: DbOps's own journaled reads " +
               $"({string.Join(", ", reads.Take(5).Select(r => $"{r.Entry.Operation} at {r.Entry.Time:u}"))}{(reads.Count > 5 ? ", ..." : "")})";
    }

    /// <summary>Foreign keys pointing in (from other tables), then the views, triggers and virtual tables the engine finds naming the table.</summary>
    private static async Task<Dictionary<TableRef, List<string>>> DependentsAsync(
        IDatabaseEngine provider, DbConnection connection, DatabaseSchema schema, IReadOnlyList<TableRef> tables, CancellationToken cancellationToken)
    {
        var result = tables.ToDictionary(t => t, _ => new List<string>());
        foreach (var table in tables)
        {
            foreach (var fk in schema.ForeignKeysReferencing(table).Where(fk => fk.Table != table))
            {
                result[table].Add($"foreign key {fk.Name} on {fk.Table}({string.Join(", ", fk.Columns)})");
            }
        }
        foreach (var (table, dependent) in await provider.Inspection.ReadDependentsAsync(connection, tables, cancellationToken))
        {
            result[table].Add(dependent);
        }
        return result;
    }

    private static Regex Wildcard(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

}
