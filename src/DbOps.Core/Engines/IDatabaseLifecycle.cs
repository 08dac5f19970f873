using DbOps.Core.Connections;

namespace DbOps.Core.Engines;

/// <summary>A PostgreSQL database's encoding and locale: what a copy needs to store and sort text the same way.</summary>
internal sealed record DatabaseLocale(string Encoding, string Collate, string Ctype);

/// <summary>Creating a database for a restore (-Create) and removing rehearsal databases (Remove-Database). (issue 18)</summary>
/// <remarks>
/// A database DbOps creates carries a durable mark, so Remove-Database can tell a rehearsal copy from a database
/// someone else made. The target in every member is the database itself (PostgreSQL: the statements run
/// from another database on its server).
/// </remarks>
internal interface IDatabaseLifecycle
{
    /// <summary>True when the database (PostgreSQL) or the file (SQLite) exists.</summary>
    Task<bool> ExistsAsync(DbOpsConnection target, CancellationToken cancellationToken);

    /// <summary>
    /// Creates an empty database marked as DbOps's, with <paramref name="mark"/> saying why. PostgreSQL: with
    /// <paramref name="locale"/>, or the server's when null. SQLite: an empty file.
    /// </summary>
    Task CreateAsync(DbOpsConnection target, DatabaseLocale? locale, string mark, CancellationToken cancellationToken);

    /// <summary>The mark <see cref="CreateAsync"/> left, or null when DbOps did not create the database.</summary>
    Task<string?> CreationMarkAsync(DbOpsConnection target, CancellationToken cancellationToken);

    /// <summary>
    /// Drops the database (SQLite: deletes the file, its -wal, -shm and -journal, and the mark) and returns what was
    /// removed. Refuses with DatabaseHasSessions while other sessions use it, unless <paramref name="endSessions"/>.
    /// </summary>
    Task<IReadOnlyList<string>> RemoveAsync(DbOpsConnection target, bool endSessions, CancellationToken cancellationToken);
}
