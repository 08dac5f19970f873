using System.Data.Common;
using Dapper;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// SQLite's half of Remove-DeprecatedTable: BEGIN IMMEDIATE under a busy timeout, with foreign keys enforced so a DROP
/// that would orphan rows fails; sqlite_schema for what needs the table.
/// </summary>
internal sealed class SqliteRemoval : IRemovalDialect
{
    public static readonly SqliteRemoval Instance = new();

    public bool CanDropForeignKeys => false;

    public IReadOnlyList<string> LockStatements(TableRef table, TimeSpan lockTimeout) =>
    [
        "PRAGMA foreign_keys = ON",
        $"PRAGMA busy_timeout = {(long)lockTimeout.TotalMilliseconds}",
        "BEGIN IMMEDIATE",
    ];

    public string DropForeignKeySql(ForeignKeyInfo foreignKey) =>
        throw new NotSupportedException("SQLite cannot drop a foreign key without rebuilding its table.");

    /// <summary>
    /// Views, triggers on other tables, and virtual tables whose SQL names the table (sqlite_schema): an FTS5 table
    /// with content='docs' indexes docs and is corrupt without it.
    /// </summary>
    public async Task<IReadOnlyList<string>> DependentsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT CASE type WHEN 'table' THEN 'virtual table' ELSE type END, name, tbl_name, sql FROM sqlite_schema
            WHERE (type IN ('view', 'trigger') OR (type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%')) AND sql IS NOT NULL
            ORDER BY type, name
            """;
        var rows = await connection.QueryAsync<(string Type, string Name, string TableName, string Sql)>(new CommandDefinition(sql,
            cancellationToken: cancellationToken));
        var name = System.Text.RegularExpressions.Regex.Escape(table.Name);
        var quoted = System.Text.RegularExpressions.Regex.Escape(table.Name.Replace("\"", "\"\"", StringComparison.Ordinal));
        var mentions = new System.Text.RegularExpressions.Regex(
            $"(?<![\\w$])(?:\"{quoted}\"|`{name}`|\\[{name}\\]|'{name}'|{name})(?![\\w$])",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        return rows
            .Where(r => !(r.Type == "trigger" && SqliteNames.Same(r.TableName, table.Name)))
            .Where(r => !(r.Type != "trigger" && SqliteNames.Same(r.Name, table.Name)))
            .Where(r => mentions.IsMatch(r.Sql))
            .Select(r => r.Type == "trigger" ? $"trigger {r.Name} on {r.TableName}" : $"{r.Type} {r.Name}")
            .ToList();
    }
}
