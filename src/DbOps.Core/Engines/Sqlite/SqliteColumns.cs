using System.Data.Common;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// SQLite's half of <see cref="IColumnDialect"/>. ALTER TABLE DROP COLUMN (SQLite 3.35) refuses a column that is
/// indexed, unique, in a foreign key, a CHECK, a generated column, a view or a trigger; the dependents found here
/// name those ahead of it, and SQLite's own refusal is the backstop for what text matching cannot see.
/// </summary>
internal sealed class SqliteColumns : IColumnDialect
{
    public static readonly SqliteColumns Instance = new();

    private const string ViewsAndTriggersSql = """
        SELECT type AS "Type", name AS "Name", tbl_name AS "On", sql AS "Sql"
        FROM sqlite_schema WHERE type IN ('view', 'trigger') AND sql IS NOT NULL ORDER BY type, name
        """;

    private static string Quote(string identifier) => SqliteEngine.Instance.QuoteIdentifier(identifier);

    public async Task<IReadOnlyList<ColumnDependent>> DependentsAsync(DbConnection connection, TableSchema table, string column, CancellationToken cancellationToken)
    {
        var found = new List<ColumnDependent>();
        foreach (var index in table.Indexes.Where(i => i.Columns.Contains(column, StringComparer.OrdinalIgnoreCase)
                                                       || (i.IsPartial && SqliteInspection.Mentions(i.Definition, column))))
        {
            // An automatic index backs a UNIQUE or PRIMARY KEY constraint in the CREATE TABLE: it goes only with a rebuild.
            found.Add(index.Definition.Length == 0
                ? new ColumnDependent("constraint", index.Name, $"unique constraint on ({string.Join(", ", index.Columns)})", null)
                : new ColumnDependent("index", index.Name, $"index {index.Name}", $"DROP INDEX {Quote(index.Name)}"));
        }
        foreach (var fk in table.ForeignKeys.Where(fk => fk.Columns.Contains(column, StringComparer.OrdinalIgnoreCase)))
        {
            found.Add(new ColumnDependent("constraint", fk.Name, $"foreign key ({string.Join(", ", fk.Columns)}) -> {fk.ReferencedTable}", null));
        }
        foreach (var (type, name, on, sql) in await connection.QueryAsync<(string, string, string, string)>(new CommandDefinition(ViewsAndTriggersSql, cancellationToken: cancellationToken)))
        {
            // Text matching may name an object that only mentions another table's column of that name: a false refusal, never a miss.
            if (SqliteInspection.Mentions(sql, column) && (type == "view" ? SqliteInspection.Mentions(sql, table.Table.Name) : true))
            {
                found.Add(type == "trigger"
                    ? new ColumnDependent("trigger", name, $"trigger {name} on {on}", $"DROP TRIGGER {Quote(name)}")
                    : new ColumnDependent("view", name, $"view {name}", $"DROP VIEW {Quote(name)}"));
            }
        }
        return found;
    }

    public string DropColumnSql(TableRef table, string column) =>
        $"ALTER TABLE {SqliteEngine.Instance.QualifiedName(table)} DROP COLUMN {Quote(column)}";

    public string AddColumnSql(TableRef table, ArchiveColumn column) =>
        $"ALTER TABLE {SqliteEngine.Instance.QualifiedName(table)} ADD COLUMN {Quote(column.Name)} {column.Type}".TrimEnd();

    /// <summary>SQLite cannot add NOT NULL to an existing column without a rebuild.</summary>
    public string? SetNotNullSql(TableRef table, string column) => null;

    public string CreateTableSql(TableRef table, IReadOnlyList<ArchiveColumn> columns) =>
        $"CREATE TABLE {Quote(table.Name)} ({ColumnList(columns)})";

    public TableRef StagingTable(string name) => new("temp", name);

    public string CreateStagingTableSql(TableRef staging, IReadOnlyList<ArchiveColumn> columns) =>
        $"CREATE TEMP TABLE {Quote(staging.Name)} ({ColumnList(columns)})";

    public string FillByKeySql(TableRef table, TableRef staging, IReadOnlyList<string> key, string column) =>
        $"UPDATE {SqliteEngine.Instance.QualifiedName(table)} AS t SET {Quote(column)} = s.{Quote(column)} FROM {staging.ToQuotedName()} AS s " +
        $"WHERE {string.Join(" AND ", key.Select(k => $"t.{Quote(k)} IS s.{Quote(k)}"))}";

    /// <summary>quote() shows the value as a literal (a blob as X'..'); BINARY so a NOCASE column's 'a' and 'A' are two values.</summary>
    public string ValueSummarySql(TableRef table, IReadOnlyList<string> columns) =>
        "SELECT count(*)" + string.Concat(columns.Select(Quote).Select(c =>
            $", count({c}), min({c} COLLATE BINARY) IS max({c} COLLATE BINARY), quote(min({c} COLLATE BINARY))")) +
        $" FROM {SqliteEngine.Instance.QualifiedName(table)}";

    /// <summary>SQLite's sqlite_stat tables hold index statistics only: nothing per column.</summary>
    public Task<TableColumnStatistics?> StatisticsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        Task.FromResult<TableColumnStatistics?>(null);

    public Task<RecordedStatements> RecordedStatementsAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult(new RecordedStatements([], "SQLite records no statement texts"));

    /// <summary>Declared types as archived (an empty one stays empty: no affinity, as in the source).</summary>
    private static string ColumnList(IReadOnlyList<ArchiveColumn> columns) =>
        string.Join(", ", columns.Select(c => $"{Quote(c.Name)} {c.Type}".TrimEnd()));
}
