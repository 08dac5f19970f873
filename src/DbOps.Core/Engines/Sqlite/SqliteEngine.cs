using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

internal sealed class SqliteEngine : IDatabaseEngine
{
    public const string MainSchema = "main";

    public static readonly SqliteEngine Instance = new();

    /// <summary>
    /// User tables, with their CREATE statements. Left out: sqlite_% (SQLite's own: sqlite_sequence, sqlite_stat1) and
    /// shadow tables, where a virtual table keeps its data (notes_data of the FTS5 table notes): they belong to the
    /// virtual table, and dropping or rewriting one alone corrupts it.
    /// </summary>
    internal const string UserTablesSql = """
        SELECT name AS "Name", sql AS "Sql" FROM sqlite_schema s
        WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
          AND NOT EXISTS (SELECT 1 FROM pragma_table_list l WHERE l.schema = 'main' AND l.name = s.name AND l.type = 'shadow')
        ORDER BY name
        """;

    public DatabaseProvider Kind => DatabaseProvider.SQLite;

    // A file has no session to lose.
    public bool IsConnectionLost(Exception error) => false;

    public async Task<ReadOnlySession> OpenReadOnlyAsync(DbOpsConnection connection, CancellationToken cancellationToken) =>
        new(await OpenFileAsync(connection.Database, SqliteOpenMode.ReadOnly, cancellationToken));

    public async Task<WritableSession> OpenWritableAsync(DbOpsConnection connection, CancellationToken cancellationToken) =>
        new(await OpenFileAsync(connection.Database, SqliteOpenMode.ReadWrite, cancellationToken));

    // The file alone: a WAL file holds pages not yet checkpointed, a small part of a large database.
    public Task<long> SizeAsync(DbOpsConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult(File.Exists(connection.Database) ? new FileInfo(connection.Database).Length : 0L);

    /// <summary>SQLITE_READONLY_ROLLBACK: a read-only connection met a hot journal it may not roll back.</summary>
    private const int ReadOnlyRollback = 776;

    /// <summary>
    /// Opens a file without pooling, so closing it really releases the file. A read-only open of a file whose last writer
    /// was killed mid-transaction (its -journal is hot) first lets one read-write connection roll that journal back, as
    /// any SQLite reader with write access does on its first read: without it every read fails with "attempt to write a
    /// readonly database", and the rollback only restores the last committed state.
    /// </summary>
    public static async Task<SqliteConnection> OpenFileAsync(string path, SqliteOpenMode mode, CancellationToken cancellationToken)
    {
        if (mode == SqliteOpenMode.ReadOnly && File.Exists(path + "-journal"))
        {
            await RollBackHotJournalAsync(path, cancellationToken);
        }
        return await OpenAsync(path, mode, cancellationToken);
    }

    private static async Task RollBackHotJournalAsync(string path, CancellationToken cancellationToken)
    {
        SqliteException hot;
        await using (var probe = await OpenAsync(path, SqliteOpenMode.ReadOnly, cancellationToken))
        {
            try
            {
                await probe.ExecuteScalarAsync<long>("SELECT count(*) FROM sqlite_schema");
                return;
            }
            catch (SqliteException e) when (e.SqliteExtendedErrorCode == ReadOnlyRollback)
            {
                hot = e;
            }
        }
        try
        {
            await using var writer = await OpenAsync(path, SqliteOpenMode.ReadWrite, cancellationToken);
            await writer.ExecuteScalarAsync<long>("SELECT count(*) FROM sqlite_schema");
        }
        catch (SqliteException)
        {
            // Not writable here (a read-only file or mount): the hot journal is the cause worth reporting.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(hot);
        }
    }

    private static async Task<SqliteConnection> OpenAsync(string path, SqliteOpenMode mode, CancellationToken cancellationToken)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false, DefaultTimeout = 30 };
        var connection = new SqliteConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            // Wait for other writers instead of failing at once with SQLITE_BUSY.
            await connection.ExecuteAsync("PRAGMA busy_timeout = 10000");
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public string QuoteIdentifier(string identifier) => TableRef.QuoteIdentifier(identifier);

    public string DefaultSchema => MainSchema;

    public string QualifiedName(TableRef table) => QuoteIdentifier(table.Name);

    public string RowAddress(TableSchema table) => SqliteConstraints.RowidAlias(table);

    /// <summary>A deferred transaction: its first read fixes the snapshot, and it never asks for the write lock.</summary>
    public Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(System.Data.IsolationLevel.Serializable, deferred: true));

    public async Task<IReadOnlyList<TableRef>> ListTablesAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var names = await connection.QueryAsync<string>(new CommandDefinition(UserTablesSql, cancellationToken: cancellationToken));
        return names.Select(n => new TableRef(MainSchema, n)).ToList();
    }

    public async Task<bool> TableExistsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = @name", new { name = table.Name },
            cancellationToken: cancellationToken)) > 0;

    public async Task<long> CountRowsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM {QuoteIdentifier(table.Schema)}.{QuoteIdentifier(table.Name)}", cancellationToken: cancellationToken));

    public IArchiveDialect Archive => SqliteArchive.Instance;

    public IRemovalDialect Removal => SqliteRemoval.Instance;

    public ISnapshotCatalog Snapshots => SqliteSnapshotCatalog.Instance;

    public IBackupEngine Backup => SqliteBackupEngine.Instance;

    /// <summary>SQLITE_BUSY and SQLITE_LOCKED: the busy timeout ran out; SQLITE_CONSTRAINT on a DROP: foreign keys still point at it.</summary>
    public DatabaseRefusal? RefusalOf(Exception error) => error switch
    {
        SqliteException { SqliteErrorCode: SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED } sqlite => new(RefusalKind.LockNotGranted, sqlite.Message),
        SqliteException { SqliteErrorCode: SQLitePCL.raw.SQLITE_CONSTRAINT } sqlite =>
            new(RefusalKind.DependentObjects, $"rows of other tables still reference it ({sqlite.Message})"),
        _ => null,
    };

    public IInspectionDialect Inspection => SqliteInspection.Instance;

    public ITuningDialect Tuning => SqliteTuning.Instance;

    public IMoveDialect Moves => SqliteMoves.Instance;

    public ISchemaChangeDialect SchemaChanges => SqliteSchemaChanges.Instance;

    public IColumnDialect Columns => SqliteColumns.Instance;

    public IRowFixDialect RowFixes => SqliteRowFixes.Instance;

    public IDatabaseLifecycle Databases => SqliteDatabases.Instance;
}
