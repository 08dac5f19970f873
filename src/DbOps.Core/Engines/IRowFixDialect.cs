using System.Data.Common;

namespace DbOps.Core.Engines;

/// <summary>Remove-TableRow and Update-TableRow: locking, re-checking and changing exactly the archived rows. (issue 18)</summary>
internal interface IRowFixDialect
{
    /// <summary>
    /// The statements that open a fix's transaction and keep other writers off the table until it ends (readers go on),
    /// waiting at most <paramref name="lockTimeout"/>: what -WhatIf shows and <see cref="BeginLockedAsync"/> runs.
    /// </summary>
    IReadOnlyList<string> LockStatements(TableRef table, TimeSpan lockTimeout);

    /// <summary>Runs <see cref="LockStatements"/>: the returned transaction holds the lock.</summary>
    Task<DbTransaction> BeginLockedAsync(DbConnection connection, TableRef table, TimeSpan lockTimeout, CancellationToken cancellationToken);

    /// <summary>
    /// Run in a fix's transaction after <see cref="LockStatements"/>: keeps other writers off <paramref name="referencing"/>
    /// too (the tables whose foreign keys point at the fixed rows), under the same lock timeout, so no row that references
    /// the fixed rows can appear between the check and the COMMIT. None where the fix's lock already keeps every writer off.
    /// </summary>
    IReadOnlyList<string> LockReferencingStatements(IReadOnlyList<TableRef> referencing);

    /// <summary>
    /// The tables that inherit <paramref name="table"/>'s rows by plain inheritance (PostgreSQL INHERITS; not partitions,
    /// whose rows an insert into the parent routes back): a statement on the table reads and changes their rows too.
    /// </summary>
    Task<IReadOnlyList<TableRef>> InheritorsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken);

    /// <summary>A transaction that writes only the session's own temporary tables and locks nothing of the database's.</summary>
    Task<DbTransaction> BeginScratchAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>The session's own table that holds a rows archive's prior image while a fix or an undo runs.</summary>
    TableRef PriorImageTable { get; }

    /// <summary>Creates <see cref="PriorImageTable"/>, empty, with <paramref name="columns"/> of <paramref name="table"/> and their types.</summary>
    string CreatePriorImageTableSql(TableRef table, IReadOnlyList<string> columns);

    /// <summary>Indexes the loaded <see cref="PriorImageTable"/> by <paramref name="key"/>, so each batch of a fix reads only its own rows of it.</summary>
    IReadOnlyList<string> IndexPriorImageSql(IReadOnlyList<string> key);
}
