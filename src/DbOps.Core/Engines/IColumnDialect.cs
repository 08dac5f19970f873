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

    /// <summary>The statement that drops the column (never CASCADE: a dependent left over makes it fail).</summary>
    string DropColumnSql(TableRef table, string column);

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
}

/// <summary>An object that needs a column.</summary>
/// <param name="Kind">index, constraint, view, trigger, generated column, ...</param>
/// <param name="Name">The object's own name, as -Dependent names it.</param>
/// <param name="Description">The object in words, for messages.</param>
/// <param name="DropSql">The statement that drops it alone; null when it cannot go without the table being rebuilt or changed by hand.</param>
internal sealed record ColumnDependent(string Kind, string Name, string Description, string? DropSql);
