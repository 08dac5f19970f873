using System.Data.Common;
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
    public async Task<IReadOnlyList<string>> DependentsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        (await SqliteInspection.Instance.ReadDependentsAsync(connection, [table], cancellationToken)).Select(d => d.Dependent).ToList();
}
