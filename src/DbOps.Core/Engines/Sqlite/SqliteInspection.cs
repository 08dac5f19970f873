using System.Data;
using System.Data.Common;
using System.Text.RegularExpressions;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Integrity;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

/// <summary>What the read-only inspections ask of SQLite.</summary>
internal sealed class SqliteInspection : IInspectionDialect
{
    public static readonly SqliteInspection Instance = new();

    /// <summary>
    /// Views, triggers and virtual tables (an FTS5 table with content='docs' reads docs), whose SQL is searched for table
    /// names; Remove-DeprecatedTable lists them in this order.
    /// </summary>
    private const string DependentsSql = """
        SELECT CASE type WHEN 'table' THEN 'virtual table' ELSE type END AS "Type", name AS "Name", tbl_name AS "On", sql AS "Sql"
        FROM sqlite_schema WHERE (type IN ('view', 'trigger') OR (type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%')) AND sql IS NOT NULL
        ORDER BY type, name
        """;

    public Task<DatabaseSchema> ReadSchemaAsync(DbConnection connection, CancellationToken cancellationToken) =>
        SqliteCatalog.ReadAsync(connection, cancellationToken);

    public ITableNameRules TableNames => SqliteTableNames.Instance;

    /// <summary>
    /// The engine's snapshot (<see cref="SqliteEngine.BeginSnapshotAsync"/> runs the same BEGIN), begun in SQL because
    /// the catalog and profile reads name no transaction, and Microsoft.Data.Sqlite refuses those in one it began.
    /// </summary>
    public async Task<IAsyncDisposable> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition("BEGIN DEFERRED", cancellationToken: cancellationToken));
        return new CommitOnDispose(connection);
    }

    /// <summary>A failed statement leaves a SQLite transaction usable.</summary>
    public Task<T> IsolateAsync<T>(DbConnection connection, Func<Task<T>> read, CancellationToken cancellationToken) => read();

    public string DatabaseTitle(string database) => Path.GetFileName(database);

    public string DatabaseStem(string database) => Path.GetFileNameWithoutExtension(database);

    public StringComparison DatabaseNameComparison => OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>SQLite keeps no planner statistics that say this: every column is counted.</summary>
    public Task<IReadOnlyDictionary<string, (double NullFraction, double Distinct)>> ReadColumnStatisticsAsync(
        DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<string, (double, double)>>(new Dictionary<string, (double, double)>());

    public string OwnRows(TableRef table) => table.ToQuotedName();

    public string CountDistinct(string quotedColumn) => $"count(DISTINCT {quotedColumn})";

    public (string Validated, string Enforced) DescribeForeignKey(ForeignKeyInfo foreignKey) =>
        ("no (SQLite never checks existing rows)", "only where PRAGMA foreign_keys=ON");

    public string? ChecksNote => "SQLite keeps CHECK constraints only in the CREATE statement below";

    public string DatabaseArgument(DbOpsConnection source, string database) => database;

    /// <summary>A new file beside the database: nothing to create first.</summary>
    public (string Database, string? Preparation) RestoreCopy(DbOpsConnection source) =>
        (Path.Combine(Path.GetDirectoryName(source.Database) ?? ".",
            Path.GetFileNameWithoutExtension(source.Database) + "-restored" + Path.GetExtension(source.Database)), null);

    /// <summary>SQLite keeps no usage counters.</summary>
    public IUsageStatistics? UsageStatistics => null;

    public async Task<IReadOnlyList<(TableRef Table, string Dependent)>> ReadDependentsAsync(
        DbConnection connection, IReadOnlyList<TableRef> tables, CancellationToken cancellationToken)
    {
        var found = new List<(TableRef, string)>();
        foreach (var (type, name, on, sql) in await connection.QueryAsync<(string, string, string, string)>(new CommandDefinition(DependentsSql, cancellationToken: cancellationToken)))
        {
            // A trigger's tbl_name is its table and a virtual table's is itself: neither depends on that table.
            foreach (var table in tables.Where(t => (type == "view" || !SqliteNames.Same(on, t.Name)) && Mentions(sql, t.Name)))
            {
                found.Add((table, type == "trigger" ? $"trigger {name} on {on}" : $"{type} {name}"));
            }
        }
        return found;
    }

    /// <summary>
    /// True when <paramref name="sql"/> names the table bare or in any of SQLite's quotes ("a""b" included). '$' belongs to
    /// SQLite identifiers, so orders$log does not name orders. Removal asks this too: it must never miss a dependent.
    /// </summary>
    internal static bool Mentions(string sql, string name)
    {
        var bare = Regex.Escape(name);
        var doubled = Regex.Escape(name.Replace("\"", "\"\"", StringComparison.Ordinal));
        return Regex.IsMatch(sql, $"(?<![\\w$])(?:\"{doubled}\"|`{bare}`|\\[{bare}\\]|'{bare}'|{bare})(?![\\w$])",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    /// <summary>query_only on top of the read-only file handle; SQLite reads do not wait on locks.</summary>
    public async Task<IAsyncDisposable> BeginChecksAsync(DbConnection connection, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition("PRAGMA query_only = ON", commandTimeout: 0, cancellationToken: cancellationToken));
        return NothingToEnd.Instance;
    }

    public Task<IStorageChecks> PrepareStorageChecksAsync(DbConnection connection, IntegritySql sql, IntegrityLevel level, CancellationToken cancellationToken) =>
        Task.FromResult<IStorageChecks>(SqliteStorageChecks.Instance);

    public (ReadFailure Kind, string Message) ExplainFailure(DbException exception)
    {
        var message = exception is SqliteException sqlite ? ServerMessage(sqlite) : exception.Message;
        return (message.Contains("no such table", StringComparison.OrdinalIgnoreCase) ? ReadFailure.TableMissing : ReadFailure.Other, message);
    }

    /// <summary>SQLite's message without the driver's "SQLite Error 1: '...'." wrapping.</summary>
    internal static string ServerMessage(SqliteException exception) =>
        exception.Message.Replace("SQLite Error 1: ", "", StringComparison.Ordinal).Trim('\'', ' ', '.');

    private sealed class NothingToEnd : IAsyncDisposable
    {
        public static readonly NothingToEnd Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class CommitOnDispose(DbConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                if (connection.State == ConnectionState.Open)
                {
                    await connection.ExecuteAsync("COMMIT");
                }
            }
            catch (DbException)
            {
                // Ending a read transaction cannot lose anything; never hide the error that brought us here.
            }
        }
    }
}
