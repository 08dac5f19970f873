using System.Data.Common;
using System.Globalization;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Errors;
using DbOps.Core.Schema;
using DbOps.Core.Sql;

namespace DbOps.Core.Engines;

/// <summary>
/// SQLite's half of <see cref="IColumnDialect"/>. ALTER TABLE DROP COLUMN (SQLite 3.35) refuses a column that is
/// indexed, unique, in a foreign key, in a CHECK other than its own, used by a generated column, a view or a trigger
/// (https://www.sqlite.org/lang_altertable.html#altertabdropcol). The dependents found here name those ahead of it;
/// named indexes, views and triggers are dropped on their own, and when a named constraint of the table's definition
/// needs the column, the table is rebuilt without the column and those constraints by the documented procedure
/// (https://www.sqlite.org/lang_altertable.html#otheralter), as sqlite-utils' transform does. SQLite's own refusal is
/// the backstop for what text matching cannot see.
/// </summary>
internal sealed class SqliteColumns : IColumnDialect
{
    public static readonly SqliteColumns Instance = new();

    private const string ViewsAndTriggersSql = """
        SELECT type AS "Type", name AS "Name", tbl_name AS "On", sql AS "Sql"
        FROM sqlite_schema WHERE type IN ('view', 'trigger') AND sql IS NOT NULL ORDER BY type, name
        """;

    /// <summary>The table's indexes and triggers as created, in creation order: a rebuild's DROP TABLE takes them, and they are made again.</summary>
    private const string TableObjectsSql = """
        SELECT name AS "Name", sql AS "Sql" FROM sqlite_schema
        WHERE tbl_name = @table COLLATE NOCASE AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY rowid
        """;

    /// <summary>Other tables whose foreign keys reference the table: a rebuild checks their rows too.</summary>
    private const string ReferencingTablesSql = """
        SELECT DISTINCT m.name FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f
        WHERE m.type = 'table' AND f."table" = @table COLLATE NOCASE AND m.name <> @table COLLATE NOCASE ORDER BY m.name
        """;

    private const string NameTakenSql = "SELECT count(*) FROM sqlite_schema WHERE name = @name COLLATE NOCASE";

    private static string Quote(string identifier) => SqliteEngine.Instance.QuoteIdentifier(identifier);

    public async Task<IReadOnlyList<ColumnDependent>> DependentsAsync(DbConnection connection, TableSchema table, string column, CancellationToken cancellationToken)
    {
        var found = new List<ColumnDependent>();
        foreach (var index in table.Indexes.Where(i => i.Columns.Contains(column, StringComparer.OrdinalIgnoreCase)
                                                       || (i.IsPartial && SqliteInspection.Mentions(i.Definition, column))))
        {
            // An automatic index backs a UNIQUE or PRIMARY KEY constraint in the CREATE TABLE: it goes only with a rebuild.
            found.Add(index.Definition.Length == 0
                ? new ColumnDependent("constraint", index.Name, $"unique constraint {index.Name} on ({string.Join(", ", index.Columns)})", null, InDefinition: true)
                : new ColumnDependent("index", index.Name, $"index {index.Name}", $"DROP INDEX {Quote(index.Name)}"));
        }
        foreach (var fk in table.ForeignKeys.Where(fk => fk.Columns.Contains(column, StringComparer.OrdinalIgnoreCase)))
        {
            found.Add(new ColumnDependent("constraint", fk.Name, $"foreign key {fk.Name} ({string.Join(", ", fk.Columns)}) -> {fk.ReferencedTable}", null, InDefinition: true));
        }
        if (Definition(table) is { } definition)
        {
            var items = definition.Items.ToList();
            found.AddRange(ChecksNaming(table, items, column).Select(c => c.Dependent));
            found.AddRange(GeneratedFrom(items, column).Select(name => new ColumnDependent("generated column", name, $"generated column {name}", null)));
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

    /// <summary>
    /// DROP COLUMN in place when nothing of the table's definition needs the column; otherwise the rebuild: a new table
    /// with the definition as written minus the column and the named constraints, the rows copied with their rowids, the
    /// old table dropped, the new one renamed, its indexes and triggers made again, and the AUTOINCREMENT counter kept.
    /// Views and other tables' triggers and foreign keys name the table, so they hold again once the rename is done.
    /// </summary>
    public async Task<ColumnDrop> PlanDropAsync(DbConnection connection, TableSchema table, string column, IReadOnlyList<ColumnDependent> dependents,
        TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        var name = SqliteEngine.Instance.QualifiedName(table.Table);
        var alone = dependents.Where(d => d.DropSql is not null).ToList();
        if (!dependents.Any(d => d.InDefinition))
        {
            return new ColumnDrop(SqliteRemoval.Instance.LockStatements(table.Table, lockTimeout),
                [.. alone.Select(d => d.DropSql!), $"ALTER TABLE {name} DROP COLUMN {Quote(column)}"], [], null);
        }
        var definition = Definition(table) ?? throw new DbOpsException(ErrorIds.ColumnRebuildFailed, ErrorKind.InvalidState,
            $"{table.Table} is not an ordinary table (its definition does not start with CREATE TABLE), so it cannot be rebuilt without {column}; nothing was changed.",
            table.Table.ToString());
        var rebuilt = "dbops_new_" + table.Table.Name;
        if (await connection.ExecuteScalarAsync<long>(new CommandDefinition(NameTakenSql, new { name = rebuilt }, cancellationToken: cancellationToken)) > 0)
        {
            throw new DbOpsException(ErrorIds.ColumnRebuildFailed, ErrorKind.InvalidState,
                $"{table.Table} is rebuilt without {column} under the name {rebuilt} first, and that name is taken (a run of another tool?). " +
                "Nothing was changed; rename or drop it first.", rebuilt);
        }

        var items = definition.Items.ToList();
        var checks = ChecksNaming(table, items, column);
        var kept = new List<string>();
        for (var i = 0; i < items.Count; i++)
        {
            var owner = SqliteTableDefinition.ColumnName(items[i]);
            if (SqliteNames.Same(owner, column) || (owner is null && KeyListNames(items[i], column)))
            {
                continue;
            }
            var text = checks.Where(c => c.Item == i).OrderByDescending(c => c.Start).Aggregate(items[i], (t, c) => t.Remove(c.Start, c.End - c.Start));
            if (text.Trim().Length > 0)
            {
                kept.Add(text);
            }
        }
        var copied = table.Columns.Where(c => !c.IsGenerated && !SqliteNames.Same(c.Name, column)).Select(c => c.Name).ToList();
        var quoted = string.Join(", ", copied.Select(Quote));
        if (!definition.WithoutRowid)
        {
            quoted = SqliteConstraints.RowidAlias(table) + ", " + quoted;
        }
        var droppedAlone = alone.Select(d => d.Name).ToHashSet(SqliteNames.Comparer);
        var remade = (await connection.QueryAsync<(string Name, string Sql)>(new CommandDefinition(TableObjectsSql, new { table = table.Table.Name }, cancellationToken: cancellationToken)))
            .Where(o => !droppedAlone.Contains(o.Name)).Select(o => o.Sql).ToList();
        var referencing = await connection.QueryAsync<string>(new CommandDefinition(ReferencingTablesSql, new { table = table.Table.Name }, cancellationToken: cancellationToken));
        var autoincrement = SqlText.Tokens(table.CreateSql!).Any(t => t.Kind == SqlText.TokenKind.Word
            && string.Equals(table.CreateSql!.Substring(t.Start, t.Length), "AUTOINCREMENT", StringComparison.OrdinalIgnoreCase));

        IReadOnlyList<string> drop =
        [
            .. alone.Select(d => d.DropSql!),
            $"CREATE TABLE {Quote(rebuilt)} ({string.Join(", ", kept)}){definition.Options}",
            $"INSERT INTO {Quote(rebuilt)} ({quoted}) SELECT {quoted} FROM {name}",
            // DROP TABLE deletes the table's AUTOINCREMENT counter; the old one goes over to the new table, so no key is handed out twice.
            .. autoincrement ? (string[])[$"DELETE FROM sqlite_sequence WHERE name = {Literal(rebuilt)}",
                                          $"UPDATE sqlite_sequence SET name = {Literal(rebuilt)} WHERE name = {Literal(table.Table.Name)}"] : [],
            $"DROP TABLE {name}",
            $"ALTER TABLE {Quote(rebuilt)} RENAME TO {name}",
            .. remade,
        ];
        return new ColumnDrop(RebuildLock(lockTimeout), drop,
            [.. new[] { table.Table.Name }.Concat(referencing).Select(t => $"PRAGMA foreign_key_check({Quote(t)})")], copied);
    }

    /// <summary>
    /// A rebuild's lock. Foreign keys are off (SQLite ignores the switch inside a transaction), so dropping the old table
    /// neither deletes nor refuses rows of other tables that reference it (its implicit DELETE would run their ON DELETE
    /// actions); legacy_alter_table is on, so renaming the new table neither checks nor rewrites the views and triggers
    /// that name the old one. foreign_key_check proves the references before COMMIT; the session is closed after it.
    /// </summary>
    private static IReadOnlyList<string> RebuildLock(TimeSpan lockTimeout) =>
        ["PRAGMA foreign_keys = OFF", "PRAGMA legacy_alter_table = ON", $"PRAGMA busy_timeout = {(long)lockTimeout.TotalMilliseconds}", "BEGIN IMMEDIATE"];

    /// <summary>The table's CREATE TABLE text split into items; null for a virtual table.</summary>
    private static SqliteTableDefinition? Definition(TableSchema table)
    {
        if (table.CreateSql is not { } sql)
        {
            return null;
        }
        var words = Significant(sql).Take(2).Select(t => sql.Substring(t.Start, t.Length).ToUpperInvariant()).ToList();
        return words is ["CREATE", "TABLE"] ? SqliteTableDefinition.Parse(sql) : null;
    }

    /// <summary>A CHECK of the table's definition that names the column, and where it is: item, and its span there.</summary>
    private sealed record DefinitionCheck(ColumnDependent Dependent, int Item, int Start, int End);

    /// <summary>
    /// The CHECK constraints that name the column, except the column's own (they go with it, as with DROP COLUMN); each
    /// named by its CONSTRAINT name, else t_c_check, t_c_check1, ... in the order written.
    /// </summary>
    private static List<DefinitionCheck> ChecksNaming(TableSchema table, IReadOnlyList<string> items, string column)
    {
        var found = new List<DefinitionCheck>();
        var unnamed = 0;
        for (var item = 0; item < items.Count; item++)
        {
            if (SqliteNames.Same(SqliteTableDefinition.ColumnName(items[item]), column))
            {
                continue;
            }
            foreach (var (given, start, end, expression) in CheckClauses(items[item]).Where(c => SqliteInspection.Mentions(c.Expression, column)))
            {
                var name = given ?? $"{table.Table.Name}_{column}_check{(unnamed == 0 ? "" : unnamed.ToString(CultureInfo.InvariantCulture))}";
                unnamed += given is null ? 1 : 0;
                found.Add(new DefinitionCheck(new ColumnDependent("constraint", name, $"check constraint {name}: CHECK ({expression})", null, InDefinition: true),
                    item, start, end));
            }
        }
        return found;
    }

    /// <summary>The CHECK clauses of one item (a table CHECK is the whole item): the CONSTRAINT name, the span from CONSTRAINT or CHECK to the closing parenthesis, the expression.</summary>
    private static IEnumerable<(string? Name, int Start, int End, string Expression)> CheckClauses(string item) =>
        Parenthesized(item, "CHECK").Select(c =>
        {
            var named = c.At >= 2 && Is(item, c.Tokens[c.At - 2], "CONSTRAINT");
            return (named ? SqlText.Unquote(item.Substring(c.Tokens[c.At - 1].Start, c.Tokens[c.At - 1].Length)) : null,
                c.Tokens[named ? c.At - 2 : c.At].Start, c.Tokens[c.Close].Start + 1, Inside(item, c.Tokens, c.At + 1, c.Close).Trim());
        });

    /// <summary>The generated columns whose expression (AS (...)) names the column.</summary>
    private static IEnumerable<string> GeneratedFrom(IReadOnlyList<string> items, string column) =>
        from item in items
        let owner = SqliteTableDefinition.ColumnName(item)
        where owner is not null && !SqliteNames.Same(owner, column)
              && Parenthesized(item, "AS").Any(c => SqliteInspection.Mentions(Inside(item, c.Tokens, c.At + 1, c.Close), column))
        select owner!;

    /// <summary>Each <paramref name="keyword"/> ( ... ) at the top level of an item: its tokens, the keyword's index, and the closing parenthesis's.</summary>
    private static IEnumerable<(List<SqlText.Token> Tokens, int At, int Close)> Parenthesized(string item, string keyword)
    {
        var tokens = Significant(item);
        var depth = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            var text = item.Substring(tokens[i].Start, tokens[i].Length);
            depth += text == "(" ? 1 : text == ")" ? -1 : 0;
            if (depth == 0 && Is(item, tokens[i], keyword) && i + 1 < tokens.Count && item.Substring(tokens[i + 1].Start, tokens[i + 1].Length) == "(")
            {
                var close = Closing(item, tokens, i + 1);
                yield return (tokens, i, close);
                i = close;
            }
        }
    }

    /// <summary>The text between the parentheses at <paramref name="open"/> and <paramref name="close"/>.</summary>
    private static string Inside(string sql, List<SqlText.Token> tokens, int open, int close) => sql[(tokens[open].Start + 1)..tokens[close].Start];

    /// <summary>True for a table UNIQUE, PRIMARY KEY or FOREIGN KEY constraint whose own column list names the column (not the REFERENCES part).</summary>
    private static bool KeyListNames(string item, string column)
    {
        var tokens = Significant(item);
        var kind = tokens.Count > 2 && Is(item, tokens[0], "CONSTRAINT") ? 2 : 0;
        if (kind >= tokens.Count || !(Is(item, tokens[kind], "UNIQUE") || Is(item, tokens[kind], "PRIMARY") || Is(item, tokens[kind], "FOREIGN")))
        {
            return false;
        }
        var open = tokens.FindIndex(kind, t => item.Substring(t.Start, t.Length) == "(");
        return open >= 0 && SqliteInspection.Mentions(Inside(item, tokens, open, Closing(item, tokens, open)), column);
    }

    private static List<SqlText.Token> Significant(string sql) =>
        SqlText.Tokens(sql).Where(t => t.Kind is not (SqlText.TokenKind.Space or SqlText.TokenKind.Comment)).ToList();

    /// <summary>The index of the parenthesis that closes the one at <paramref name="open"/> (the last token if none does).</summary>
    private static int Closing(string sql, List<SqlText.Token> tokens, int open)
    {
        var depth = 0;
        for (var j = open; j < tokens.Count; j++)
        {
            var text = sql.Substring(tokens[j].Start, tokens[j].Length);
            depth += text == "(" ? 1 : text == ")" ? -1 : 0;
            if (depth == 0)
            {
                return j;
            }
        }
        return tokens.Count - 1;
    }

    private static bool Is(string sql, SqlText.Token token, string keyword) =>
        token.Kind == SqlText.TokenKind.Word && string.Equals(sql.Substring(token.Start, token.Length), keyword, StringComparison.OrdinalIgnoreCase);

    private static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

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
