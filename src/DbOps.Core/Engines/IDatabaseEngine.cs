using System.Data.Common;
using DbOps.Core.Connections;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// Everything DbOps needs to know about one engine: how to open it, quote identifiers, read the catalog, and
/// (through the area members below) the SQL each operation needs. Logic that is the same for both engines lives
/// in the operations, which reach the engine through <see cref="DatabaseEngines.For(DatabaseProvider)"/>.
/// </summary>
internal interface IDatabaseEngine
{
    DatabaseProvider Kind { get; }

    /// <summary>Opens a new connection the engine will not let write (invariant 2).</summary>
    Task<ReadOnlySession> OpenReadOnlyAsync(DbOpsConnection connection, CancellationToken cancellationToken);

    /// <summary>Opens a new connection that may write.</summary>
    Task<WritableSession> OpenWritableAsync(DbOpsConnection connection, CancellationToken cancellationToken);

    /// <summary>How many bytes the database takes (SQLite: its file; PostgreSQL: pg_database_size), to run a fleet largest first.</summary>
    Task<long> SizeAsync(DbOpsConnection connection, CancellationToken cancellationToken);

    /// <summary>True when <paramref name="error"/> says the session ended under the operation (a restart, a broken socket).</summary>
    bool IsConnectionLost(Exception error);

    /// <summary>Quotes an identifier for this dialect (invariant 6: never splice a raw name).</summary>
    string QuoteIdentifier(string identifier);

    /// <summary>Where a table is when no schema is named: SQLite's main (its one schema), PostgreSQL's public.</summary>
    string DefaultSchema { get; }

    /// <summary>
    /// A table as statements and the queries people copy name it: "schema"."name" on PostgreSQL; the bare name on
    /// SQLite, whose ALTER TABLE and CREATE INDEX take no schema (every user table is in main).
    /// </summary>
    string QualifiedName(TableRef table);

    /// <summary>
    /// The system column that addresses a row of a table without a usable key: PostgreSQL's ctid, SQLite's rowid (or
    /// _rowid_ or oid when a column has taken that name).
    /// </summary>
    string RowAddress(TableSchema table);

    /// <summary>
    /// Starts a read-only transaction in which every read sees the same moment (archives, checksums, documentation).
    /// Commands inside it name it, as SQLite requires.
    /// </summary>
    Task<DbTransaction> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Base tables that hold user data, ordered by schema and name.</summary>
    Task<IReadOnlyList<TableRef>> ListTablesAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>True when the table exists (looked up by name, so tables hidden from listings count too).</summary>
    Task<bool> TableExistsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken);

    /// <summary>The exact number of rows stored in the table itself (PostgreSQL: not counting child partitions).</summary>
    Task<long> CountRowsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken);

    // What differs per engine, by area of the services that ask.

    /// <summary>How table archives read, write and load this engine's tables.</summary>
    IArchiveDialect Archive { get; }

    /// <summary>The statements and catalog queries Remove-DeprecatedTable needs.</summary>
    IRemovalDialect Removal { get; }

    /// <summary>What a snapshot reads beyond the schema.</summary>
    ISnapshotCatalog Snapshots { get; }

    /// <summary>How a whole database is backed up, checked and restored.</summary>
    IBackupEngine Backup { get; }

    /// <summary>The refusal an error is (a lock not granted, a missing privilege, dependents), or null for any other error.</summary>
    DatabaseRefusal? RefusalOf(Exception error);

    /// <summary>Catalog, name rules and the SQL of the read-only inspections.</summary>
    IInspectionDialect Inspection { get; }

    /// <summary>Constraint and index DDL, lock handling, plans and statement statistics.</summary>
    ITuningDialect Tuning { get; }

    /// <summary>Compare-TableData and Copy-TableData: key-range checksums, set-based comparison, batched copies.</summary>
    IMoveDialect Moves { get; }

    /// <summary>Find-DeprecatedColumn, Rename-Table and dependents retired with a table: the catalog reads and DDL.</summary>
    ISchemaChangeDialect SchemaChanges { get; }

    /// <summary>Remove-DeprecatedColumn and column archives: dropping a column (or rebuilding the table) and putting it back.</summary>
    IColumnDialect Columns { get; }

    /// <summary>Remove-TableRow and Update-TableRow: locking, re-checking and changing exactly the archived rows.</summary>
    IRowFixDialect RowFixes { get; }

    /// <summary>Creating a database for a restore (-Create) and removing rehearsal databases (Remove-Database).</summary>
    IDatabaseLifecycle Databases { get; }
}

internal static class ProviderExtensions
{
    /// <summary>Counts every table; the counts are exact and come from one connection.</summary>
    public static async Task<IReadOnlyList<TableRowCount>> CountAllAsync(
        this IDatabaseEngine provider, DbConnection connection, CancellationToken cancellationToken)
    {
        var counts = new List<TableRowCount>();
        foreach (var table in await provider.ListTablesAsync(connection, cancellationToken))
        {
            counts.Add(new TableRowCount(table.Schema, table.Name, await provider.CountRowsAsync(connection, table, cancellationToken)));
        }
        return counts;
    }

    /// <summary>Counts the named tables that exist; a missing table is absent from the result.</summary>
    public static async Task<IReadOnlyDictionary<(string Schema, string Name), long>> CountExistingAsync(
        this IDatabaseEngine provider, DbConnection connection, IEnumerable<TableRef> tables, CancellationToken cancellationToken)
    {
        var rows = new Dictionary<(string, string), long>();
        foreach (var table in tables)
        {
            if (await provider.TableExistsAsync(connection, table, cancellationToken))
            {
                rows[(table.Schema, table.Name)] = await provider.CountRowsAsync(connection, table, cancellationToken);
            }
        }
        return rows;
    }
}
