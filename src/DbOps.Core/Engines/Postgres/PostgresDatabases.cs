using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>
/// PostgreSQL's half of <see cref="IDatabaseLifecycle"/>. CREATE and DROP DATABASE cannot run inside the database
/// they name, so they run from the server's maintenance database. The mark is a COMMENT ON DATABASE: it lives in the
/// shared catalog with the database, survives restarts, and pg_restore without --create never writes one.
/// </summary>
internal sealed class PostgresDatabases : IDatabaseLifecycle
{
    public static readonly PostgresDatabases Instance = new();

    private const string LocaleSql = """
        SELECT pg_encoding_to_char(encoding) AS Encoding, datcollate AS Collate, datctype AS Ctype
        FROM pg_catalog.pg_database WHERE datname = current_database()
        """;

    private const string CommentSql = """
        SELECT coalesce(pg_catalog.shobj_description(oid, 'pg_database'), '') FROM pg_catalog.pg_database WHERE datname = @name
        """;

    private const string SessionsSql = """
        SELECT format('pid %s (%s, %s)', pid, usename, coalesce(nullif(application_name, ''), 'no application name'))
        FROM pg_catalog.pg_stat_activity WHERE datname = @name AND pid <> pg_catalog.pg_backend_pid() ORDER BY pid
        """;

    /// <summary>The database's encoding and locale, as CREATE DATABASE takes them.</summary>
    public static async Task<DatabaseLocale> LocaleAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        await connection.QuerySingleAsync<DatabaseLocale>(new CommandDefinition(LocaleSql, cancellationToken: cancellationToken));

    public async Task<bool> ExistsAsync(DbOpsConnection target, CancellationToken cancellationToken)
    {
        await using var admin = await OpenAdminAsync(target, cancellationToken);
        return await admin.ExecuteScalarAsync<string?>(new CommandDefinition(CommentSql, new { name = target.Database }, cancellationToken: cancellationToken)) is not null;
    }

    public async Task CreateAsync(DbOpsConnection target, DatabaseLocale? locale, string mark, CancellationToken cancellationToken)
    {
        await using var admin = await OpenAdminAsync(target, cancellationToken);
        // An older manifest does not record the source's locale: the maintenance database's is the server's default.
        locale ??= await LocaleAsync(admin, cancellationToken);
        var name = Quote(target.Database);
        try
        {
            // template0: template1 may hold objects of its own, and only template0 accepts another encoding or locale.
            await admin.ExecuteAsync(new CommandDefinition(
                $"CREATE DATABASE {name} TEMPLATE template0 ENCODING {Literal(locale.Encoding)} " +
                $"LC_COLLATE {Literal(locale.Collate)} LC_CTYPE {Literal(locale.Ctype)}", cancellationToken: cancellationToken));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
                $"{target.User} may not create databases ({e.MessageText}). Grant CREATEDB to that user, or restore into an " +
                "existing empty database without -Create.", target.ToString(), e);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateDatabase)
        {
            throw new DbOpsException(ErrorIds.DatabaseExists, ErrorKind.AlreadyExists,
                $"{target} was created by someone else a moment ago; it was not touched. Choose another name.", target.ToString(), e);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidParameterValue or PostgresErrorCodes.UndefinedObject)
        {
            throw new DbOpsException(ErrorIds.RestoreFailed, ErrorKind.ResourceUnavailable,
                $"{target} cannot be created with the source's encoding {locale.Encoding} and locale {locale.Collate}/{locale.Ctype} " +
                $"on this server ({e.MessageText}). Install that locale on the server, or create the database yourself and restore without -Create.",
                target.ToString(), e);
        }
        await admin.ExecuteAsync(new CommandDefinition($"COMMENT ON DATABASE {name} IS {Literal(mark)}", cancellationToken: cancellationToken));
    }

    public async Task<string?> CreationMarkAsync(DbOpsConnection target, CancellationToken cancellationToken)
    {
        await using var admin = await OpenAdminAsync(target, cancellationToken);
        var comment = await admin.ExecuteScalarAsync<string?>(new CommandDefinition(CommentSql, new { name = target.Database }, cancellationToken: cancellationToken));
        return comment is not null && comment.StartsWith(Databases.CreationMarks.Prefix, StringComparison.Ordinal) ? comment : null;
    }

    public async Task<IReadOnlyList<string>> RemoveAsync(DbOpsConnection target, bool endSessions, CancellationToken cancellationToken)
    {
        // This process's idle pooled sessions (earlier cmdlets' snapshots of the rehearsal copy) are not other users:
        // close them, and without FORCE the server waits a few seconds for their backends to exit.
        NpgsqlConnection.ClearAllPools();
        await using var admin = await OpenAdminAsync(target, cancellationToken);
        try
        {
            await admin.ExecuteAsync(new CommandDefinition(
                $"DROP DATABASE {Quote(target.Database)}{(endSessions ? " WITH (FORCE)" : "")}", cancellationToken: cancellationToken));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ObjectInUse)
        {
            var sessions = (await admin.QueryAsync<string>(new CommandDefinition(SessionsSql, new { name = target.Database }, cancellationToken: cancellationToken))).ToList();
            throw new DbOpsException(ErrorIds.DatabaseHasSessions, ErrorKind.InvalidState,
                $"{target} is in use by {(sessions.Count == 0 ? "other sessions" : string.Join(", ", sessions))} and was not dropped. " +
                "Close them, or pass -EndSessions to end them and drop it.", target.ToString(), e);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
                $"{target.User} may not drop {target} ({e.MessageText}): only its owner or a superuser may.", target.ToString(), e);
        }
        return [target.Database];
    }

    /// <summary>A session on the server's maintenance database (template1 when the target is postgres itself).</summary>
    private static async Task<NpgsqlConnection> OpenAdminAsync(DbOpsConnection target, CancellationToken cancellationToken)
    {
        var maintenance = target.WithDatabase(target.Database == "postgres" ? "template1" : "postgres");
        return (NpgsqlConnection)(await PostgresEngine.Instance.OpenWritableAsync(maintenance, cancellationToken)).Connection;
    }

    private static string Quote(string identifier) => PostgresEngine.Instance.QuoteIdentifier(identifier);

    private static string Literal(string value) => "'" + value.Replace("'", "''") + "'";
}
