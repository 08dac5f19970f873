using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.Core.Columns;

/// <summary>What Find-DeprecatedColumn concluded about a column.</summary>
public enum ColumnVerdict
{
    /// <summary>Something marks it deprecated (its values, its comment, -Pattern) and nothing shows it is used or needed.</summary>
    Deprecated,
    /// <summary>Something marks it deprecated, but code or recorded queries name it, or other objects depend on it; Reason says which.</summary>
    InUse,
    /// <summary>Nothing marks it deprecated.</summary>
    Active,
}

/// <summary>What Find-DeprecatedColumn was asked to do.</summary>
/// <param name="Source">The database to examine.</param>
/// <param name="Tables">Tables to examine ("name" or "schema.name"; wildcards * ? allowed); every user table when null or empty.</param>
/// <param name="Columns">Columns to examine (wildcards allowed); every column outside the key when null or empty.</param>
/// <param name="Patterns">Wildcard patterns of column names that mark a column deprecated (e.g. is_mock).</param>
/// <param name="CodePaths">Folders whose files are searched for whole-word references to each column's name.</param>
/// <param name="UseStatistics">PostgreSQL: read NULLs and distinct values from the planner's statistics instead of counting.</param>
public sealed record DeprecatedColumnRequest(DbOpsConnection Source, IReadOnlyList<string>? Tables = null, IReadOnlyList<string>? Columns = null,
    IReadOnlyList<string>? Patterns = null, IReadOnlyList<string>? CodePaths = null, bool UseStatistics = false);

/// <summary>One column's deprecation evidence and the verdict drawn from it. Table and Column bind Remove-DeprecatedColumn's parameters.</summary>
public sealed class ColumnDeprecation
{
    internal ColumnDeprecation(DbOpsConnection source, TableRef table, string column)
    {
        Provider = source.Provider;
        Database = source.Database;
        Schema = table.Schema;
        Table = TypedName(source.Provider, table);
        Column = column;
        TableRef = table;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The table as Remove-DeprecatedColumn reads it back exactly: schema.name (SQLite: name), each part in double quotes where it needs them.</summary>
    public string Table { get; }

    /// <summary>The column's name.</summary>
    public string Column { get; }

    /// <summary>The column's declared type.</summary>
    public string DataType { get; internal init; } = "";

    /// <summary>Deprecated, InUse or Active.</summary>
    public ColumnVerdict Verdict { get; internal set; }

    /// <summary>The deciding evidence, in one sentence.</summary>
    public string Reason { get; internal set; } = "";

    /// <summary>Every fact considered, one per line.</summary>
    public IReadOnlyList<string> Evidence { get; internal set; } = [];

    /// <summary>Rows of the table: counted, or the statistics' estimate; null when unknown.</summary>
    public long? Rows { get; internal init; }

    /// <summary>Rows whose value is not NULL: counted, or estimated from the statistics; null when unknown.</summary>
    public long? NonNullValues { get; internal init; }

    /// <summary>True when the table holds rows and every one is NULL in this column.</summary>
    public bool AllNull { get; internal init; }

    /// <summary>True when at least two rows hold the column and every one holds the same non-NULL value.</summary>
    public bool Constant { get; internal init; }

    /// <summary>The constant value as text (SQLite: as a literal), when <see cref="Constant"/>.</summary>
    public string? ConstantValue { get; internal init; }

    /// <summary>True when the figures above come from the planner's statistics (-UseStatistics on PostgreSQL), not from counting.</summary>
    public bool FromStatistics { get; internal init; }

    /// <summary>How old those statistics are (the last ANALYZE or autoanalyze); null when counted or never analysed.</summary>
    public TimeSpan? StatisticsAge { get; internal init; }

    /// <summary>The column's comment (PostgreSQL); SQLite keeps none.</summary>
    public string? Comment { get; internal init; }

    /// <summary>True when the comment marks the column deprecated (deprecated, obsolete, unused, legacy, do not use, ...).</summary>
    public bool CommentMarksDeprecated { get; internal init; }

    /// <summary>True when the name matches one of -Pattern.</summary>
    public bool MatchesPattern { get; internal init; }

    /// <summary>Whole-word references to the column's name under -CodePath; null when no -CodePath was given.</summary>
    public int? CodeReferences { get; internal init; }

    /// <summary>The files under -CodePath that name the column.</summary>
    public IReadOnlyList<string> CodeFiles { get; internal init; } = [];

    /// <summary>PostgreSQL: recorded statements (pg_stat_statements) naming both the column and its table; null when they could not be read.</summary>
    public int? QueryReferences { get; internal init; }

    /// <summary>Objects that need the column (indexes, constraints, views, triggers, generated columns): Remove-DeprecatedColumn -Dependent names them.</summary>
    public IReadOnlyList<string> Dependents { get; internal init; } = [];

    internal TableRef TableRef { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{TableRef}.{Column}: {Verdict}";

    /// <summary>A plain lower-case identifier reads back as itself on both engines; anything else is quoted so it reads back exactly.</summary>
    private static string TypedName(DatabaseProvider provider, TableRef table)
    {
        static string Part(string name) => System.Text.RegularExpressions.Regex.IsMatch(name, @"^[a-z_][a-z0-9_]*\z") ? name : TableRef.QuoteIdentifier(name);
        return provider == DatabaseProvider.SQLite ? Part(table.Name) : $"{Part(table.Schema)}.{Part(table.Name)}";
    }
}
