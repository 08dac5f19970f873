using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbOps.Core.Constraints;

/// <summary>How long to wait for a lock, and how often to try again, when a statement needs a strong lock.</summary>
/// <param name="LockTimeout">PostgreSQL lock_timeout (SQLite busy timeout) per attempt.</param>
/// <param name="MaxRetries">Further attempts after the first one gave up waiting, with growing pauses between them.</param>
public sealed record ConstraintOptions(TimeSpan LockTimeout, int MaxRetries)
{
    /// <summary>2 seconds, 10 retries; statements that block writers wait at most <see cref="BlockingTryTimeout"/> per try.</summary>
    public static ConstraintOptions Default { get; } = new(TimeSpan.FromSeconds(2), 10);

    /// <summary>
    /// PostgreSQL: the longest one try of a statement that blocks writers (ADD ... NOT VALID, SET NOT NULL, USING INDEX)
    /// may wait for its lock: while it waits, every writer of the table queues behind it (a foreign key holds the child
    /// table while it waits for the parent). 30 ms, or <see cref="LockTimeout"/> when that is shorter, unless set; VALIDATE and
    /// concurrent index builds, which let writers through while they wait, keep <see cref="LockTimeout"/>.
    /// </summary>
    public TimeSpan BlockingTryTimeout
    {
        get => _blockingTryTimeout is { } set ? set : LockTimeout < TimeSpan.FromMilliseconds(30) ? LockTimeout : TimeSpan.FromMilliseconds(30);
        init => _blockingTryTimeout = value;
    }

    private readonly TimeSpan? _blockingTryTimeout;

    /// <summary>The pause before retry <paramref name="attempt"/> (1-based): 250 ms doubling up to 5 s, plus up to 100 ms of jitter.</summary>
    internal TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(250 * Math.Pow(2, attempt - 1), 5000) + Random.Shared.Next(0, 100));
}

/// <summary>
/// Add-SafeConstraint's engine: constraints go on only when no row violates them, and without holding a lock that
/// stops writers for longer than <see cref="ConstraintOptions.LockTimeout"/>. Planning runs read-only; only
/// <see cref="ApplyAsync"/> changes the database.
/// </summary>
public static class ConstraintService
{
    /// <summary>
    /// Resolves the spec against the catalog, looks for an equivalent constraint, counts the violating rows (with a
    /// sample of their keys) and works out the exact statements. Nothing is changed: this is all -WhatIf runs.
    /// </summary>
    public static async Task<ConstraintPlan> PlanAsync(
        DbOpsConnection connection, ConstraintSpec spec, ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var provider = DatabaseEngines.For(connection.Provider);
        observer.Progress(new OperationProgress($"Add-SafeConstraint {spec}", "Reading the catalog", -1));
        await using var dbSession = await provider.OpenReadOnlyAsync(connection, cancellationToken);
        var db = dbSession.Connection;
        var schema = await SchemaReader.ReadAsync(provider, db, cancellationToken);
        var resolved = ConstraintPlanner.Resolve(schema, spec);
        ConstraintPlan plan;
        if (provider.Kind == DatabaseProvider.PostgreSQL)
        {
            string? canonical = null;
            try
            {
                canonical = PostgresConstraints.MayMatchExistingCheck(resolved)
                    ? await PostgresConstraints.CanonicalCheckAsync(connection, resolved, cancellationToken)
                    : null;
            }
            catch (PostgresException e) when (e.SqlState is not "42501" && (e.SqlState.StartsWith("42", StringComparison.Ordinal)
                                                                             || e.SqlState.StartsWith("22", StringComparison.Ordinal) || e.SqlState == "0A000"))
            {
                throw new DbOpsException(ErrorIds.InvalidConstraintExpression, ErrorKind.InvalidArgument,
                    $"The server rejected the CHECK expression for {resolved.Table.Table}: {ServerMessage(e)}. Nothing was changed.", resolved.Table.Table, e);
            }
            catch (PostgresException e)
            {
                // No TEMP privilege, a read-only standby...: compare the text as typed instead.
                observer.Verbose($"The server could not print the CHECK expression for comparison ({ServerMessage(e)}); comparing its text instead.");
            }
            plan = PostgresConstraints.Plan(connection, schema, resolved, options, observer, canonical);
        }
        else
        {
            plan = await SqliteConstraints.PlanAsync(connection, db, schema, resolved, options, cancellationToken);
        }
        if (plan.Outcome is null || plan.PresentButUnchecked)
        {
            observer.Progress(new OperationProgress($"Add-SafeConstraint {spec}", "Counting rows that violate the constraint", -1));
            var (count, sample) = await PreflightAsync(db, plan, cancellationToken);
            plan.ViolationCount = count;
            plan.Sample = sample;
            if (count > 0)
            {
                plan.Outcome = ConstraintStatus.Blocked;
            }
        }
        observer.Verbose(plan.Outcome is { } outcome
            ? $"{plan.Table} {plan.Name}: {outcome}; nothing to run."
            : $"{plan.Table} {plan.Name}: no violating rows; {plan.Steps.Count} statement(s) to run.");
        plan.PlanningTime = clock.Elapsed;
        return plan;
    }

    /// <summary>
    /// Runs a plan from <see cref="PlanAsync"/>. A plan that settled (Blocked, AlreadyPresent) runs nothing.
    /// A failure undoes what was done and throws a <see cref="DbOpsException"/> (LockTimeout, ConstraintViolations,
    /// ConstraintFailed); violations that appear between planning and the change give a Blocked result on SQLite
    /// (checked inside the rebuild's transaction) and ConstraintViolations on PostgreSQL.
    /// </summary>
    public static Task<ConstraintResult> ApplyAsync(ConstraintPlan plan, ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken) =>
        plan.Outcome is not null ? Task.FromResult(plan.Settled())
        : plan.Provider == DatabaseProvider.PostgreSQL ? PostgresConstraints.ApplyAsync(plan, options, observer, cancellationToken)
        : SqliteConstraints.ApplyAsync(plan, options, observer, cancellationToken);

    /// <summary>Plans and applies in one go (what Add-SafeConstraint does without -WhatIf).</summary>
    public static async Task<ConstraintResult> AddAsync(
        DbOpsConnection connection, ConstraintSpec spec, ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken) =>
        await ApplyAsync(await PlanAsync(connection, spec, options, observer, cancellationToken), options, observer, cancellationToken);


    /// <summary>Runs the plan's preflight query: the total and the keys of the first rows.</summary>
    internal static async Task<(long Count, IReadOnlyList<string> Sample)> PreflightAsync(DbConnection db, ConstraintPlan plan, CancellationToken cancellationToken)
    {
        if (plan.Provider == DatabaseProvider.PostgreSQL)
        {
            // The scan stays on one core, leaving the others to the workload it must not slow down.
            await using var setting = db.CreateCommand();
            setting.CommandText = "SET max_parallel_workers_per_gather = 0";
            await setting.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var command = db.CreateCommand();
        command.CommandText = plan.PreflightSql;
        command.CommandTimeout = 0;
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            long count = 0;
            var sample = new List<string>();
            while (await reader.ReadAsync(cancellationToken))
            {
                count = Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture);
                var key = Enumerable.Range(1, reader.FieldCount - 1).Select(i => Text(reader.GetValue(i))).ToList();
                sample.Add(key.Count == 1 ? key[0] : "(" + string.Join(", ", key) + ")");
            }
            return (count, sample);
        }
        catch (Exception e) when (e is PostgresException or SqliteException)
        {
            throw ServerRejected(plan, e);
        }
    }

    /// <summary>The server refused the preflight: for a CHECK that is its parser or type checker rejecting the expression.</summary>
    internal static DbOpsException ServerRejected(ConstraintPlan plan, Exception e) =>
        e is PostgresException { SqlState: "42501" } pg ? NoPrivilege(plan, pg, " Nothing was changed.")
        : plan.Kind == ConstraintKind.Check
            ? new DbOpsException(ErrorIds.InvalidConstraintExpression, ErrorKind.InvalidArgument,
                $"The server rejected the CHECK expression for {plan.Table}: {ServerMessage(e)}. Nothing was changed.", plan.Table, e)
            : new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.OperationFailed,
                $"Checking {plan.Definition} on {plan.Table} failed: {ServerMessage(e)}. Nothing was changed.", plan.Table, e);

    /// <summary>The server refused for lack of a privilege (reading the table, or owning it for ALTER TABLE).</summary>
    internal static DbOpsException NoPrivilege(ConstraintPlan plan, PostgresException e, string aftermath) =>
        new(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
            $"{ServerMessage(e)}: adding a constraint to {plan.Table} needs SELECT on the tables involved and ownership of {plan.Table} " +
            $"(and REFERENCES on the referenced table for a foreign key).{aftermath}", plan.Table, e);

    internal static string ServerMessage(Exception e) => e switch
    {
        PostgresException pg => $"{pg.MessageText} (SQLSTATE {pg.SqlState})",
        SqliteException sqlite => sqlite.Message.Replace("SQLite Error " + sqlite.SqliteErrorCode + ": ", "", StringComparison.Ordinal),
        _ => e.Message,
    };

    private static string Text(object? value) => value switch
    {
        null or DBNull => "NULL",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
