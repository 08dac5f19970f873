using System.Net.Sockets;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>Connects to PostgreSQL once to prove the way in works, and says what to do when it does not.</summary>
internal static class PostgresConnector
{
    /// <summary>Opens PostgreSQL from an Npgsql connection string or a postgresql:// URI.</summary>
    public static async Task<DbOpsConnection> ConnectAsync(
        string connectionText, string? userName, string? password, CancellationToken cancellationToken)
    {
        var builder = PostgresConnectionString.Parse(connectionText, userName, password);
        var display = $"{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
        try
        {
            // Opened as the command's own read-only sessions open, so the first of them takes this connection from the
            // pool instead of starting a second backend (and loading the server's types a second time). The query proves
            // that a pooled connection still reaches the server, and reads the version it runs now.
            await using var connection = PostgresEngine.NewConnection(builder, readOnly: true);
            await connection.OpenAsync(cancellationToken);
            await using var show = new NpgsqlCommand("SHOW server_version", connection);
            var version = (string?)await show.ExecuteScalarAsync(cancellationToken) ?? "";
            return new DbOpsConnection(DatabaseProvider.PostgreSQL, builder.Database!, $"{builder.Host}:{builder.Port}",
                builder.Username, version, builder.ConnectionString, builder.Password);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or SocketException)
        {
            throw MapConnectError(e, display, builder.Timeout);
        }
    }

    /// <summary>
    /// Describes the database a connection string names, which may not exist yet (Restore-Database -Create), by
    /// connecting to its server's maintenance database with the same credentials.
    /// </summary>
    public static async Task<DbOpsConnection> DescribeNewAsync(string connectionText, CancellationToken cancellationToken)
    {
        var builder = PostgresConnectionString.Parse(connectionText, null, null);
        var name = builder.Database!;
        builder.Database = name == "postgres" ? "template1" : "postgres";
        return (await ConnectAsync(builder.ConnectionString, null, null, cancellationToken)).WithDatabase(name);
    }

    /// <summary>Turns an Npgsql failure to connect into an error that says what to do.</summary>
    public static DbOpsException MapConnectError(Exception e, string display, int timeoutSeconds)
    {
        if (e is PostgresException pg)
        {
            return pg.SqlState switch
            {
                PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification =>
                    new DbOpsException(ErrorIds.AuthenticationFailed, ErrorKind.PermissionDenied,
                        $"PostgreSQL refused the login for {display} ({pg.SqlState}: {pg.MessageText}). " +
                        "Check the user name and password (-Credential, PGPASSWORD or ~/.pgpass) and the server's pg_hba.conf.",
                        display, e),
                PostgresErrorCodes.InvalidCatalogName => new DbOpsException(ErrorIds.DatabaseNotFound, ErrorKind.NotFound,
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
