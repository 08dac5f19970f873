using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Serialization;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Journal;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Usage;

/// <summary>One table's usage counters at the moment a baseline was taken.</summary>
public sealed record TableCounters(string Schema, string Name, long SeqScan, long IdxScan, long Inserted, long Updated, long Deleted);

/// <summary>One index's scan counter at the moment a baseline was taken.</summary>
public sealed record IndexCounters(string Schema, string Index, long Scans);

/// <summary>
/// PostgreSQL's usage counters of every table and index at one moment (Start-UsageWatch), with what identifies the
/// database and the statistics generation they belong to. Find-UnusedTable and Find-UnusedIndex -Since judge the
/// counters' growth since then, so a young statistics window is no longer a reason to wait for a reset.
/// </summary>
public sealed record UsageBaseline
{
    /// <summary>When the counters were read (the server's clock).</summary>
    public required DateTimeOffset TakenAt { get; init; }

    /// <summary>Always PostgreSQL: SQLite keeps no usage counters.</summary>
    public required DatabaseProvider Provider { get; init; }

    /// <summary>host:port.</summary>
    public string? Server { get; init; }

    /// <summary>The database name.</summary>
    public required string Database { get; init; }

    /// <summary>The database's OID: a database dropped and created again under the same name has another.</summary>
    public required long DatabaseOid { get; init; }

    /// <summary>The server's start time then: a later start may have lost the counters (a crash resets them).</summary>
    public required DateTimeOffset ServerStart { get; init; }

    /// <summary>The database's last statistics reset then, if any.</summary>
    public DateTimeOffset? StatsReset { get; init; }

    /// <summary>Every user table's counters.</summary>
    public required IReadOnlyList<TableCounters> Tables { get; init; }

    /// <summary>Every user index's scans.</summary>
    public required IReadOnlyList<IndexCounters> Indexes { get; init; }

    /// <summary>The file it was saved to or read from, if any.</summary>
    [JsonIgnore]
    public string? Path { get; init; }

    /// <summary>Whether <paramref name="table"/> existed when the baseline was taken.</summary>
    internal bool Covers(TableRef table) => Tables.Any(t => t.Schema == table.Schema && t.Name == table.Name);

    /// <inheritdoc/>
    public override string ToString() => $"usage baseline of {Database} on {Server}, taken {TakenAt:u}";
}

/// <summary>Takes usage baselines and turns a baseline and the live counters into the window and the growth since.</summary>
public static class UsageWatch
{
    /// <summary>
    /// Sequential scans one journaled DbOps operation makes of a table it reads (pg_dump's COPY; an archive's one
    /// export pass, which also computes its checksum), measured by <c>UsageBaselineTests</c>. Scans up to this many per operation in the window
    /// are DbOps's own reads, not use.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, int> ScansPerRead = new Dictionary<string, int>
    {
        [JournalOperations.Backup] = 1,
        [JournalOperations.ArchiveCreated] = 1,
    };

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>
    /// Reads every counter now; with <paramref name="path"/>, saves the baseline there (atomically, owner-only; an
    /// existing file only with <paramref name="overwrite"/>).
    /// </summary>
    public static async Task<UsageBaseline> StartAsync(DbOpsConnection source, string? path, CancellationToken cancellationToken, bool overwrite = false)
    {
        var statistics = CountersOf(source);
        await using var session = await DatabaseEngines.For(source).OpenReadOnlyAsync(source, cancellationToken);
        var connection = session.Connection;
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var identity = await statistics.ReadIdentityAsync(connection, cancellationToken);
        var baseline = new UsageBaseline
        {
            TakenAt = identity.Now,
            Provider = source.Provider,
            Server = source.Server,
            Database = source.Database,
            DatabaseOid = identity.Oid,
            ServerStart = identity.ServerStart,
            StatsReset = identity.StatsReset,
            Tables = await statistics.ReadTableCountersAsync(connection, cancellationToken),
            Indexes = await statistics.ReadIndexCountersAsync(connection, cancellationToken),
        };
        if (path is not null)
        {
            baseline = baseline with { Path = ArtifactFiles.SaveUserFile(path, JsonSerializer.Serialize(baseline, Json), overwrite, "usage baseline") };
        }
        return baseline;
    }

    /// <summary>Reads a saved baseline.</summary>
    public static UsageBaseline Load(string path)
    {
        try
        {
            return (JsonSerializer.Deserialize<UsageBaseline>(File.ReadAllText(path), Json) ?? throw new JsonException("empty")) with { Path = System.IO.Path.GetFullPath(path) };
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new DbOpsException(e is FileNotFoundException or DirectoryNotFoundException ? ErrorIds.FileNotFound : ErrorIds.UsageBaselineMismatch,
                ErrorKind.InvalidArgument, $"The usage baseline {path} cannot be read: {e.Message}. Take one with Start-UsageWatch.", path, e);
        }
    }

    /// <summary>
    /// The window since the baseline and every counter's growth in it, read on <paramref name="connection"/>. A baseline
    /// of another database is UsageBaselineMismatch; one older than a statistics reset, a server start or any counter
    /// (a counter that went down was reset) is UsageBaselineStale: deltas across a reset would understate use.
    /// </summary>
    internal static async Task<(StatisticsWindow Window, Func<string, string, TableCounters> Table, Func<string, string, long> IndexScans)> SinceAsync(
        DbConnection connection, DbOpsConnection source, UsageBaseline baseline, CancellationToken cancellationToken)
    {
        var statistics = CountersOf(source);
        var identity = await statistics.ReadIdentityAsync(connection, cancellationToken);
        if (baseline.Provider != source.Provider || baseline.Database != source.Database || baseline.DatabaseOid != identity.Oid
            || !string.Equals(baseline.Server, source.Server, StringComparison.OrdinalIgnoreCase))
        {
            throw new DbOpsException(ErrorIds.UsageBaselineMismatch, ErrorKind.InvalidArgument,
                $"The usage baseline was taken of {baseline.Database} (OID {baseline.DatabaseOid}) on {baseline.Server}, not of {source.Database} " +
                $"(OID {identity.Oid}) on {source.Server}: its counters say nothing about this database. Take a baseline here with Start-UsageWatch.",
                baseline.Path ?? baseline.ToString());
        }
        string? stale = identity.ServerStart > baseline.TakenAt ? $"the server was started again at {identity.ServerStart:u}"
            : identity.StatsReset != baseline.StatsReset ? $"the database's statistics were reset at {identity.StatsReset:u}"
            : null;
        var tables = (await statistics.ReadTableCountersAsync(connection, cancellationToken))
            .ToDictionary(t => (t.Schema, t.Name));
        var indexes = (await statistics.ReadIndexCountersAsync(connection, cancellationToken))
            .ToDictionary(i => (i.Schema, i.Index));
        var before = baseline.Tables.ToDictionary(t => (t.Schema, t.Name));
        var beforeIndexes = baseline.Indexes.ToDictionary(i => (i.Schema, i.Index));
        stale ??= tables.Values.FirstOrDefault(t => before.TryGetValue((t.Schema, t.Name), out var b)
                      && (t.SeqScan < b.SeqScan || t.IdxScan < b.IdxScan || t.Inserted < b.Inserted || t.Updated < b.Updated || t.Deleted < b.Deleted)) is { } reset
                      ? $"the counters of {reset.Schema}.{reset.Name} went down (they were reset)" : null;
        stale ??= indexes.Values.FirstOrDefault(i => beforeIndexes.TryGetValue((i.Schema, i.Index), out var b) && i.Scans < b.Scans) is { } r
                      ? $"the scans of index {r.Schema}.{r.Index} went down (they were reset)" : null;
        if (stale is not null)
        {
            throw new DbOpsException(ErrorIds.UsageBaselineStale, ErrorKind.InvalidState,
                $"The usage baseline taken {baseline.TakenAt:u} is older than the statistics: {stale}. Counts since then would understate use; " +
                "take a new baseline with Start-UsageWatch and judge from that one.", baseline.Path ?? baseline.ToString());
        }
        var window = new StatisticsWindow(baseline.TakenAt, identity.Now - baseline.TakenAt, $"usage baseline taken {baseline.TakenAt:u}");
        // A table or index created after the baseline counts from zero: all its use is in the window.
        return (window,
            (schema, name) => tables.TryGetValue((schema, name), out var now)
                ? before.TryGetValue((schema, name), out var b)
                    ? new TableCounters(schema, name, now.SeqScan - b.SeqScan, now.IdxScan - b.IdxScan, now.Inserted - b.Inserted, now.Updated - b.Updated, now.Deleted - b.Deleted)
                    : now
                : new TableCounters(schema, name, 0, 0, 0, 0, 0),
            (schema, index) => (indexes.TryGetValue((schema, index), out var now) ? now.Scans : 0)
                               - (beforeIndexes.TryGetValue((schema, index), out var b) ? b.Scans : 0));
    }

    /// <summary>
    /// DbOps's own reads of a table in the window, from the journal: each entry's operation, time and the scans it
    /// accounts for.
    /// </summary>
    internal static IReadOnlyList<(JournalEntry Entry, int Scans)> JournaledReads(IReadOnlyList<JournalEntry> journal, DbOpsConnection source, TableRef table, StatisticsWindow window) =>
        journal
            .Where(e => e.IsAbout(source.Provider, source.Server, source.Database) && e.Time >= window.Since && ScansPerRead.ContainsKey(e.Operation)
                        && (e.Operation == JournalOperations.Backup || (e.Schema == table.Schema && e.Table == table.Name)))
            .Select(e => (e, ScansPerRead[e.Operation]))
            .ToList();

    /// <summary>The engine's usage counters; an engine that keeps none (SQLite) is ProviderNotSupported.</summary>
    private static IUsageStatistics CountersOf(DbOpsConnection source) =>
        DatabaseEngines.For(source).Inspection.UsageStatistics ?? throw new DbOpsException(ErrorIds.ProviderNotSupported, ErrorKind.InvalidArgument,
            $"{source} is {source.Provider}, which keeps no usage counters to take a baseline of. Use -CodePath, emptiness and dependents instead.", source.ToString());
}

/// <summary>What identifies a database and its statistics generation, with the server's clock, as the counters are read.</summary>
internal sealed class StatisticsIdentity
{
    public long Oid { get; set; }
    public DateTimeOffset? StatsReset { get; set; }
    public DateTimeOffset ServerStart { get; set; }
    public DateTimeOffset Now { get; set; }
}
