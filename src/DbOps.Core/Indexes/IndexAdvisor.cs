using System.Text;
using DbOps.Core.Connections;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;
using DbOps.Core.Sql;

namespace DbOps.Core.Indexes;

/// <summary>What Find-UnusedIndex looks for.</summary>
/// <param name="Connection">The database.</param>
/// <param name="MinimumStatsAge">Usage statistics younger than this make an unscanned index Unknown, not Unused (default 7 days, as Find-UnusedTable).</param>
public sealed record UnusedIndexRequest(DbOpsConnection Connection, TimeSpan? MinimumStatsAge = null)
{
    /// <summary>PostgreSQL: judge the scans since this baseline (Start-UsageWatch) instead of since the last reset.</summary>
    public Usage.UsageBaseline? Since { get; init; }
}

/// <summary>
/// Finds indexes to add (relationships whose columns lead no index) and indexes to drop (unused, duplicate,
/// overlapping). Reads only, on a read-only connection. Indexes backing a constraint are never reported.
/// </summary>
public static class IndexAdvisor
{
    /// <summary>Declared and inferred relationships (inferred exactly as Test-DataIntegrity infers them) that no index leads with.</summary>
    public static async Task<IReadOnlyList<MissingIndex>> FindMissingAsync(DbOpsConnection source, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var engine = DatabaseEngines.For(source);
        var schema = await ReadSchemaAsync(engine, source, cancellationToken);
        var relationships = RelationshipInference.All(schema);
        observer.Verbose($"{relationships.Count} relationship(s): {relationships.Count(r => r.Source == RelationshipSource.Declared)} declared, " +
                         $"{relationships.Count(r => r.Source == RelationshipSource.Inferred)} inferred.");
        var missing = new List<MissingIndex>();
        foreach (var relationship in relationships)
        {
            var child = schema.Find(relationship.Child);
            if (child is null || IsCovered(child, relationship.ChildColumns)
                || missing.Any(m => m.Table == relationship.Child.ToString() && SameSet(m.Columns, relationship.ChildColumns)))
            {
                continue;
            }
            var name = IndexSql.SuggestName(schema, child, relationship.ChildColumns, missing.Select(m => m.SuggestedName));
            missing.Add(new MissingIndex(source, relationship, name, IndexSql.Create(engine, child.Table, name, relationship.ChildColumns)));
        }
        return missing;
    }

    /// <summary>
    /// Unused (PostgreSQL: no scans in a statistics window at least the minimum age; younger windows give Unknown),
    /// duplicate and overlapping indexes. Never an index that backs a primary key, unique or exclusion constraint,
    /// nor a unique index whose uniqueness nothing else enforces.
    /// </summary>
    public static async Task<IReadOnlyList<IndexFinding>> FindUnusedAsync(UnusedIndexRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var source = request.Connection;
        var minimumAge = request.MinimumStatsAge ?? UsageStatistics.DefaultMinimumAge;
        var engine = DatabaseEngines.For(source);
        await using var session = await engine.OpenReadOnlyAsync(source, cancellationToken);
        var connection = session.Connection;
        var schema = await SchemaReader.ReadAsync(engine, connection, cancellationToken);
        var usage = new Dictionary<(string, string), (long Scans, long SizeBytes, long Counter)>();
        var statistics = engine.Inspection.UsageStatistics;
        StatisticsWindow? window = null;
        if (statistics is not null)
        {
            window = await statistics.ReadWindowAsync(connection, cancellationToken);
            Func<string, string, long>? growth = null;
            if (request.Since is { } baseline)
            {
                (window, _, growth) = await Usage.UsageWatch.SinceAsync(connection, source, baseline, cancellationToken);
            }
            foreach (var row in await engine.Tuning.ReadIndexScansAsync(connection, cancellationToken))
            {
                usage[(row.Schema, row.Index)] = (growth?.Invoke(row.Schema, row.Index) ?? row.Scans, row.SizeBytes, row.Scans);
            }
            observer.Verbose(window.Covers(minimumAge)
                ? $"Usage statistics cover {StatisticsWindow.Describe(window.Age!.Value)} ({window.Source})."
                : $"Unscanned indexes are reported as Unknown: {window.TooYoungReason(minimumAge)}.");
        }
        else
        {
            observer.Verbose("SQLite records no index usage: only duplicate and overlapping indexes are reported.");
        }

        var findings = new List<IndexFinding>();
        foreach (var table in schema.Tables)
        {
            var redundant = FindRedundant(engine.Tuning, table);
            foreach (var index in table.Indexes.Where(i => i.IsValid && !BacksConstraint(i)))
            {
                (long Scans, long SizeBytes, long Counter)? stats = usage.TryGetValue((index.Table.Schema, index.Name), out var u) ? u : null;
                var drop = IndexSql.Drop(engine.Tuning, index.Table.Schema, index.Name);
                if (redundant.TryGetValue(index.Name, out var cover))
                {
                    var (reason, keeper) = cover;
                    var evidence = reason == IndexFindingReason.Duplicate
                        ? $"Same definition as {keeper.Name}, which stays."
                        : $"Its columns ({string.Join(", ", index.Columns)}) lead {keeper.Name} ({string.Join(", ", keeper.Columns)}), which serves the same lookups.";
                    findings.Add(new IndexFinding(source, index, reason, IndexVerdict.Redundant, stats?.Scans, stats?.SizeBytes, window, keeper.Name, evidence, drop));
                }
                else if (stats is { Scans: 0 } && !index.IsUnique && window is not null)
                {
                    var old = window.Covers(minimumAge);
                    var evidence = old
                        ? $"No scans in {StatisticsWindow.Describe(window.Age!.Value)} (since {window.Since:u}, {window.Source})."
                        : $"No scans, but {window.TooYoungReason(minimumAge)}.";
                    findings.Add(new IndexFinding(source, index, IndexFindingReason.Unused, old ? IndexVerdict.Unused : IndexVerdict.Unknown,
                        0, stats.Value.SizeBytes, window, null, evidence, drop) { ScanCounter = stats.Value.Counter });
                }
            }
        }
        return findings;
    }

    /// <summary>True for indexes that must never be dropped as unused: constraint-backing ones (and SQLite's automatic ones).</summary>
    internal static bool BacksConstraint(IndexInfo index) =>
        index.IsPrimaryKey || index.ConstraintName is not null || index.Name.StartsWith("sqlite_autoindex_", StringComparison.Ordinal);

    /// <summary>
    /// True when the primary key or a valid B-tree on plain columns over the whole table leads with exactly these
    /// columns, in any order. Partial, expression, GIN, BRIN and other kinds do not serve a relationship's lookups.
    /// </summary>
    internal static bool IsCovered(TableSchema table, IReadOnlyList<string> columns) =>
        (table.PrimaryKey is { } pk && Leads(pk.Columns, columns))
        || table.Indexes.Any(i => i.IsValid && IsPlainBTree(i) && Leads(i.Columns, columns));

    /// <summary>A B-tree on plain columns over the whole table (INCLUDE columns allowed).</summary>
    internal static bool IsPlainBTree(IndexInfo index) => !index.IsPartial && !HasExpression(index) && Method(index) == "btree";

    private static bool Leads(IReadOnlyList<string> key, IReadOnlyList<string> columns) =>
        key.Count >= columns.Count && SameSet(key.Take(columns.Count).ToList(), columns);

    private static bool SameSet(IReadOnlyCollection<string> a, IReadOnlyCollection<string> b) =>
        a.Count == b.Count && a.All(x => b.Contains(x, StringComparer.OrdinalIgnoreCase));

    /// <summary>
    /// Indexes another valid index makes redundant, with the reason and the index that stays. Of identical indexes
    /// the one backing a constraint, else a unique one, else the first by name stays. An index is overlapping when
    /// its columns are a strict leading prefix of a wider index of the same method; unique, partial and covering
    /// (INCLUDE) ones are left alone because the wider index does not do their job.
    /// </summary>
    private static Dictionary<string, (IndexFindingReason Reason, IndexInfo Keeper)> FindRedundant(ITuningDialect dialect, TableSchema table)
    {
        var result = new Dictionary<string, (IndexFindingReason, IndexInfo)>(StringComparer.Ordinal);
        var valid = table.Indexes.Where(i => i.IsValid)
            .OrderByDescending(BacksConstraint).ThenByDescending(i => i.IsUnique).ThenBy(i => i.Name, StringComparer.Ordinal).ToList();
        foreach (var group in valid.GroupBy(i => ComparisonKey(dialect, i)))
        {
            var keeper = group.First();
            foreach (var duplicate in group.Skip(1).Where(i => !BacksConstraint(i) && (!i.IsUnique || keeper.IsUnique)))
            {
                result[duplicate.Name] = (IndexFindingReason.Duplicate, keeper);
            }
        }
        foreach (var narrow in valid.Where(i => !result.ContainsKey(i.Name) && !BacksConstraint(i) && !i.IsUnique && !i.IsPartial && !HasInclude(i) && !HasExpression(i)))
        {
            var wider = valid.FirstOrDefault(w => w.Columns.Count > narrow.Columns.Count && !w.IsPartial && !result.ContainsKey(w.Name)
                && Method(w) == Method(narrow) && !HasExpression(w)
                && w.Columns.Take(narrow.Columns.Count).SequenceEqual(narrow.Columns, StringComparer.OrdinalIgnoreCase));
            if (wider is not null)
            {
                result[narrow.Name] = (IndexFindingReason.Overlapping, wider);
            }
        }
        // A duplicate of an index that is itself overlapping points at the index that stays, so the drops can go in any order.
        foreach (var (name, (reason, keeper)) in result.ToList())
        {
            var stays = keeper;
            while (result.TryGetValue(stays.Name, out var next))
            {
                stays = next.Item2;
            }
            result[name] = (reason, stays);
        }
        return result;
    }

    /// <summary>What makes two indexes the same (see <see cref="ITuningDialect.IndexComparisonKey"/>).</summary>
    internal static string ComparisonKey(ITuningDialect dialect, IndexInfo index) =>
        // SQLite keeps no SQL for the indexes behind UNIQUE and PRIMARY KEY constraints: their key list stands in.
        index.Definition.Length == 0 ? SqlText.Loose($"({string.Join(", ", index.Columns.Select(IndexSql.Quote))})")
        : dialect.IndexComparisonKey(index.Definition);

    internal static string Normalise(string sql) =>
        string.Join(' ', sql.Replace("\"", "").Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries)).ToLowerInvariant();

    internal static string Method(IndexInfo index)
    {
        var definition = Normalise(index.Definition);
        var at = definition.IndexOf(" using ", StringComparison.Ordinal);
        return at < 0 ? "btree" : definition[(at + 7)..].Split(' ', '(')[0];
    }

    private static bool HasInclude(IndexInfo index) => Normalise(index.Definition).Contains(" include (", StringComparison.Ordinal);

    private static bool HasExpression(IndexInfo index) => index.Columns.Any(c => c.Contains('(') || c.Contains('<') || c.Contains(' '));

    private static async Task<DatabaseSchema> ReadSchemaAsync(IDatabaseEngine engine, DbOpsConnection source, CancellationToken cancellationToken)
    {
        await using var session = await engine.OpenReadOnlyAsync(source, cancellationToken);
        return await SchemaReader.ReadAsync(engine, session.Connection, cancellationToken);
    }
}

/// <summary>The index statements DbOps runs, built with the provider's quoting (invariant 6).</summary>
internal static class IndexSql
{
    private const int PostgresMaxName = 63;

    /// <summary><c>CREATE INDEX CONCURRENTLY "ix" ON "s"."t" ("a", "b")</c>; SQLite: plain CREATE INDEX on the unqualified table.</summary>
    public static string Create(IDatabaseEngine engine, TableRef table, string name, IEnumerable<string> columns) =>
        $"{engine.Tuning.CreateIndexCommand} {Quote(name)} ON {engine.QualifiedName(table)} ({string.Join(", ", columns.Select(Quote))})";

    /// <summary><c>DROP INDEX CONCURRENTLY "s"."ix"</c>; SQLite: <c>DROP INDEX "main"."ix"</c>.</summary>
    public static string Drop(ITuningDialect dialect, string schema, string name, bool ifExists = false) =>
        $"{dialect.DropIndexCommand} {(ifExists ? "IF EXISTS " : "")}{Quote(schema)}.{Quote(name)}";

    /// <summary>Both engines quote identifiers the same way (the SQL standard's double quotes).</summary>
    internal static string Quote(string identifier) => TableRef.QuoteIdentifier(identifier);

    /// <summary><c>ix_table_col1_col2</c>, cut to 63 bytes, with a number added when another index already has the name.</summary>
    /// <param name="schema">The database's schema: existing index and table names are taken.</param>
    /// <param name="table">The table to index.</param>
    /// <param name="columns">The key columns.</param>
    /// <param name="alsoTaken">Names already suggested in the same run.</param>
    public static string SuggestName(DatabaseSchema schema, TableSchema table, IEnumerable<string> columns, IEnumerable<string>? alsoTaken = null)
    {
        var stem = Truncate($"ix_{table.Table.Name}_{string.Join("_", columns)}", PostgresMaxName);
        var taken = schema.Tables.Where(t => t.Table.Schema == table.Table.Schema)
            .SelectMany(t => t.Indexes.Select(i => i.Name).Append(t.Table.Name))
            .Concat(alsoTaken ?? []).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var name = stem;
        for (var n = 2; taken.Contains(name); n++)
        {
            name = Truncate(stem, PostgresMaxName - 1 - n.ToString(System.Globalization.CultureInfo.InvariantCulture).Length) + "_" + n;
        }
        return name;
    }

    private static string Truncate(string text, int maxBytes)
    {
        while (Encoding.UTF8.GetByteCount(text) > maxBytes)
        {
            text = text[..^1];
        }
        return text;
    }
}
