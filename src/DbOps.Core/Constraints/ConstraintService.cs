using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

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

    /// <summary>The operations journal to record added constraints in; null for the default one.</summary>
    public string? JournalPath { get; init; }

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
        var engine = DatabaseEngines.For(connection.Provider);
        observer.Progress(new OperationProgress($"Add-SafeConstraint {spec}", "Reading the catalog", -1));
        await using var session = await engine.OpenReadOnlyAsync(connection, cancellationToken);
        var db = session.Connection;
        var schema = await SchemaReader.ReadAsync(engine, db, cancellationToken);
        var resolved = ConstraintPlanner.Resolve(schema, spec);
        var plan = await engine.Tuning.PlanConstraintAsync(connection, session, schema, resolved, options, observer, cancellationToken);
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
    public static async Task<ConstraintResult> ApplyAsync(ConstraintPlan plan, ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken)
    {
        if (plan.Outcome is not null)
        {
            return plan.Settled();
        }
        var engine = DatabaseEngines.For(plan.Provider);
        ConstraintResult result;
        await using (var session = await engine.OpenWritableAsync(plan.Connection, cancellationToken))
        {
            result = await engine.Tuning.ApplyConstraintAsync(session, plan, options, observer, cancellationToken);
        }
        if (result.Status == ConstraintStatus.Added)
        {
            OperationsJournal.Record(options.JournalPath, JournalEntry.For(plan.Connection, JournalOperations.ConstraintAdded) with
            {
                Schema = plan.Table.Schema,
                Table = plan.Table.Name,
                Column = plan.Kind == ConstraintKind.NotNull ? plan.Columns[0] : null,
                Objects = [plan.Name],
                Verified = true,   // Added means validated against every row, on both engines
                Figures = new Dictionary<string, double>
                {
                    ["seconds"] = Math.Round(result.Duration.TotalSeconds, 3),
                    ["lockWaitRetries"] = result.LockWaitRetries,
                },
                Undo = engine.Tuning.ConstraintUndoSql(plan) is { } undo ? UndoCommand.Query(plan.Connection, undo) : null,
            }, observer);
        }
        return result;
    }

    /// <summary>Plans and applies in one go (what Add-SafeConstraint does without -WhatIf).</summary>
    public static async Task<ConstraintResult> AddAsync(
        DbOpsConnection connection, ConstraintSpec spec, ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken) =>
        await ApplyAsync(await PlanAsync(connection, spec, options, observer, cancellationToken), options, observer, cancellationToken);


    /// <summary>Runs the plan's preflight query: the total and the keys of the first rows.</summary>
    internal static async Task<(long Count, IReadOnlyList<string> Sample)> PreflightAsync(DbConnection db, ConstraintPlan plan, CancellationToken cancellationToken)
    {
        var dialect = DatabaseEngines.For(plan.Provider).Tuning;
        if (dialect.SingleCoreScanSetting is { } setting)
        {
            // The scan stays on one core, leaving the others to the workload it must not slow down.
            await using var set = db.CreateCommand();
            set.CommandText = setting;
            await set.ExecuteNonQueryAsync(cancellationToken);
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
        catch (Exception e) when (dialect.IsStatementError(e))
        {
            throw ServerRejected(plan, e);
        }
    }

    /// <summary>The server refused the preflight: for a CHECK that is its parser or type checker rejecting the expression.</summary>
    internal static DbOpsException ServerRejected(ConstraintPlan plan, Exception e)
    {
        var dialect = DatabaseEngines.For(plan.Provider).Tuning;
        return dialect.IsPermissionDenied(e) ? NoPrivilege(plan, e, " Nothing was changed.")
            : plan.Kind == ConstraintKind.Check
                ? new DbOpsException(ErrorIds.InvalidConstraintExpression, ErrorKind.InvalidArgument,
                    $"The server rejected the CHECK expression for {plan.Table}: {dialect.ServerMessage(e)}. Nothing was changed.", plan.Table, e)
                : new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.OperationFailed,
                    $"Checking {plan.Definition} on {plan.Table} failed: {dialect.ServerMessage(e)}. Nothing was changed.", plan.Table, e);
    }

    /// <summary>The server refused for lack of a privilege (reading the table, or owning it for ALTER TABLE).</summary>
    internal static DbOpsException NoPrivilege(ConstraintPlan plan, Exception e, string aftermath) =>
        new(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
            $"{DatabaseEngines.For(plan.Provider).Tuning.ServerMessage(e)}: adding a constraint to {plan.Table} needs SELECT on the tables involved " +
            $"and ownership of {plan.Table} (and REFERENCES on the referenced table for a foreign key).{aftermath}", plan.Table, e);

    private static string Text(object? value) => value switch
    {
        null or DBNull => "NULL",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
