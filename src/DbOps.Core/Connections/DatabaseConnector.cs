using DbOps.Core.Engines;

namespace DbOps.Core.Connections;

/// <summary>
/// Opens a database once to prove it is there, and describes it as a <see cref="DbOpsConnection"/>. Each engine's
/// way in lives in its folder (<see cref="SqliteConnector"/>, <see cref="PostgresConnector"/>).
/// </summary>
public static class DatabaseConnector
{
    /// <summary>True when <paramref name="text"/> is a PostgreSQL connection string or URI rather than a SQLite path.</summary>
    public static bool IsPostgresConnectionString(string text) => PostgresConnectionString.LooksLikePostgres(text);

    /// <summary>
    /// Opens a SQLite file. A missing file is an error unless <paramref name="create"/> is set; an existing file is
    /// only read, never written.
    /// </summary>
    /// <param name="fullPath">An absolute path (the host resolves relative paths against its own location).</param>
    /// <param name="create">Create an empty database when the file does not exist.</param>
    /// <param name="cancellationToken">Stops the attempt.</param>
    public static Task<DbOpsConnection> ConnectSqliteAsync(string fullPath, bool create, CancellationToken cancellationToken) =>
        SqliteConnector.ConnectAsync(fullPath, create, cancellationToken);

    /// <summary>
    /// Describes a SQLite file that may not exist yet (a restore target) without creating or opening it.
    /// </summary>
    /// <param name="fullPath">An absolute path.</param>
    public static DbOpsConnection DescribeSqliteTarget(string fullPath) => SqliteConnector.Describe(fullPath);

    /// <summary>
    /// Describes a PostgreSQL database that may not exist yet (a -Create target) without opening it: the login is proved
    /// on its server's maintenance database.
    /// </summary>
    /// <param name="connectionText">The connection string or URI naming the new database.</param>
    /// <param name="cancellationToken">Stops the attempt.</param>
    public static Task<DbOpsConnection> DescribePostgresTargetAsync(string connectionText, CancellationToken cancellationToken) =>
        PostgresConnector.DescribeNewAsync(connectionText, cancellationToken);

    /// <summary>Opens PostgreSQL from an Npgsql connection string or a postgresql:// URI.</summary>
    /// <param name="connectionText">The connection string or URI; unset values come from PG* variables.</param>
    /// <param name="userName">Overrides the user name (from a credential), or null.</param>
    /// <param name="password">Overrides the password (from a credential), or null.</param>
    /// <param name="cancellationToken">Stops the attempt.</param>
    public static Task<DbOpsConnection> ConnectPostgresAsync(
        string connectionText, string? userName, string? password, CancellationToken cancellationToken) =>
        PostgresConnector.ConnectAsync(connectionText, userName, password, cancellationToken);
}
