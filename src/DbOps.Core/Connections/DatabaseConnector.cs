using System.Net.Sockets;
using Dapper;
using DbOps.Core.Errors;
using DbOps.Core.Engines;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbOps.Core.Connections;

/// <summary>Opens a database once to prove it is there, and describes it as a <see cref="DbOpsConnection"/>.</summary>
public static class DatabaseConnector
{
    private const int SqliteNotADatabase = 26;

    /// <summary>True when <paramref name="text"/> is a PostgreSQL connection string or URI rather than a SQLite path.</summary>
    public static bool IsPostgresConnectionString(string text) => PostgresConnectionString.LooksLikePostgres(text);

    /// <summary>Opens a SQLite file. A missing file is an error unless <paramref name="create"/> is set.</summary>
    /// <param name="fullPath">An absolute path (the host resolves relative paths against its own location).</param>
    /// <param name="create">Create an empty database when the file does not exist.</param>
    /// <param name="cancellationToken">Stops the attempt.</param>
    public static async Task<DbOpsConnection> ConnectSqliteAsync(string fullPath, bool create, CancellationToken cancellationToken)
    {
        if (!create && !File.Exists(fullPath))
        {
            throw new DbOpsException(ErrorIds.DatabaseNotFound, ErrorKind.NotFound,
                $"The SQLite database '{fullPath}' does not exist. Check the path, or pass -Create to create an empty database.",
                fullPath);
        }
        if (create)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        }
        try
        {
            await using var connection = await SqliteEngine.OpenFileAsync(
                fullPath, create ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite, cancellationToken);
            // Reading the schema is what fails on a file that is not a database.
            await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM sqlite_schema");
            var version = await connection.ExecuteScalarAsync<string>("SELECT sqlite_version()") ?? "";
            var builder = new SqliteConnectionStringBuilder { DataSource = fullPath, Pooling = false };
            return new DbOpsConnection(DatabaseProvider.SQLite, fullPath, null, null, version, builder.ConnectionString, null);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteNotADatabase)
        {
            throw new DbOpsException(ErrorIds.NotADatabase, ErrorKind.InvalidData,
                $"'{fullPath}' is not a SQLite database (SQLite says: {e.Message}). Check the path.", fullPath, e);
        }
        catch (SqliteException e)
        {
            throw new DbOpsException(ErrorIds.ConnectionFailed, ErrorKind.ConnectionError,
                $"Could not open the SQLite database '{fullPath}': {e.Message}", fullPath, e);
        }
    }

    /// <summary>
    /// Describes a SQLite file that may not exist yet (a restore target) without creating or opening it.
    /// </summary>
    /// <param name="fullPath">An absolute path.</param>
    public static DbOpsConnection DescribeSqliteTarget(string fullPath) =>
        new(DatabaseProvider.SQLite, fullPath, null, null, SqliteLibraryVersion(),
            new SqliteConnectionStringBuilder { DataSource = fullPath, Pooling = false }.ConnectionString, null);

    private static string SqliteLibraryVersion()
    {
        // Creating a connection object runs Microsoft.Data.Sqlite's one-time native library set-up.
        using var unused = new SqliteConnection();
        return SQLitePCL.raw.sqlite3_libversion().utf8_to_string();
    }

    /// <summary>Opens PostgreSQL from an Npgsql connection string or a postgresql:// URI.</summary>
    /// <param name="connectionText">The connection string or URI; unset values come from PG* variables.</param>
    /// <param name="userName">Overrides the user name (from a credential), or null.</param>
    /// <param name="password">Overrides the password (from a credential), or null.</param>
    /// <param name="cancellationToken">Stops the attempt.</param>
    public static async Task<DbOpsConnection> ConnectPostgresAsync(
        string connectionText, string? userName, string? password, CancellationToken cancellationToken)
    {
        var builder = PostgresConnectionString.Parse(connectionText, userName, password);
        var display = $"{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            var version = await connection.ExecuteScalarAsync<string>("SHOW server_version") ?? "";
            return new DbOpsConnection(DatabaseProvider.PostgreSQL, builder.Database!, $"{builder.Host}:{builder.Port}",
                builder.Username, version, builder.ConnectionString, builder.Password);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or SocketException)
        {
            throw MapPostgresError(e, display, builder.Timeout);
        }
    }

    /// <summary>Turns an Npgsql failure to connect into an error that says what to do.</summary>
    internal static DbOpsException MapPostgresError(Exception e, string display, int timeoutSeconds)
    {
        if (e is PostgresException pg)
        {
            return pg.SqlState switch
            {
                "28P01" or "28000" => new DbOpsException(ErrorIds.AuthenticationFailed, ErrorKind.PermissionDenied,
                    $"PostgreSQL refused the login for {display} ({pg.SqlState}: {pg.MessageText}). " +
                    "Check the user name and password (-Credential, PGPASSWORD or ~/.pgpass) and the server's pg_hba.conf.",
                    display, e),
                "3D000" => new DbOpsException(ErrorIds.DatabaseNotFound, ErrorKind.NotFound,
                    $"The PostgreSQL database in {display} does not exist ({pg.MessageText}). Check the Database name.",
                    display, e),
                _ => new DbOpsException(ErrorIds.ConnectionFailed, ErrorKind.ConnectionError,
                    $"PostgreSQL at {display} refused the connection ({pg.SqlState}: {pg.MessageText}).", display, e),
            };
        }
        // Npgsql says so without a SQLSTATE; it is a missing secret, not an unreachable server.
        if (e.Message.StartsWith("No password has been provided", StringComparison.Ordinal))
        {
            return new DbOpsException(ErrorIds.AuthenticationFailed, ErrorKind.PermissionDenied,
                $"PostgreSQL at {display} asks for a password and none was given. Give it with -Credential, PGPASSWORD or ~/.pgpass.",
                display, e);
        }
        var reason = e.InnerException is SocketException socket ? socket.Message
            : e is TimeoutException || e.InnerException is TimeoutException ? $"no answer within {timeoutSeconds} s"
            : e.Message;
        return new DbOpsException(ErrorIds.ConnectionFailed, ErrorKind.ConnectionError,
            $"Could not connect to PostgreSQL at {display}: {reason}. Check that the server is running and that Host and " +
            "Port are right; raise Timeout in the connection string for a slow network.", display, e);
    }
}
