using System.Data.Common;
using DbOps.Core.Archive;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>Remove-DeprecatedColumn and column archives: dropping a column (or rebuilding the table) and putting it back. (issue 17)</summary>
internal interface IColumnDialect
{
    /// <summary>
    /// What needs the column besides the table itself: indexes, constraints, views, triggers, generated columns. Each
    /// carries the statement that drops it when it may be dropped on its own (only ever run when the user named it).
    /// </summary>
    Task<IReadOnlyList<ColumnDependent>> DependentsAsync(DbConnection connection, TableSchema table, string column, CancellationToken cancellationToken);

    /// <summary>
    /// How the column goes, with <paramref name="dependents"/> (all named by the user): the statements that take the
    /// lock, then the DDL (never CASCADE: a dependent left over makes it fail). Where the engine cannot drop the column
    /// in place (SQLite, when a constraint of the table's own definition names it), the table is rebuilt without it.
    /// </summary>
    Task<ColumnDrop> PlanDropAsync(DbConnection connection, TableSchema table, string column, IReadOnlyList<ColumnDependent> dependents,
        TimeSpan lockTimeout, CancellationToken cancellationToken);

    /// <summary>The statement that adds an archived column back, nullable (it is filled by key before NOT NULL is restored).</summary>
    string AddColumnSql(TableRef table, ArchiveColumn column);

    /// <summary>The statement that makes a restored column NOT NULL again; null where the engine cannot (SQLite).</summary>
    string? SetNotNullSql(TableRef table, string column);

    /// <summary>A table of just these columns (a column archive's scratch or staging table).</summary>
    string CreateTableSql(TableRef table, IReadOnlyList<ArchiveColumn> columns);

    /// <summary>A session-private staging table's name (dropped with the session, or explicitly before commit).</summary>
    TableRef StagingTable(string name);

    /// <summary>The statement that creates <see cref="StagingTable"/>: private to the session, gone after the transaction.</summary>
    string CreateStagingTableSql(TableRef staging, IReadOnlyList<ArchiveColumn> columns);

    /// <summary>Sets <paramref name="column"/> of every row of <paramref name="table"/> from the staging row with the same key.</summary>
    string FillByKeySql(TableRef table, TableRef staging, IReadOnlyList<string> key, string column);

    /// <summary>
    /// Find-DeprecatedColumn: one scan of the table returning its row count, then for each column its non-NULL values,
    /// whether they are all one value (compared exactly, as stored), and the smallest value as text.
    /// </summary>
    string ValueSummarySql(TableRef table, IReadOnlyList<string> columns);

    /// <summary>Find-DeprecatedColumn -UseStatistics: the planner's statistics of the table's columns and their age; null where the engine keeps none.</summary>
    Task<TableColumnStatistics?> StatisticsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken);

    /// <summary>The statement texts the server recorded for this database, or why there are none (never an error).</summary>
    Task<RecordedStatements> RecordedStatementsAsync(DbConnection connection, CancellationToken cancellationToken);
}

/// <summary>One column's planner statistics.</summary>
/// <param name="Column">The column's name.</param>
/// <param name="NullFraction">The share of rows that are NULL (0 to 1).</param>
/// <param name="Distinct">Distinct non-NULL values: a count when positive, minus a share of the rows when negative, 0 when there are none.</param>
/// <param name="CommonValues">The most common values as the engine prints them, if recorded.</param>
internal sealed record ColumnStatistic(string Column, double NullFraction, double Distinct, string? CommonValues);

/// <summary>A table's planner statistics: when they were gathered, the row estimate, and each analysed column's figures.</summary>
internal sealed record TableColumnStatistics(DateTimeOffset? AnalyzedAt, TimeSpan? Age, long Rows, IReadOnlyList<ColumnStatistic> Columns);

/// <summary>Statement texts recorded by the server; <paramref name="Note"/> says why there are none, or which are hidden.</summary>
internal sealed record RecordedStatements(IReadOnlyList<string> Texts, string? Note);

/// <summary>An object that needs a column.</summary>
/// <param name="Kind">index, constraint, view, trigger, generated column, ...</param>
/// <param name="Name">The object's own name, as -Dependent names it (a stable made-up one for an unnamed SQLite constraint).</param>
/// <param name="Description">The object in words, for messages.</param>
/// <param name="DropSql">The statement that drops it alone; null when it cannot go on its own.</param>
/// <param name="InDefinition">Part of the table's own definition (SQLite): it goes by rebuilding the table without it.</param>
internal sealed record ColumnDependent(string Kind, string Name, string Description, string? DropSql, bool InDefinition = false);

/// <summary>The statements that drop a column, in the order they run, and what must hold before their COMMIT.</summary>
/// <param name="Lock">Session settings and the statement that takes the table lock; the checks under the lock follow them.</param>
/// <param name="Drop">The DDL in that transaction: the named dependents that drop alone, then the column (or the rebuild).</param>
/// <param name="Checks">Queries that must return no row after <paramref name="Drop"/> (a rebuild's foreign_key_check).</param>
/// <param name="Copied">
/// For a table rebuilt without the column: the columns the rebuild copies, whose row count and checksum must be the same
/// after it as before; null when the column is dropped in place.
/// </param>
internal sealed record ColumnDrop(IReadOnlyList<string> Lock, IReadOnlyList<string> Drop, IReadOnlyList<string> Checks, IReadOnlyList<string>? Copied);
