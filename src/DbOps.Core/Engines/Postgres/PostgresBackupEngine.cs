using System.Globalization;
using System.Text.RegularExpressions;
using Dapper;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Tools;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>
/// PostgreSQL backups through pg_dump's custom format: pg_dump knows every object type, so DbOps wraps it
/// rather than writing a dumper. Rows are counted by streaming the archive back through pg_restore.
/// </summary>
internal sealed partial class PostgresBackupEngine : IBackupEngine
{
    public static readonly PostgresBackupEngine Instance = new();

    /// <summary>Whether the current user could create the database again, with its owner, after dropping it.</summary>
    private const string MayRecreateSql = """
        SELECT (rolsuper OR rolcreatedb) AND pg_has_role(current_user, @owner, 'MEMBER')
        FROM pg_catalog.pg_roles WHERE rolname = current_user
        """;

    /// <summary>What a recreated database must keep: its owner, encoding and locale.</summary>
    private const string RecreateSettingsSql = """
        SELECT pg_get_userbyid(datdba) AS Owner, pg_encoding_to_char(encoding) AS Encoding, datcollate AS Collate, datctype AS Ctype
        FROM pg_catalog.pg_database WHERE datname = @name
        """;

    [GeneratedRegex("dumping contents of table \"(?<table>[^\"]+)\"")]
    private static partial Regex DumpingTable();

    /// <summary>A pg_restore --list line that creates an extension or comments on one: "3; 3079 16385 EXTENSION - name".</summary>
    [GeneratedRegex(@"^\d+; \d+ \d+ (?:EXTENSION -|COMMENT - EXTENSION) (?<name>.+?)\s*$")]
    private static partial Regex ExtensionEntry();

    public string Format => "pg_dump-custom";

    public string Extension => ".dump";

    public async Task<WrittenBackup> WriteAsync(DbOpsConnection source, string path, EngineContext context)
    {
        var pgDump = await PostgresClientTools.LocateAsync("pg_dump", PostgresClientTools.MajorVersion(source.ServerVersion),
            context.ToolPath, context.CancellationToken);
        // pg_restore reads the archive back to count rows; it must be as new as the pg_dump that wrote it.
        var pgRestore = await PostgresClientTools.LocateAsync("pg_restore", pgDump.MajorVersion,
            context.ToolPath ?? Path.GetDirectoryName(pgDump.Path), context.CancellationToken);
        context.Observer.Verbose($"Using {pgDump.VersionText} at {pgDump.Path}.");

        int tableCount;
        DatabaseLocale locale;
        await using (var session = await PostgresEngine.Instance.OpenReadOnlyAsync(source, context.CancellationToken))
        {
            tableCount = Math.Max(1, (await PostgresEngine.Instance.ListTablesAsync(session.Connection, context.CancellationToken)).Count);
            locale = await PostgresDatabases.LocaleAsync((NpgsqlConnection)session.Connection, context.CancellationToken);
        }

        var dumped = 0;
        using var stopDump = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var dump = ExternalTool.RunAsync(pgDump.Path,
            ["--format=custom", "--no-password", "--verbose", $"--file={path}"],
            PostgresClientTools.EnvironmentFor(source), null,
            line =>
            {
                var match = DumpingTable().Match(line);
                if (match.Success)
                {
                    dumped++;
                    context.Report($"Dumping {match.Groups["table"].Value}", Math.Min(99, 100 * dumped / tableCount));
                }
            },
            stopDump.Token);

        // Count while pg_dump writes: pg_dump appends the archive in order (at the end it rewrites only the table of
        // contents, in place, adding data offsets that a sequential reader does not need), so pg_restore can read the
        // growing file as it reads `pg_dump -Fc | pg_restore`. That uses the second core instead of a second pass.
        IReadOnlyList<ManifestTable>? tables;
        try
        {
            tables = await CountAsync(pgRestore, context, (stdin, token) => FollowAsync(path, dump, stdin, token));
        }
        catch (Exception e) when (e is DbOpsException or IOException or InvalidDataException)
        {
            tables = null;
            context.Observer.Verbose($"Counting rows while dumping failed ({e.Message}); counting from the finished file instead.");
        }
        catch
        {
            // Cancelled or worse: pg_dump must not go on writing a file that is about to be deleted.
            await stopDump.CancelAsync();
            await Task.WhenAny(dump);
            throw;
        }

        var run = await dump;
        if (run.ExitCode != 0)
        {
            throw ToolFailure("pg_dump", run, path);
        }
        tables ??= await CountAsync(pgRestore, context, null, path);
        return new WrittenBackup(pgDump.VersionText, tables) { Locale = locale };
    }

    /// <summary>
    /// Streams pg_restore's plain-text data output through the row counter. The archive comes from
    /// <paramref name="feed"/> (standard input) or from the file at <paramref name="path"/>.
    /// </summary>
    private static async Task<IReadOnlyList<ManifestTable>> CountAsync(
        PostgresTool pgRestore, EngineContext context, Func<Stream, CancellationToken, Task>? feed, string? path = null)
    {
        var counter = new CopyStreamCounter();
        string[] arguments = path is null ? ["--data-only", "--file=-"] : ["--data-only", "--file=-", path];
        var run = await ExternalTool.RunAsync(pgRestore.Path, arguments,
            new Dictionary<string, string?>(), counter.CountAsync, null, context.CancellationToken, feed);
        if (run.ExitCode != 0)
        {
            throw new DbOpsException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                $"pg_restore could not read the backup {path} (exit code {run.ExitCode}): {run.ErrorTail}", path);
        }
        return counter.Tables.OrderBy(t => t.Schema, StringComparer.Ordinal).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>Copies a file that another process is still appending to, until that process has exited.</summary>
    private static async Task FollowAsync(string path, Task writer, Stream destination, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        var buffer = new byte[1 << 20];
        while (true)
        {
            // Checked before reading: end-of-file after the writer has finished is the real end.
            var finished = writer.IsCompleted;
            var read = await file.ReadAsync(buffer, cancellationToken);
            if (read > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
            else if (finished)
            {
                return;
            }
            else
            {
                await Task.WhenAny(writer, Task.Delay(20, cancellationToken));
            }
        }
    }

    public async Task<RestoredCounts> RestoreToScratchAsync(BackupManifest manifest, string path, DbOpsConnection? server, EngineContext context)
    {
        server ??= await ReconnectAsync(manifest, context);
        await using var scratch = await PostgresScratchDatabase.CreateAsync(server, "verify the backup",
            "verify with Test-Backup -Database pointing at a server where it may", context.Observer, context.CancellationToken);
        var pgRestore = await LocateRestoreAsync(manifest.ToolVersion, context);
        var (listFile, skipped) = await LeaveOutUncreatableExtensionsAsync(pgRestore, path, scratch.Connection, context);
        try
        {
            string[] options = ["--no-owner", "--no-privileges", "--exit-on-error"];
            var restored = await RestoreIntoAsync(manifest, path, scratch.Connection,
                listFile is null ? options : [.. options, $"--use-list={listFile}"], context);
            return restored with { Skipped = skipped };
        }
        catch (DbOpsException e) when (e.ErrorId == ErrorIds.RestoreFailed && skipped.Count > 0)
        {
            throw new DbOpsException(ErrorIds.ExtensionUnavailable, ErrorKind.ResourceUnavailable,
                $"The backup could not be verified: it needs {string.Join("; ", skipped)}, which could not be created in the scratch " +
                $"database, and restoring without it failed ({e.Message}). The file itself matches its manifest. Verify it with " +
                "Test-Backup -Database on a connection that may create the extension (a superuser).", path, e);
        }
        finally
        {
            if (listFile is not null)
            {
                File.Delete(listFile);
            }
        }
    }

    /// <summary>
    /// Extensions the backup creates that the scratch database's user may not create (pg_stat_statements and other
    /// untrusted ones need a superuser) or that this server lacks. Each is tried in a transaction that is rolled back;
    /// the ones that fail are left out of the restore through a pg_restore list file, so an extension that holds no
    /// table data does not make an intact backup look damaged. Returns the list file (null when nothing is left out)
    /// and what was left out, with the server's reason.
    /// </summary>
    private static async Task<(string? ListFile, IReadOnlyList<string> Skipped)> LeaveOutUncreatableExtensionsAsync(
        PostgresTool pgRestore, string path, DbOpsConnection scratch, EngineContext context)
    {
        var toc = new List<string>();
        var run = await ExternalTool.RunAsync(pgRestore.Path, ["--list", path], new Dictionary<string, string?>(),
            async (stdout, token) =>
            {
                using var reader = new StreamReader(stdout);
                while (await reader.ReadLineAsync(token) is { } line)
                {
                    toc.Add(line);
                }
            }, null, context.CancellationToken);
        if (run.ExitCode != 0)
        {
            throw new DbOpsException(ErrorIds.BackupCorrupt, ErrorKind.InvalidData,
                $"pg_restore could not read the table of contents of {path} (exit code {run.ExitCode}): {run.ErrorTail}", path);
        }
        var extensions = toc.Select(l => ExtensionEntry().Match(l)).Where(m => m.Success).Select(m => m.Groups["name"].Value).Distinct().ToList();
        if (extensions.Count == 0)
        {
            return (null, []);
        }

        var skipped = new Dictionary<string, string>();
        await using (var session = await PostgresEngine.Instance.OpenWritableAsync(scratch, context.CancellationToken))
        {
            var db = (NpgsqlConnection)session.Connection;
            foreach (var extension in extensions)
            {
                await using var transaction = await db.BeginTransactionAsync(context.CancellationToken);
                try
                {
                    await using var create = new NpgsqlCommand($"CREATE EXTENSION IF NOT EXISTS {Quote(extension)} CASCADE", db, transaction);
                    await create.ExecuteNonQueryAsync(context.CancellationToken);
                }
                catch (PostgresException e)
                {
                    skipped[extension] = e.MessageText;
                }
                await transaction.RollbackAsync(context.CancellationToken);
            }
        }
        if (skipped.Count == 0)
        {
            return (null, []);
        }

        var listFile = Path.Combine(Path.GetTempPath(), $"dbops-restore-{Guid.NewGuid():N}.list");
        await File.WriteAllLinesAsync(listFile, toc.Select(l =>
            ExtensionEntry().Match(l) is { Success: true } m && skipped.ContainsKey(m.Groups["name"].Value) ? ";" + l : l), context.CancellationToken);
        var described = skipped.Select(s => $"extension {s.Key} ({s.Value})").ToList();
        context.Observer.Verbose($"Leaving out of the scratch restore: {string.Join("; ", described)}.");
        return (listFile, described);
    }

    public async Task<bool> IsEmptyAsync(DbOpsConnection target, EngineContext context)
    {
        await using var session = await PostgresEngine.Instance.OpenReadOnlyAsync(target, context.CancellationToken);
        var connection = session.Connection;
        return (await PostgresEngine.Instance.ListTablesAsync(connection, context.CancellationToken)).Count == 0;
    }

    public async Task<RestoredCounts> RestoreAsync(BackupManifest manifest, string path, DbOpsConnection target, RestoreOptions options, EngineContext context)
    {
        if (options.Force)
        {
            // pg_restore --clean cannot drop partitions' inherited constraints, so replacing means a fresh database.
            await RecreateDatabaseAsync(target, context);
        }
        string[] arguments = options.NoOwner ? ["--exit-on-error", "--no-owner", "--no-privileges"] : ["--exit-on-error"];
        return await RestoreIntoAsync(manifest, path, target, arguments, context);
    }

    /// <summary>Drops and recreates the target with the same owner, encoding and locale; its sessions are ended.</summary>
    private static async Task RecreateDatabaseAsync(DbOpsConnection target, EngineContext context)
    {
        var maintenance = target.WithDatabase(target.Database == "postgres" ? "template1" : "postgres");
        await using var adminSession = await PostgresEngine.Instance.OpenWritableAsync(maintenance, context.CancellationToken);
        var admin = (NpgsqlConnection)adminSession.Connection;
        var database = await admin.QuerySingleAsync<(string Owner, string Encoding, string Collate, string Ctype)>(
            RecreateSettingsSql, new { name = target.Database });
        var name = Quote(target.Database);
        // Checked before anything is dropped: an owner may drop a database it cannot create again.
        if (!await admin.ExecuteScalarAsync<bool>(MayRecreateSql, new { owner = database.Owner }))
        {
            throw new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
                $"-Force replaces {target} by dropping and recreating it, and {target.User} may not create databases owned by " +
                $"{database.Owner}; nothing was dropped. Run as a user with CREATEDB and membership in {database.Owner}, " +
                "or restore into an empty database without -Force.", target.ToString());
        }
        context.Observer.Verbose($"-Force: dropping and recreating {target} to replace its contents.");
        try
        {
            await admin.ExecuteAsync($"DROP DATABASE {name} WITH (FORCE)");
            // The drop ended every session on the target, including idle ones in this process's pools that earlier
            // cmdlets left there; handed out again they fail with 57P01. The pools are keyed by connection string,
            // and the target may have been reached under several, so all are emptied (busy connections are closed
            // when returned, not interrupted).
            NpgsqlConnection.ClearAllPools();
            await admin.ExecuteAsync($"CREATE DATABASE {name} OWNER {Quote(database.Owner)} TEMPLATE template0 " +
                                     $"ENCODING {Literal(database.Encoding)} LC_COLLATE {Literal(database.Collate)} LC_CTYPE {Literal(database.Ctype)}");
        }
        catch (PostgresException e) when (e.SqlState == "42501")
        {
            throw new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
                $"-Force replaces {target} by dropping and recreating it, and {target.User} may not ({e.MessageText}). " +
                "Run as the database owner with CREATEDB, or restore into an empty database without -Force.", target.ToString(), e);
        }
    }

    private async Task<RestoredCounts> RestoreIntoAsync(
        BackupManifest manifest, string path, DbOpsConnection target, IEnumerable<string> options, EngineContext context)
    {
        var pgRestore = await LocateRestoreAsync(manifest.ToolVersion, context);
        var jobs = Math.Clamp(Environment.ProcessorCount, 1, 4).ToString(CultureInfo.InvariantCulture);
        var restored = 0;
        var run = await ExternalTool.RunAsync(pgRestore.Path,
            [.. options, "--no-password", "--verbose", $"--jobs={jobs}", $"--dbname={ConnInfoDatabase(target.Database)}", path],
            PostgresClientTools.EnvironmentFor(target), null,
            line =>
            {
                if (line.Contains("processing data for table", StringComparison.Ordinal))
                {
                    restored++;
                    context.Report($"Restoring table {restored} of {manifest.Tables.Count}", Math.Min(99, 100 * restored / Math.Max(1, manifest.Tables.Count)));
                }
            },
            context.CancellationToken);
        if (run.ExitCode != 0)
        {
            throw new DbOpsException(ErrorIds.RestoreFailed, ErrorKind.OperationFailed,
                $"pg_restore failed restoring '{path}' into {target} (exit code {run.ExitCode}): {run.ErrorTail}", path);
        }

        await using var session = await PostgresEngine.Instance.OpenReadOnlyAsync(target, context.CancellationToken);

        var connection = session.Connection;
        return new RestoredCounts(await PostgresEngine.Instance.CountExistingAsync(connection, manifest.TableRefs, context.CancellationToken), 0);
    }

    /// <summary>pg_restore must be at least as new as the pg_dump that wrote the archive.</summary>
    private static Task<PostgresTool> LocateRestoreAsync(string toolVersion, EngineContext context) =>
        PostgresClientTools.LocateAsync("pg_restore", PostgresClientTools.ToolMajorVersion(toolVersion) ?? 0, context.ToolPath, context.CancellationToken);

    /// <summary>Reaches the server the manifest names; the password comes from PGPASSWORD or ~/.pgpass.</summary>
    private static async Task<DbOpsConnection> ReconnectAsync(BackupManifest manifest, EngineContext context)
    {
        var server = manifest.Server ?? "localhost:5432";
        var colon = server.LastIndexOf(':');
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = colon > 0 ? server[..colon] : server,
            Port = colon > 0 ? int.Parse(server[(colon + 1)..], CultureInfo.InvariantCulture) : 5432,
            Database = "postgres",
            Username = manifest.User,
        };
        context.Observer.Verbose($"No -Database given: verifying on the server the manifest names, {server}.");
        try
        {
            return await DatabaseConnector.ConnectPostgresAsync(builder.ConnectionString, null, null, context.CancellationToken);
        }
        catch (DbOpsException e) when (e.ErrorId is ErrorIds.AuthenticationFailed or ErrorIds.ConnectionFailed)
        {
            throw new DbOpsException(e.ErrorId, e.Kind,
                $"No -Database was given, so the backup is verified on the server its manifest names, as {manifest.User}: {e.Message} " +
                "Or pass -Database with a connection to a server where the backup may be restored (Connect-Database -Credential).",
                e.Target, e);
        }
    }

    /// <summary>
    /// pg_restore reads a --dbname holding '=' or a URI prefix as a connection string, so always pass one:
    /// libpq's quoting, with the rest (host, user, password) from the environment.
    /// </summary>
    private static string ConnInfoDatabase(string database) => $"dbname='{database.Replace("\\", "\\\\").Replace("'", "\\'")}'";

    private static string Quote(string identifier) => PostgresEngine.Instance.QuoteIdentifier(identifier);

    private static string Literal(string value) => "'" + value.Replace("'", "''") + "'";

    private static Exception ToolFailure(string tool, ToolRun run, string path) =>
        run.ErrorTail.Contains("No space left on device", StringComparison.OrdinalIgnoreCase)
            ? new IOException($"No space left on device ({tool}: {run.ErrorTail})", 28)
            : new DbOpsException(ErrorIds.ToolFailed, ErrorKind.OperationFailed,
                $"{tool} failed (exit code {run.ExitCode}) writing '{path}': {run.ErrorTail}", path);
}
