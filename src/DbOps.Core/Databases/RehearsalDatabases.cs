using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;

namespace DbOps.Core.Databases;

/// <summary>How DbOps marks a database it created, and the line that removes one.</summary>
internal static class CreationMarks
{
    /// <summary>Every mark starts with this; the rest says when and from what.</summary>
    public const string Prefix = "Created by DbOps";

    /// <summary>The Remove-Database line that removes <paramref name="target"/> (its password comes from PGPASSWORD or ~/.pgpass).</summary>
    public static string RemoveLine(DbOpsConnection target) => target.Server is null
        ? $"Remove-Database -Name {UndoCommand.Quote(target.Database)}"
        : $"Remove-Database -Name {UndoCommand.Quote(target.Database)} -Database {UndoCommand.Database(target, "postgres")}";
}

/// <summary>What Remove-Database removed.</summary>
public sealed class DatabaseRemoval
{
    internal DatabaseRemoval(DbOpsConnection target, string? mark, IReadOnlyList<string> removed)
    {
        Provider = target.Provider;
        Database = target.Database;
        Server = target.Server;
        CreatedByDbOps = mark is not null;
        Mark = mark;
        Removed = ValueList.Of(removed);
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The removed database's name, or the SQLite file's full path.</summary>
    public string Database { get; }

    /// <summary>host:port for PostgreSQL; null for SQLite.</summary>
    public string? Server { get; }

    /// <summary>True when DbOps had created it (false: removed with -Force).</summary>
    public bool CreatedByDbOps { get; }

    /// <summary>The creation mark it carried: when and from which backup DbOps created it.</summary>
    public string? Mark { get; }

    /// <summary>What was dropped: the database name, or the files deleted (the database, its -wal, -shm, -journal and mark).</summary>
    public IReadOnlyList<string> Removed { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Database}: Removed";
}

/// <summary>
/// Remove-Database: drops databases DbOps created for rehearsals (Restore-Database -Create). Engine-independent
/// refusals live here; the statements in each engine's <see cref="IDatabaseLifecycle"/>.
/// </summary>
public static class RehearsalDatabases
{
    /// <summary>
    /// The database to remove: <paramref name="name"/> on <paramref name="connection"/>'s server (PostgreSQL), or the
    /// SQLite file at the full path <paramref name="name"/>. Refuses the database the connection itself is on.
    /// </summary>
    public static DbOpsConnection Resolve(DbOpsConnection? connection, string name)
    {
        if (connection is { Provider: DatabaseProvider.PostgreSQL })
        {
            return string.Equals(connection.Database, name, StringComparison.Ordinal)
                ? throw ConnectedDatabase(connection)
                : connection.WithDatabase(name);
        }
        if (connection is not null && string.Equals(Path.GetFullPath(connection.Database), Path.GetFullPath(name),
                DatabaseEngines.For(DatabaseProvider.SQLite).Inspection.DatabaseNameComparison))
        {
            throw ConnectedDatabase(connection);
        }
        return DatabaseConnector.DescribeSqliteTarget(Path.GetFullPath(name));
    }

    /// <summary>
    /// Checks that <paramref name="target"/> exists and that DbOps created it (or <paramref name="force"/>); returns its
    /// creation mark, null when it has none.
    /// </summary>
    public static async Task<string?> CheckAsync(DbOpsConnection target, bool force, CancellationToken cancellationToken)
    {
        var lifecycle = DatabaseEngines.For(target.Provider).Databases;
        if (!await lifecycle.ExistsAsync(target, cancellationToken))
        {
            throw new DbOpsException(ErrorIds.DatabaseNotFound, ErrorKind.NotFound, $"{target} does not exist; there is nothing to remove.", target.ToString());
        }
        var mark = await lifecycle.CreationMarkAsync(target, cancellationToken);
        if (mark is null && !force)
        {
            throw new DbOpsException(ErrorIds.DatabaseNotCreatedByDbOps, ErrorKind.InvalidState,
                $"{target} was not created by DbOps (it has no mark from Restore-Database -Create), so it was not removed. " +
                "Check that it is the database you mean; pass -Force to remove it anyway.", target.ToString());
        }
        return mark;
    }

    /// <summary>Drops <paramref name="target"/> (checked by <see cref="CheckAsync"/>) and journals DatabaseRemoved.</summary>
    public static async Task<DatabaseRemoval> RemoveAsync(
        DbOpsConnection target, string? mark, bool endSessions, string? journalPath, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var removed = await DatabaseEngines.For(target.Provider).Databases.RemoveAsync(target, endSessions, cancellationToken);
        observer.Verbose($"Removed {target}: {string.Join(", ", removed)}.");
        OperationsJournal.Record(journalPath, JournalEntry.For(target, JournalOperations.DatabaseRemoved) with
        {
            Objects = removed,
        }, observer);
        return new DatabaseRemoval(target, mark, removed);
    }

    private static DbOpsException ConnectedDatabase(DbOpsConnection connection) =>
        new(ErrorIds.CannotRemoveConnectedDatabase, ErrorKind.InvalidArgument,
            $"-Name names {connection}, the database -Database connects to; DbOps does not remove the database it is working in. " +
            "Pass -Database a connection to another database on the server (e.g. postgres) and -Name the database to remove.",
            connection.ToString());
}
