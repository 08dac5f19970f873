using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// Reads a SQLite catalog through its table-valued pragma functions (values as parameters, never spliced).
/// SQLite keeps CHECK constraints only inside the CREATE TABLE text, which <see cref="TableSchema.CreateSql"/> carries.
/// </summary>
internal static class SqliteCatalog
{
    /// <summary>hidden: 0 ordinary, 1 virtual-table hidden, 2 and 3 generated (virtual, stored).</summary>
    private const string ColumnsSql = """
        SELECT cid AS "Cid", name AS "Name", type AS "DataType", "notnull" AS "NotNull", dflt_value AS "Default",
               pk AS "Pk", hidden AS "Hidden"
        FROM pragma_table_xinfo(@table) ORDER BY cid
        """;

    /// <summary>origin: 'c' CREATE INDEX, 'u' UNIQUE constraint, 'pk' PRIMARY KEY.</summary>
    private const string IndexListSql = """
        SELECT l.name AS "Name", l."unique" AS "IsUnique", l.origin AS "Origin", l.partial AS "IsPartial", s.sql AS "Sql"
        FROM pragma_index_list(@table) l
        LEFT JOIN sqlite_schema s ON s.type = 'index' AND s.name = l.name
        ORDER BY l.name
        """;

    /// <summary>Key columns of an index in order; an expression key has cid -2 and no name.</summary>
    private const string IndexColumnsSql = """
        SELECT cid AS "Cid", name AS "Name" FROM pragma_index_xinfo(@index) WHERE "key" = 1 ORDER BY seqno
        """;

    /// <summary>One row per column of each foreign key; "to" is NULL when the parent's primary key is meant.</summary>
    private const string ForeignKeysSql = """
        SELECT id AS "Id", seq AS "Seq", "table" AS "Parent", "from" AS "From", "to" AS "To",
               on_update AS "OnUpdate", on_delete AS "OnDelete"
        FROM pragma_foreign_key_list(@table) ORDER BY id, seq
        """;

    public static async Task<DatabaseSchema> ReadAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var tables = (await connection.QueryAsync<TableRow>(new CommandDefinition(SqliteEngine.UserTablesSql, cancellationToken: cancellationToken))).ToList();
        var columnsByTable = new Dictionary<string, List<ColumnRow>>(SqliteNames.Comparer);
        foreach (var table in tables)
        {
            columnsByTable[table.Name] = (await connection.QueryAsync<ColumnRow>(new CommandDefinition(
                ColumnsSql, new { table = table.Name }, cancellationToken: cancellationToken))).ToList();
        }

        var result = new List<TableSchema>(tables.Count);
        foreach (var table in tables)
        {
            var self = new TableRef(SqliteEngine.MainSchema, table.Name);
            var columns = columnsByTable[table.Name];
            var pkColumns = columns.Where(c => c.Pk > 0).OrderBy(c => c.Pk).Select(c => c.Name).ToList();
            var rowidAlias = pkColumns.Count == 1
                && columns.Single(c => c.Pk > 0).DataType.Equals("INTEGER", StringComparison.OrdinalIgnoreCase);

            var indexes = new List<IndexInfo>();
            var uniqueKeys = new List<KeyInfo>();
            string? pkName = null;
            foreach (var index in await connection.QueryAsync<IndexRow>(new CommandDefinition(
                IndexListSql, new { table = table.Name }, cancellationToken: cancellationToken)))
            {
                var keyColumns = (await connection.QueryAsync<IndexColumnRow>(new CommandDefinition(
                    IndexColumnsSql, new { index = index.Name }, cancellationToken: cancellationToken)))
                    .Select(c => c.Name ?? ExpressionKey).ToList();
                var backsConstraint = index.Origin is "pk" or "u";
                indexes.Add(new IndexInfo(
                    index.Name, self, keyColumns, index.IsUnique, index.Origin == "pk", IsValid: true, index.IsPartial,
                    backsConstraint ? index.Name : null, index.Sql ?? ""));
                if (index.Origin == "u")
                {
                    uniqueKeys.Add(new KeyInfo(index.Name, keyColumns));
                }
                else if (index.Origin == "pk")
                {
                    pkName = index.Name;
                }
            }

            result.Add(new TableSchema(
                self,
                columns.Where(c => c.Hidden != 1).Select(c => new ColumnInfo(
                    c.Name, (int)c.Cid + 1, c.DataType,
                    IsNullable: !c.NotNull && !(rowidAlias && c.Pk > 0),
                    c.Default, IsGenerated: c.Hidden is 2 or 3)).ToList(),
                pkColumns.Count > 0 ? new KeyInfo(pkName ?? "PRIMARY", pkColumns) : null,
                uniqueKeys,
                await ReadForeignKeysAsync(connection, self, columnsByTable, cancellationToken),
                [],
                indexes,
                comment: null,
                table.Sql));
        }
        return new DatabaseSchema(DatabaseProvider.SQLite, result, [SqliteEngine.MainSchema]);
    }

    private static async Task<List<ForeignKeyInfo>> ReadForeignKeysAsync(
        DbConnection connection, TableRef table, Dictionary<string, List<ColumnRow>> columnsByTable, CancellationToken cancellationToken)
    {
        var rows = await connection.QueryAsync<ForeignKeyRow>(new CommandDefinition(
            ForeignKeysSql, new { table = table.Name }, cancellationToken: cancellationToken));
        var keys = new List<ForeignKeyInfo>();
        foreach (var group in rows.GroupBy(r => r.Id))
        {
            var parts = group.OrderBy(r => r.Seq).ToList();
            var parentName = parts[0].Parent;
            var from = parts.Select(p => p.From).ToList();
            // A REFERENCES clause without columns means the parent's primary key.
            var to = parts.All(p => p.To is not null)
                ? parts.Select(p => p.To!).ToList()
                : columnsByTable.TryGetValue(parentName, out var parentColumns)
                    ? parentColumns.Where(c => c.Pk > 0).OrderBy(c => c.Pk).Select(c => c.Name).ToList()
                    : [];
            // Use the parent's stored spelling when it exists, so the TableRef equals the catalog's.
            var parent = SqliteNames.Find(columnsByTable.Keys, k => k, parentName) ?? parentName;
            keys.Add(new ForeignKeyInfo(
                $"{table.Name}_{string.Join("_", from)}_fkey", table, from, new TableRef(SqliteEngine.MainSchema, parent), to,
                IsValidated: false, IsEnforced: false, parts[0].OnDelete, parts[0].OnUpdate));
        }
        return keys;
    }

    /// <summary>SQLite does not report the text of an expression key; the index's Definition shows it.</summary>
    private const string ExpressionKey = "<expression>";

    private sealed class TableRow
    {
        public string Name { get; set; } = "";
        public string? Sql { get; set; }
    }

    private sealed class ColumnRow
    {
        public long Cid { get; set; }
        public string Name { get; set; } = "";
        public string DataType { get; set; } = "";
        public bool NotNull { get; set; }
        public string? Default { get; set; }
        public long Pk { get; set; }
        public long Hidden { get; set; }
    }

    private sealed class IndexRow
    {
        public string Name { get; set; } = "";
        public bool IsUnique { get; set; }
        public string Origin { get; set; } = "";
        public bool IsPartial { get; set; }
        public string? Sql { get; set; }
    }

    private sealed class IndexColumnRow
    {
        public long Cid { get; set; }
        public string? Name { get; set; }
    }

    private sealed class ForeignKeyRow
    {
        public long Id { get; set; }
        public long Seq { get; set; }
        public string Parent { get; set; } = "";
        public string From { get; set; } = "";
        public string? To { get; set; }
        public string OnUpdate { get; set; } = "";
        public string OnDelete { get; set; } = "";
    }
}
