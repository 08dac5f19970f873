using System.Data.Common;
using Dapper;
using DbOps.Core.Snapshots;

namespace DbOps.Core.Engines;

internal sealed class SqliteSnapshotCatalog : ISnapshotCatalog
{
    public static readonly SqliteSnapshotCatalog Instance = new();

    /// <summary>A deferred read transaction: the connection is read-only, and the first read fixes the snapshot.</summary>
    public string BeginReadSql => "BEGIN";

    private static readonly IReadOnlyDictionary<TableRef, (bool, bool)> NoRowLevelSecurity = new Dictionary<TableRef, (bool, bool)>();

    public async Task<ILookup<TableRef, TriggerSnapshot>> TriggersAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(string Table, string Name, string Sql)>(new CommandDefinition(
            "SELECT tbl_name, name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY tbl_name, name", cancellationToken: cancellationToken)))
            .ToLookup(r => new TableRef(SqliteEngine.MainSchema, r.Table), r => new TriggerSnapshot(r.Name, r.Sql, Enabled: true));

    public Task<IReadOnlyDictionary<TableRef, (bool Enabled, bool Forced)>> RowLevelSecurityAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult(NoRowLevelSecurity);

    public Task<ILookup<TableRef, PolicySnapshot>> PoliciesAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult(Array.Empty<PolicySnapshot>().ToLookup(_ => new TableRef("", "")));

    public async Task<IReadOnlyList<ViewSnapshot>> ViewsAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(string Name, string Sql)>(new CommandDefinition(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'view' ORDER BY name", cancellationToken: cancellationToken)))
            .Select(v => new ViewSnapshot(SqliteEngine.MainSchema, v.Name, "View", v.Sql)).ToList();

    public Task<IReadOnlyList<SequenceSnapshot>> SequencesAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<SequenceSnapshot>>([]);

    /// <summary>Bytes of the table's and its indexes' pages, from the dbstat table when SQLite was built with it.</summary>
    public async Task<long?> SizeAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken)
    {
        try
        {
            return await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT sum(pgsize) FROM dbstat WHERE name = @name OR name IN (SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = @name)",
                new { name = table.Name }, cancellationToken: cancellationToken));
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            return null;
        }
    }

    /// <summary>SQLite keeps no row estimates worth the name (sqlite_stat1 is optional and coarse): count instead.</summary>
    public Task<long?> EstimateRowsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        Task.FromResult<long?>(null);
}
