namespace DbOps.Core.Connections;

/// <summary>The database engines DbOps maintains.</summary>
public enum DatabaseProvider
{
    /// <summary>A PostgreSQL server, through Npgsql and the server's client tools.</summary>
    PostgreSQL,
    /// <summary>A SQLite database file.</summary>
    SQLite,
}

/// <summary>
/// A verified way into one database. It holds no open connection: each operation opens its own, so one
/// object can be shared by a whole runbook (and by parallel runspaces). The connection string, which may
/// hold a password, is internal and never part of any output.
/// </summary>
public sealed class DbOpsConnection
{
    internal DbOpsConnection(
        DatabaseProvider provider, string database, string? server, string? user, string serverVersion,
        string connectionString, string? password)
    {
        Provider = provider;
        Database = database;
        Server = server;
        User = user;
        ServerVersion = serverVersion;
        ConnectionString = connectionString;
        Password = password;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The PostgreSQL database name, or the full path of the SQLite file.</summary>
    public string Database { get; }

    /// <summary>host:port of the PostgreSQL server; null for SQLite.</summary>
    public string? Server { get; }

    /// <summary>The PostgreSQL user name; null for SQLite.</summary>
    public string? User { get; }

    /// <summary>The server version (PostgreSQL) or the SQLite library version.</summary>
    public string ServerVersion { get; }

    /// <summary>The Npgsql or SQLite connection string, password included. Never print it.</summary>
    internal string ConnectionString { get; }

    /// <summary>The password, if one was given, for child tools (passed through their environment).</summary>
    internal string? Password { get; }

    /// <summary>Another database on the same PostgreSQL server, with the same credentials.</summary>
    internal DbOpsConnection WithDatabase(string database) => new(
        Provider, database, Server, User, ServerVersion,
        new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString) { Database = database }.ConnectionString, Password);

    /// <summary>
    /// A display name without secrets: a file engine's path ("SQLite /data/app.db"), a server engine's
    /// user@server/database ("PostgreSQL app@db1:5432/sales").
    /// </summary>
    public override string ToString() => Server is null
        ? $"{Provider} {Database}"
        : $"{Provider} {(User is null ? "" : User + "@")}{Server}/{Database}";
}

