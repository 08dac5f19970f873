using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Providers;
using Npgsql;

namespace DbOps.Core.Providers;

/// <summary>
/// A throw-away database on the source's server, with the source's encoding and locale (so text sorts and is
/// stored the same way), into which -Verify restores a backup or loads an archive. Dropped (its sessions ended)
/// when disposed, whatever happened inside.
/// </summary>
internal sealed class PostgresScratchDatabase : IAsyncDisposable
{
    private const string LocaleSql = """
        SELECT pg_encoding_to_char(encoding) AS Encoding, datcollate AS Collate, datctype AS Ctype
        FROM pg_catalog.pg_database WHERE datname = current_database()
        """;

    private readonly NpgsqlConnection _admin;
    private readonly string _name;
    private readonly IOperationObserver _observer;

    private PostgresScratchDatabase(NpgsqlConnection admin, string name, DbOpsConnection connection, IOperationObserver observer)
    {
        _admin = admin;
        _name = name;
        Connection = connection;
        _observer = observer;
    }

    /// <summary>The scratch database, with the source's credentials.</summary>
    public DbOpsConnection Connection { get; }

    /// <param name="source">A connection to the server (and database whose encoding and locale are copied).</param>
    /// <param name="purpose">What the scratch database is for, e.g. "verify the backup".</param>
    /// <param name="alternative">What to do instead when the user may not create databases.</param>
    /// <param name="observer">Receives the verbose messages.</param>
    /// <param name="cancellationToken">Stops the creation.</param>
    public static async Task<PostgresScratchDatabase> CreateAsync(
        DbOpsConnection source, string purpose, string alternative, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var name = $"dbops_verify_{Guid.NewGuid():N}"[..26];
        var admin = (NpgsqlConnection)await PostgresProvider.Instance.OpenAsync(source, readOnly: false, cancellationToken);
        try
        {
            var locale = await admin.QuerySingleAsync<(string Encoding, string Collate, string Ctype)>(LocaleSql);
            await admin.ExecuteAsync($"CREATE DATABASE {Quote(name)} TEMPLATE template0 ENCODING {Literal(locale.Encoding)} " +
                                     $"LC_COLLATE {Literal(locale.Collate)} LC_CTYPE {Literal(locale.Ctype)}");
        }
        catch (PostgresException e) when (e.SqlState == "42501")
        {
            await admin.DisposeAsync();
            throw new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
                $"To {purpose} DbOps needs a scratch database, and {source.User} may not create databases ({e.MessageText}). " +
                $"Grant CREATEDB to that user, or {alternative}.",
                source.ToString(), e);
        }
        catch
        {
            await admin.DisposeAsync();
            throw;
        }
        observer.Verbose($"Created scratch database {name} to {purpose}.");
        return new PostgresScratchDatabase(admin, name, source.WithDatabase(name), observer);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // The import's pooled connection to the scratch database is ended by the drop; leave no dead one in the pool.
            using (var pooled = new NpgsqlConnection(Connection.ConnectionString))
            {
                NpgsqlConnection.ClearPool(pooled);
            }
            await _admin.ExecuteAsync($"DROP DATABASE IF EXISTS {Quote(_name)} WITH (FORCE)");
            _observer.Verbose($"Dropped scratch database {_name}.");
        }
        finally
        {
            await _admin.DisposeAsync();
        }
    }

    private static string Quote(string identifier) => PostgresProvider.Instance.QuoteIdentifier(identifier);

    private static string Literal(string value) => "'" + value.Replace("'", "''") + "'";
}
