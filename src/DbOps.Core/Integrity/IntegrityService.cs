using System.Data;
using System.Data.Common;
using System.Diagnostics;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbOps.Core.Integrity;

/// <summary>
/// Test-DataIntegrity's engine. Read-only, provably: the connection is opened read-only (SQLite: a read-only file
/// handle plus query_only; PostgreSQL: default_transaction_read_only) and on PostgreSQL every check runs in one
/// REPEATABLE READ READ ONLY transaction, so all checks see one snapshot. It never fixes anything.
/// </summary>
public static class IntegrityService
{
    /// <summary>How long a check waits for a table lock before that table is reported as not checked (PostgreSQL).</summary>
    public static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    private const string Savepoint = "dbops_check";

    /// <summary>
    /// Validates the request against the schema (throwing <see cref="DbOpsException"/> before any check runs), then
    /// runs every planned check. A check that fails (missing table, permission denied) is recorded in the report as
    /// CouldNotRun and the others go on.
    /// </summary>
    public static async Task<IntegrityReport> RunAsync(IntegrityRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var connection = request.Connection;
        var provider = DatabaseEngines.For(connection);
        var sql = new IntegritySql(provider);
        var activity = $"Test-DataIntegrity {connection.Database}";
        observer.Progress(new OperationProgress(activity, "Reading the schema", -1));

        await using var dbSession = await provider.OpenReadOnlyAsync(connection, cancellationToken);

        var db = dbSession.Connection;
        var postgres = connection.Provider == DatabaseProvider.PostgreSQL;
        await ExecuteAsync(db, postgres
            ? $"BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL lock_timeout = '{(int)LockTimeout.TotalMilliseconds}ms'"
            : "PRAGMA query_only = ON", cancellationToken);
        try
        {
            var schema = await SchemaReader.ReadAsync(provider, db, cancellationToken);
            var amcheck = postgres && request.Level == IntegrityLevel.Full
                ? await StorageProbes.ReadAmcheckAsync(db, null, cancellationToken)
                : null;
            var missing = new List<MissingTable>();
            var probes = IntegrityPlanner.Plan(request, schema, sql, amcheck, missing);
            await ValidateConditionsAsync(db, postgres, probes.OfType<CheckViolationProbe>().Where(p => p.IsSpecified), cancellationToken);
            observer.Verbose($"{connection}: {probes.Count} check(s) at level {request.Level} over {schema.Tables.Count} table(s).");

            var context = new ProbeContext(connection, sql, db, null);
            var results = new List<IntegrityCheckResult>();
            for (var i = 0; i < probes.Count; i++)
            {
                var probe = probes[i];
                observer.Progress(new OperationProgress(activity, $"{probe.Check}: {probe.Description} ({i + 1}/{probes.Count})", i * 100 / probes.Count));
                results.Add(await RunProbeAsync(context, probe, postgres, observer, cancellationToken));
            }
            return new IntegrityReport(connection.Provider, connection.Database, request.Level, started, clock.Elapsed, results, missing);
        }
        finally
        {
            if (postgres && db.State == ConnectionState.Open)
            {
                // Nothing was written: ending the snapshot releases the ACCESS SHARE locks the checks took.
                await ExecuteAsync(db, "ROLLBACK", CancellationToken.None);
            }
        }
    }

    private static async Task<IntegrityCheckResult> RunProbeAsync(
        ProbeContext context, IntegrityProbe probe, bool postgres, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var table = probe.Table?.ToString();
        try
        {
            if (postgres)
            {
                await ExecuteAsync(context.Db, $"SAVEPOINT {Savepoint}", cancellationToken);
            }
            var findings = await probe.RunAsync(context, cancellationToken);
            if (postgres)
            {
                await ExecuteAsync(context.Db, $"RELEASE SAVEPOINT {Savepoint}", cancellationToken);
            }
            return new IntegrityCheckResult(probe.Check, table, probe.Columns, probe.Description, findings, null, null, clock.Elapsed);
        }
        catch (DbException e) when (!cancellationToken.IsCancellationRequested && context.Db.State == ConnectionState.Open)
        {
            if (postgres)
            {
                // The failed statement aborted the transaction; the savepoint brings it back, snapshot and all.
                await ExecuteAsync(context.Db, $"ROLLBACK TO SAVEPOINT {Savepoint}", cancellationToken);
            }
            var (id, message) = Describe(e, probe);
            observer.Verbose($"{probe.Check} on {table ?? "the database"} could not run: {message}");
            return new IntegrityCheckResult(probe.Check, table, probe.Columns, probe.Description, [], id, message, clock.Elapsed);
        }
    }

    /// <summary>A condition the caller wrote must parse and name real columns: LIMIT 0 asks the server without reading rows.</summary>
    private static async Task ValidateConditionsAsync(DbConnection db, bool postgres, IEnumerable<CheckViolationProbe> probes, CancellationToken cancellationToken)
    {
        foreach (var probe in probes)
        {
            try
            {
                if (postgres)
                {
                    await ExecuteAsync(db, $"SAVEPOINT {Savepoint}", cancellationToken);
                }
                await ExecuteAsync(db, probe.Query.Listing + "\nLIMIT 0", cancellationToken);
                if (postgres)
                {
                    await ExecuteAsync(db, $"RELEASE SAVEPOINT {Savepoint}", cancellationToken);
                }
            }
            catch (DbException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                    $"The condition '{probe.Expression}' for {probe.Table} is not a valid boolean expression over its columns: {ServerMessage(e)}",
                    probe.Table?.ToString(), e);
            }
        }
    }

    private static (string Id, string Message) Describe(DbException e, IntegrityProbe probe)
    {
        var where = probe.Table is null ? "the database" : probe.Table.ToString();
        var message = ServerMessage(e);
        if (e is PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege })
        {
            return (ErrorIds.InsufficientPrivilege, $"{probe.Check} of {where} could not run: {message}. Grant SELECT on the tables involved.");
        }
        if (e is PostgresException { SqlState: PostgresErrorCodes.UndefinedTable }
            || (e is SqliteException && message.Contains("no such table", StringComparison.OrdinalIgnoreCase)))
        {
            return (ErrorIds.TableNotFound, $"{probe.Check} of {where} could not run: {message}. The table may have been dropped or renamed.");
        }
        if (e is PostgresException { SqlState: PostgresErrorCodes.LockNotAvailable })
        {
            return (ErrorIds.IntegrityCheckFailed,
                $"{probe.Check} of {where} waited {LockTimeout.TotalSeconds:F0} s for a lock (another session holds an exclusive lock) and was skipped; run again later.");
        }
        return (ErrorIds.IntegrityCheckFailed, $"{probe.Check} of {where} could not run: {message}");
    }

    private static string ServerMessage(DbException e) => e switch
    {
        PostgresException p => p.MessageText,
        SqliteException s => s.Message.Replace("SQLite Error 1: ", "", StringComparison.Ordinal).Trim('\'', ' ', '.'),
        _ => e.Message,
    };

    private static Task<int> ExecuteAsync(DbConnection db, string statement, CancellationToken cancellationToken) =>
        db.ExecuteAsync(new CommandDefinition(statement, commandTimeout: 0, cancellationToken: cancellationToken));
}
