using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.Core.Usage;

/// <summary>What Find-UnusedTable concluded about a table.</summary>
public enum UsageVerdict
{
    /// <summary>Holds rows, and nothing shows it is used: no scans or writes over old-enough statistics, no dependents, no code references.</summary>
    Unused,
    /// <summary>Holds no rows, and nothing shows it is used.</summary>
    Empty,
    /// <summary>Something shows it is used: scans or writes, or code that names it.</summary>
    Active,
    /// <summary>The evidence cannot decide (young statistics, dependents, or SQLite without -CodePath); Reason says why.</summary>
    Unknown,
}

/// <summary>One table's usage evidence and the verdict drawn from it.</summary>
public sealed class TableUsage
{
    internal TableUsage(DbOpsConnection source, TableRef table, UsageVerdict verdict, string reason, IReadOnlyList<string> evidence,
        UsageCounters? counters, long rows, long? sizeBytes, DateTimeOffset? statsSince, TimeSpan? statsAge,
        IReadOnlyList<string> dependents, int? codeReferences, IReadOnlyList<string> codeFiles)
    {
        Provider = source.Provider;
        Database = source.Database;
        Schema = table.Schema;
        Table = table.Name;
        Verdict = verdict;
        Reason = reason;
        Evidence = ValueList.Of(evidence);
        SequentialScans = counters?.SeqScan;
        IndexScans = counters?.IdxScan;
        RowsInserted = counters?.Inserted;
        RowsUpdated = counters?.Updated;
        RowsDeleted = counters?.Deleted;
        Rows = rows;
        SizeBytes = sizeBytes;
        StatsSince = statsSince;
        StatsAge = statsAge;
        Dependents = ValueList.Of(dependents);
        CodeReferences = codeReferences;
        CodeFiles = ValueList.Of(codeFiles);
        Source = source;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The table's name.</summary>
    public string Table { get; }

    /// <summary>schema.name (SQLite: name).</summary>
    public string QualifiedName => new TableRef(Schema, Table).ToString();

    /// <summary>Unused, Empty, Active or Unknown.</summary>
    public UsageVerdict Verdict { get; }

    /// <summary>The deciding evidence, in one sentence.</summary>
    public string Reason { get; }

    /// <summary>Every fact considered, one per line.</summary>
    public IReadOnlyList<string> Evidence { get; }

    /// <summary>PostgreSQL: sequential scans since the statistics window began; null for SQLite.</summary>
    public long? SequentialScans { get; }

    /// <summary>PostgreSQL: index scans since the statistics window began; null for SQLite.</summary>
    public long? IndexScans { get; }

    /// <summary>PostgreSQL: rows inserted in the window.</summary>
    public long? RowsInserted { get; }

    /// <summary>PostgreSQL: rows updated in the window.</summary>
    public long? RowsUpdated { get; }

    /// <summary>PostgreSQL: rows deleted in the window.</summary>
    public long? RowsDeleted { get; }

    /// <summary>Rows: exact for SQLite; for PostgreSQL an estimate from its statistics, 0 only when the table has no pages at all.</summary>
    public long Rows { get; }

    /// <summary>PostgreSQL: table, index and TOAST size in bytes; null for SQLite.</summary>
    public long? SizeBytes { get; }

    /// <summary>PostgreSQL: when the usage counters started counting.</summary>
    public DateTimeOffset? StatsSince { get; }

    /// <summary>PostgreSQL: how old the usage counters are.</summary>
    public TimeSpan? StatsAge { get; }

    /// <summary>Objects that depend on the table: foreign keys pointing in, views, triggers of other tables that name it.</summary>
    public IReadOnlyList<string> Dependents { get; }

    /// <summary>Whole-word references to the table's name under -CodePath; null when no -CodePath was given.</summary>
    public int? CodeReferences { get; }

    /// <summary>The files under -CodePath that name the table.</summary>
    public IReadOnlyList<string> CodeFiles { get; }

    /// <summary>The connection the table lives in, for the next cmdlet in a pipeline.</summary>
    internal DbOpsConnection Source { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{QualifiedName}: {Verdict}";
}

/// <summary>PostgreSQL's usage counters for one table.</summary>
internal sealed class UsageCounters
{
    public string Schema { get; set; } = "";
    public string Name { get; set; } = "";
    public long SeqScan { get; set; }
    public long IdxScan { get; set; }
    public long Inserted { get; set; }
    public long Updated { get; set; }
    public long Deleted { get; set; }
    public long LiveRows { get; set; }
    public long SizeBytes { get; set; }
    public long HeapBytes { get; set; }
    public long Estimate { get; set; }

    public long Activity => SeqScan + IdxScan + Inserted + Updated + Deleted;

    /// <summary>Keeps only the growth since a baseline: these counters less the baseline's.</summary>
    public void KeepGrowth(TableCounters growth)
    {
        (SeqScan, IdxScan, Inserted, Updated, Deleted) = (growth.SeqScan, growth.IdxScan, growth.Inserted, growth.Updated, growth.Deleted);
    }
}
