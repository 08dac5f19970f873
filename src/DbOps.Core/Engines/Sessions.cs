using System.Data.Common;

namespace DbOps.Core.Engines;

/// <summary>
/// A connection opened for reading only. The engine itself refuses writes on it (PostgreSQL makes every
/// transaction read-only; SQLite opens the file read-only, so closing it cannot checkpoint a WAL file either).
/// Code that writes asks for a <see cref="WritableSession"/>, so the compiler will not hand it this one.
/// </summary>
internal sealed class ReadOnlySession(DbConnection connection) : IAsyncDisposable
{
    /// <summary>The open connection, for reads.</summary>
    public DbConnection Connection { get; } = connection;

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}

/// <summary>A connection opened for reading and writing. Methods that change a database take one of these.</summary>
internal sealed class WritableSession(DbConnection connection) : IAsyncDisposable
{
    /// <summary>The open connection.</summary>
    public DbConnection Connection { get; } = connection;

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
