using System.Data.Common;
using DbOps.Core.Connections;
using DbOps.Core.Integrity;
using DbOps.Core.Schema;
using DbOps.Core.Usage;

namespace DbOps.Core.Engines;

/// <summary>
/// What the read-only inspections (schema, documentation, usage, integrity) ask of one engine: its catalog, its
/// name rules, and the SQL and server facts in which the engines differ. The services hold the rest once.
/// </summary>
internal interface IInspectionDialect
{
    /// <summary>Reads the catalog of the user tables (the same tables <see cref="IDatabaseEngine.ListTablesAsync"/> lists).</summary>
    Task<DatabaseSchema> ReadSchemaAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>How this engine resolves the table names people type.</summary>
    ITableNameRules TableNames { get; }

    // Reading consistently

    /// <summary>Begins one read-only snapshot for every read until it is disposed.</summary>
    Task<IAsyncDisposable> BeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="read"/> so that a statement failing in it leaves the surrounding read transaction usable
    /// for the next one; the failure is rethrown.
    /// </summary>
    Task<T> IsolateAsync<T>(DbConnection connection, Func<Task<T>> read, CancellationToken cancellationToken);

    // What a database is called

    /// <summary>The name people know the database by: the SQLite file's name, the PostgreSQL database's.</summary>
    string DatabaseTitle(string database);

    /// <summary>The stem artifacts of the database are named after: the SQLite file's name without extension, the PostgreSQL database's.</summary>
    string DatabaseStem(string database);

    /// <summary>How two names of a database compare (a SQLite file name ignores case where the file system does).</summary>
    StringComparison DatabaseNameComparison { get; }

    // Documentation

    /// <summary>The planner's statistics of the table's columns (null fraction, distinct values), where the engine keeps any.</summary>
    Task<IReadOnlyDictionary<string, (double NullFraction, double Distinct)>> ReadColumnStatisticsAsync(
        DbConnection connection, TableRef table, CancellationToken cancellationToken);

    /// <summary>The rows the table itself holds, as the target of a FROM (PostgreSQL: without child partitions).</summary>
    string OwnRows(TableRef table);

    /// <summary>count(DISTINCT column) that counts every type the engine can store.</summary>
    string CountDistinct(string quotedColumn);

    /// <summary>The data dictionary's Validated and Enforced cells for a foreign key.</summary>
    (string Validated, string Enforced) DescribeForeignKey(ForeignKeyInfo foreignKey);

    /// <summary>Why a table lists no CHECK constraints although it may have some, or null.</summary>
    string? ChecksNote { get; }

    /// <summary>The -Database argument (unquoted) for <paramref name="database"/> on the engine and server of <paramref name="source"/>.</summary>
    string DatabaseArgument(DbOpsConnection source, string database);

    /// <summary>Where a backup of <paramref name="source"/> is restored beside it, and the command that must create it first, if any.</summary>
    (string Database, string? Preparation) RestoreCopy(DbOpsConnection source);

    // Usage

    /// <summary>The engine's usage counters, or null when it keeps none (SQLite): then only emptiness, dependents and code can tell.</summary>
    IUsageStatistics? UsageStatistics { get; }

    /// <summary>
    /// Views, triggers and virtual tables that read or name each of <paramref name="tables"/>, as "view v" or
    /// "trigger t on x" (foreign keys come from the schema), in catalog order.
    /// </summary>
    Task<IReadOnlyList<(TableRef Table, string Dependent)>> ReadDependentsAsync(
        DbConnection connection, IReadOnlyList<TableRef> tables, CancellationToken cancellationToken);

    // Integrity

    /// <summary>
    /// Makes the connection refuse writes for the checks and, where reads can wait on locks, bounds the wait by
    /// <paramref name="lockTimeout"/>; on PostgreSQL every check then sees one snapshot. Disposing ends it.
    /// </summary>
    Task<IAsyncDisposable> BeginChecksAsync(DbConnection connection, TimeSpan lockTimeout, CancellationToken cancellationToken);

    /// <summary>The engine's own storage checks for a run at <paramref name="level"/>, with whatever they need read first.</summary>
    Task<IStorageChecks> PrepareStorageChecksAsync(DbConnection connection, IntegritySql sql, IntegrityLevel level, CancellationToken cancellationToken);

    /// <summary>What kind of failure a statement met, and the server's message without the driver's decoration.</summary>
    (ReadFailure Kind, string Message) ExplainFailure(DbException exception);
}

/// <summary>An engine's storage checks (StorageIntegrity), planned for the tables in scope.</summary>
internal interface IStorageChecks
{
    /// <param name="level">The run's level.</param>
    /// <param name="tables">The tables in scope.</param>
    /// <param name="wholeDatabase">True when no table was named, so a check of the whole database may stand for them.</param>
    IEnumerable<IntegrityProbe> Plan(IntegrityLevel level, IReadOnlyList<TableSchema> tables, bool wholeDatabase);
}

/// <summary>Why a read failed, as far as the checks report it differently.</summary>
internal enum ReadFailure
{
    /// <summary>Anything else.</summary>
    Other,

    /// <summary>The user may not read the object.</summary>
    PermissionDenied,

    /// <summary>The table is gone (dropped or renamed since the catalog was read).</summary>
    TableMissing,

    /// <summary>A lock was not granted within the lock timeout.</summary>
    LockTimeout,
}

/// <summary>An engine's cumulative usage counters (PostgreSQL's statistics views).</summary>
internal interface IUsageStatistics
{
    /// <summary>The period the counters cover.</summary>
    Task<StatisticsWindow> ReadWindowAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Every user table's counters, live rows and size.</summary>
    Task<IReadOnlyList<UsageCounters>> ReadTableUsageAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>What identifies the database and the statistics generation, and the server's clock.</summary>
    Task<StatisticsIdentity> ReadIdentityAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Every user table's counters, ordered by schema and name.</summary>
    Task<IReadOnlyList<TableCounters>> ReadTableCountersAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Every user index's scans, ordered by schema and name.</summary>
    Task<IReadOnlyList<IndexCounters>> ReadIndexCountersAsync(DbConnection connection, CancellationToken cancellationToken);
}

/// <summary>How an engine resolves a table name as a person types it: <c>t</c>, <c>schema.t</c> or <c>"Odd Name"</c>.</summary>
internal interface ITableNameRules
{
    /// <summary>Readings of the typed text in priority order; a null schema means "along the search path".</summary>
    IEnumerable<(string? Schema, string Name)> Readings(string text);

    /// <summary>The table this engine takes for <paramref name="name"/> in <paramref name="schema"/>, or null.</summary>
    TableSchema? Lookup(IEnumerable<TableSchema> tables, string schema, string name);

    /// <summary>When no table is exactly <paramref name="table"/>: the one the engine would take for it, or null.</summary>
    TableSchema? FindLoosely(IReadOnlyList<TableSchema> tables, TableRef table);

    /// <summary>The sentence a TableNotFound error ends with: what to check, and where a table of that name does exist.</summary>
    string NotFoundHint(DatabaseSchema schema, string name);

    /// <summary>True when a journal entry's <paramref name="schema"/> and <paramref name="name"/> are <paramref name="table"/>.</summary>
    bool IsRecordedAs(TableRef table, string? schema, string name);

    /// <summary>One key per table for the names journal entries record.</summary>
    (string Schema, string Name) RecordedKey(string? schema, string name);
}
