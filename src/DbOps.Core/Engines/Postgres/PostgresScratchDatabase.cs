using System.Data;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>
/// A throw-away database on the source's server, with the source's encoding and locale (so text sorts and is
/// stored the same way), into which -Verify restores a backup or loads an archive. Dropped (its sessions ended)
/// when disposed, whatever happened inside.
/// </summary>
/// <remarks>
/// A killed process or a lost connection cannot drop it, so each one is claimed by a session-level advisory lock
/// taken before it is created and held until it is dropped. The lock ends with its session, so a scratch database
/// whose lock nobody holds belongs to a run that is gone, and the next verification on the server drops it
/// (<see cref="SweepAbandonedAsync"/>). pg_locks shows every database's locks, so the claim is seen from anywhere.
/// </remarks>
internal sealed class PostgresScratchDatabase : IAsyncDisposable
{
    /// <summary>Every scratch database's name starts with this.</summary>
    public const string Prefix = "dbops_verify_";

    private const string LocaleSql = """
        SELECT pg_encoding_to_char(encoding) AS Encoding, datcollate AS Collate, datctype AS Ctype
        FROM pg_catalog.pg_database WHERE datname = current_database()
        """;

    /// <summary>The claim: the two-key advisory lock (DbOps, the name's hash) that its creator's session holds.</summary>
    private const string ClaimSql = "SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext('dbops_verify'), pg_catalog.hashtext(@name))";

    /// <summary>
    /// Scratch databases whose claim no session holds (objsubid 2: the two-key form) and that nobody is connected to.
    /// The name must be exactly what <see cref="CreateAsync"/> makes (the prefix and 13 hex digits): a database of the
    /// user's own that merely starts with the prefix is never touched. A run whose claiming session died while its
    /// restore is still connected keeps its database too.
    /// </summary>
    private const string AbandonedSql = """
        SELECT d.datname FROM pg_catalog.pg_database d
         WHERE d.datname ~ '^dbops_verify_[0-9a-f]{13}$'
           AND pg_catalog.pg_get_userbyid(d.datdba) = current_user
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.datname = d.datname)
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                            WHERE l.locktype = 'advisory' AND l.objsubid = 2
                              AND l.classid = pg_catalog.hashtext('dbops_verify')::oid
                              AND l.objid = pg_catalog.hashtext(d.datname)::oid)
         ORDER BY 1
        """;

    private readonly NpgsqlConnection _admin;
    private readonly DbOpsConnection _source;
    private readonly string _name;
    private readonly IOperationObserver _observer;

    private PostgresScratchDatabase(NpgsqlConnection admin, DbOpsConnection source, string name, IOperationObserver observer)
    {
        _admin = admin;
        _source = source;
        _name = name;
        Connection = source.WithDatabase(name);
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
        var name = $"{Prefix}{Guid.NewGuid():N}"[..26];
        var admin = (NpgsqlConnection)(await PostgresEngine.Instance.OpenWritableAsync(source, cancellationToken)).Connection;
        try
        {
            await SweepAbandonedAsync(admin, observer, cancellationToken);
            await admin.ExecuteAsync(new CommandDefinition(ClaimSql, new { name }, cancellationToken: cancellationToken));
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
        return new PostgresScratchDatabase(admin, source, name, observer);
    }

    /// <summary>
    /// Drops this user's scratch databases that no live run claims: left by a killed process or a lost connection.
    /// A run still using one holds its claim, so it is never touched.
    /// </summary>
    internal static async Task<IReadOnlyList<string>> SweepAbandonedAsync(NpgsqlConnection admin, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var dropped = new List<string>();
        foreach (var name in await admin.QueryAsync<string>(new CommandDefinition(AbandonedSql, cancellationToken: cancellationToken)))
        {
            try
            {
                await admin.ExecuteAsync(new CommandDefinition($"DROP DATABASE IF EXISTS {Quote(name)} WITH (FORCE)", cancellationToken: cancellationToken));
                dropped.Add(name);
                observer.Verbose($"Dropped scratch database {name}, left behind by a verification whose process or connection was lost.");
            }
            catch (PostgresException e)
            {
                observer.Verbose($"Could not drop the abandoned scratch database {name}: {e.MessageText}.");
            }
        }
        return dropped;
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
            await DropAsync();
            _observer.Verbose($"Dropped scratch database {_name}.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A session that still holds the claim must not idle on in the pool.
            NpgsqlConnection.ClearPool(_admin);
            // Never masks what the verification found. Nothing claims the database any more, so the next one sweeps it.
            _observer.Warning($"Scratch database {_name} could not be dropped ({e.Message.Split('\n')[0]}); the next verification on " +
                              $"this server drops it, or run DROP DATABASE {Quote(_name)} WITH (FORCE).");
        }
        finally
        {
            await _admin.DisposeAsync();
        }
    }

    private async Task DropAsync()
    {
        var drop = $"DROP DATABASE IF EXISTS {Quote(_name)} WITH (FORCE)";
        if (_admin.State == ConnectionState.Open)
        {
            try
            {
                await _admin.ExecuteAsync(drop);
                // The session goes back to the pool: it must not keep claiming a database that no longer exists.
                await _admin.ExecuteAsync(ClaimSql.Replace("pg_advisory_lock", "pg_advisory_unlock", StringComparison.Ordinal), new { name = _name });
                return;
            }
            catch (Exception e) when (PostgresEngine.IsConnectionLost(e) || _admin.State != ConnectionState.Open)
            {
                // The session was lost (a restart, a terminated backend): try once more on a new one.
            }
        }
        NpgsqlConnection.ClearPool(_admin);
        await using var freshSession = await PostgresEngine.Instance.OpenWritableAsync(_source, CancellationToken.None);
        var fresh = (NpgsqlConnection)freshSession.Connection;
        await fresh.ExecuteAsync(drop);
    }

    private static string Quote(string identifier) => PostgresEngine.Instance.QuoteIdentifier(identifier);

    private static string Literal(string value) => "'" + value.Replace("'", "''") + "'";
}
