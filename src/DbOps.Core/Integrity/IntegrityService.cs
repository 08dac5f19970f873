using System.Data;
using System.Data.Common;
using System.Diagnostics;
using Dapper;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

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
        var inspection = provider.Inspection;
        var sql = new IntegritySql(provider);
        var activity = $"Test-DataIntegrity {connection.Database}";
        observer.Progress(new OperationProgress(activity, "Reading the schema", -1));

        await using var dbSession = await provider.OpenReadOnlyAsync(connection, cancellationToken);

        var db = dbSession.Connection;
        await using var checks = await inspection.BeginChecksAsync(db, LockTimeout, cancellationToken);
        var schema = await SchemaReader.ReadAsync(provider, db, cancellationToken);
        var storage = await inspection.PrepareStorageChecksAsync(db, sql, request.Level, cancellationToken);
        var missing = new List<MissingTable>();
        var probes = IntegrityPlanner.Plan(request, schema, sql, storage, missing);
        await ValidateConditionsAsync(inspection, db, probes.OfType<CheckViolationProbe>().Where(p => p.IsSpecified), cancellationToken);
        observer.Verbose($"{connection}: {probes.Count} check(s) at level {request.Level} over {schema.Tables.Count} table(s).");

        var context = new ProbeContext(connection, sql, db, null);
        var results = new List<IntegrityCheckResult>();
        for (var i = 0; i < probes.Count; i++)
        {
            var probe = probes[i];
            observer.Progress(new OperationProgress(activity, $"{probe.Check}: {probe.Description} ({i + 1}/{probes.Count})", i * 100 / probes.Count));
            results.Add(await RunProbeAsync(context, probe, observer, cancellationToken));
        }
        return new IntegrityReport(connection.Provider, connection.Database, request.Level, started, clock.Elapsed, results, missing);
    }

    private static async Task<IntegrityCheckResult> RunProbeAsync(
        ProbeContext context, IntegrityProbe probe, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var table = probe.Table?.ToString();
        var inspection = context.Sql.Provider.Inspection;
        try
        {
            // Isolated, so a check that fails leaves the snapshot usable for the next one.
            var findings = await inspection.IsolateAsync(context.Db, () => probe.RunAsync(context, cancellationToken), cancellationToken);
            return new IntegrityCheckResult(probe.Check, table, probe.Columns, probe.Description, findings, null, null, clock.Elapsed);
        }
        catch (DbException e) when (!cancellationToken.IsCancellationRequested && context.Db.State == ConnectionState.Open)
        {
            var (id, message) = Describe(inspection, e, probe);
            observer.Verbose($"{probe.Check} on {table ?? "the database"} could not run: {message}");
            return new IntegrityCheckResult(probe.Check, table, probe.Columns, probe.Description, [], id, message, clock.Elapsed);
        }
    }

    /// <summary>A condition the caller wrote must parse and name real columns: LIMIT 0 asks the server without reading rows.</summary>
    private static async Task ValidateConditionsAsync(
        IInspectionDialect inspection, DbConnection db, IEnumerable<CheckViolationProbe> probes, CancellationToken cancellationToken)
    {
        foreach (var probe in probes)
        {
            try
            {
                await inspection.IsolateAsync(db, () => ExecuteAsync(db, probe.Query.Listing + "\nLIMIT 0", cancellationToken), cancellationToken);
            }
            catch (DbException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                    $"The condition '{probe.Expression}' for {probe.Table} is not a valid boolean expression over its columns: {inspection.ExplainFailure(e).Message}",
                    probe.Table?.ToString(), e);
            }
        }
    }

    private static (string Id, string Message) Describe(IInspectionDialect inspection, DbException e, IntegrityProbe probe)
    {
        var where = probe.Table is null ? "the database" : probe.Table.ToString();
        var (failure, message) = inspection.ExplainFailure(e);
        return failure switch
        {
            ReadFailure.PermissionDenied => (ErrorIds.InsufficientPrivilege, $"{probe.Check} of {where} could not run: {message}. Grant SELECT on the tables involved."),
            ReadFailure.TableMissing => (ErrorIds.TableNotFound, $"{probe.Check} of {where} could not run: {message}. The table may have been dropped or renamed."),
            ReadFailure.LockTimeout => (ErrorIds.IntegrityCheckFailed,
                $"{probe.Check} of {where} waited {LockTimeout.TotalSeconds:F0} s for a lock (another session holds an exclusive lock) and was skipped; run again later."),
            _ => (ErrorIds.IntegrityCheckFailed, $"{probe.Check} of {where} could not run: {message}"),
        };
    }

    private static Task<int> ExecuteAsync(DbConnection db, string statement, CancellationToken cancellationToken) =>
        db.ExecuteAsync(new CommandDefinition(statement, commandTimeout: 0, cancellationToken: cancellationToken));
}
