using System.Data.Common;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Progress;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>
/// What table archives say to one engine: how a consistent read starts, how rows travel in canonical form, what the
/// schema file holds, and how an archive loads back. ArchiveExport, ArchiveImport, ArchiveVerification and
/// TableChecksum hold the logic both engines share.
/// </summary>
internal interface IArchiveDialect
{
    /// <summary>How this engine's archive CSV reads back (which text is NULL, how values are written).</summary>
    CsvDialect Csv { get; }

    /// <summary>True when an archive's recorded database is the live one (SQLite: a file path, case-insensitive on Windows).</summary>
    bool SameDatabase(string archived, string live);

    /// <summary>-TargetTable as a table: "name" in <paramref name="archivedSchema"/>, or "schema.name" where the engine has schemas.</summary>
    TableRef TargetTable(string name, string archivedSchema);

    /// <summary>Reads the catalog and starts the snapshot, in the order that makes the catalog describe the rows the snapshot reads.</summary>
    Task<(DatabaseSchema Schema, DbTransaction Snapshot)> ReadSchemaAndBeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Fixes the session's settings so every value reads and loads as its canonical text (a no-op where no setting changes a value's text).</summary>
    Task UseCanonicalTextAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>
    /// Starts the archive's schema file: what recreates the table, and what runs after its rows are loaded. The
    /// connection is free again when this returns; the task it returns finishes the file with external tools (pg_dump),
    /// which then run while the rows stream.
    /// </summary>
    Task<Task<ArchiveSchemaFile>> StartSchemaFileAsync(DbOpsConnection source, DbConnection connection, DbTransaction snapshot, TableSchema table,
        string? toolPath, CancellationToken cancellationToken);

    /// <summary>About how many rows the table holds, for progress only.</summary>
    Task<long> ExpectedRowsAsync(DbConnection connection, DbTransaction snapshot, TableRef table, CancellationToken cancellationToken);

    /// <summary>
    /// Reads every row of the table in canonical form, inside <paramref name="transaction"/> (a checksum's read); with
    /// <paramref name="where"/> (a checked condition), only the rows it chooses.
    /// </summary>
    Task ReadRowsAsync(DbConnection connection, DbTransaction? transaction, TableRef table, IReadOnlyList<string> columns, string? where,
        Action<CanonicalRow> onRow, CancellationToken cancellationToken);

    /// <summary>
    /// Reads every row for an export: each in canonical form to <paramref name="onRow"/> and, with <paramref name="csv"/>, all
    /// of them as the archive's CSV to that stream (PostgreSQL: the server's own COPY output, byte for byte). A value an
    /// archive cannot hold exactly stops the read with ArchiveFailed. With <paramref name="where"/>, only the rows it chooses.
    /// </summary>
    Task ExportRowsAsync(DbConnection connection, DbTransaction snapshot, TableRef table, IReadOnlyList<string> columns, string? where, Stream? csv,
        Action<CanonicalRow> onRow, Action<long> rowsDone, CancellationToken cancellationToken);

    /// <summary>
    /// A new, empty database to load an archive into, dropped when disposed: on the source's server (PostgreSQL), or a file
    /// in <paramref name="folder"/> (SQLite).
    /// </summary>
    Task<ScratchSession> OpenScratchAsync(DbOpsConnection source, string folder, IOperationObserver observer, CancellationToken cancellationToken);

    /// <summary>Starts the transaction an archive loads in.</summary>
    Task<DbTransaction> BeginLoadAsync(WritableSession session, CancellationToken cancellationToken);

    /// <summary>True when a prerequisite the schema file names ("schema x", "type x", "sequence x") is missing from the target.</summary>
    Task<bool> PrerequisiteMissingAsync(DbConnection connection, string what, CancellationToken cancellationToken);

    /// <summary>The CREATE TABLE for an import under another name (constraints that name the old table cannot come along).</summary>
    string CreateRenamedTableSql(ArchiveSchemaFile schema, IReadOnlyList<ArchiveColumn> columns, TableRef target);

    /// <summary>Loads the archive's rows into the table, inside <paramref name="transaction"/>; <paramref name="freeze"/>: the transaction created the table.</summary>
    Task LoadAsync(WritableSession session, DbTransaction transaction, TableRef table, IReadOnlyList<string> columns, ArchiveRows rows, bool freeze,
        CancellationToken cancellationToken);

    /// <summary>Moves the sequences a newly created table owns past the keys just loaded.</summary>
    Task AdvanceOwnedSequencesAsync(WritableSession session, DbTransaction transaction, TableRef table, CancellationToken cancellationToken);

    /// <summary>What is wrong with the loaded table's references when the load could not enforce them; null when nothing.</summary>
    Task<string?> ForeignKeyProblemAsync(DbConnection connection, DbTransaction transaction, TableRef table, CancellationToken cancellationToken);

    // Issue 22: Export-TableArchive -Parallel.

    /// <summary>
    /// How the table's rows split over several connections that read the snapshot <paramref name="snapshot"/> began:
    /// the snapshot's id for them to join and the positions that cut the table into at most <paramref name="ranges"/>
    /// ranges; or why it cannot be split here (then the export reads it over one connection).
    /// </summary>
    Task<ParallelReadPlan> PlanParallelReadAsync(DbOpsConnection source, DbConnection connection, DbTransaction snapshot, TableRef table, int ranges,
        CancellationToken cancellationToken);

    /// <summary>
    /// The id of the snapshot <paramref name="snapshot"/> began, for other connections to join (<see cref="JoinSnapshotAsync"/>)
    /// and read exactly what it reads; or, with a null id, why this engine's connections cannot share one.
    /// </summary>
    Task<(string? Id, string? WhyNot)> ShareSnapshotAsync(DbConnection connection, DbTransaction snapshot, CancellationToken cancellationToken);

    /// <summary>Begins a read-only transaction on <paramref name="connection"/> that sees exactly the snapshot a plan exported.</summary>
    Task<DbTransaction> JoinSnapshotAsync(DbConnection connection, string snapshotId, CancellationToken cancellationToken);

    /// <summary>The condition choosing the rows from position <paramref name="from"/> (null: the start) up to, not including, <paramref name="to"/> (null: the end).</summary>
    string RangeCondition(long? from, long? to);
}

/// <summary>A table split for a parallel read (issue 22); <see cref="WhyNot"/> set when it cannot be.</summary>
/// <param name="SnapshotId">The snapshot the other connections join.</param>
/// <param name="SplitPoints">Increasing positions: range i runs from point i-1 (the start for the first) to point i (the end for the last).</param>
/// <param name="WhyNot">Why the table is read over one connection instead, for a warning.</param>
internal sealed record ParallelReadPlan(string? SnapshotId, IReadOnlyList<long> SplitPoints, string? WhyNot = null)
{
    public static ParallelReadPlan NotPossible(string why) => new(null, [], why);
}

/// <summary>A scratch database opened for writing; disposing closes the session, then drops the database.</summary>
internal sealed class ScratchSession(WritableSession session, Func<ValueTask> drop) : IAsyncDisposable
{
    public WritableSession Session { get; } = session;

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Session.DisposeAsync();
        }
        finally
        {
            await drop();
        }
    }
}
