using System.Diagnostics;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Schema;
using DbOps.Core.Sql;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>
/// PostgreSQL: every statement that needs a strong lock runs under a short lock_timeout and is retried with backoff,
/// so writers never queue behind it for long; the full-table scans run under locks that let writers through
/// (VALIDATE CONSTRAINT, CREATE INDEX CONCURRENTLY).
/// </summary>
internal static class PostgresConstraints
{
    /// <summary>
    /// Looks for an equivalent constraint (comparing a CHECK as the server prints it, when it can) and works out the
    /// statements. Nothing is changed.
    /// </summary>
    public static async Task<ConstraintPlan> PlanAsync(DbOpsConnection connection, DatabaseSchema schema, ResolvedConstraint c, ConstraintOptions options,
        IOperationObserver observer, CancellationToken cancellationToken)
    {
        string? canonical = null;
        try
        {
            canonical = MayMatchExistingCheck(c) ? await CanonicalCheckAsync(connection, c, cancellationToken) : null;
        }
        catch (PostgresException e) when (e.SqlState is not PostgresErrorCodes.InsufficientPrivilege
                                          && (e.SqlState.StartsWith("42", StringComparison.Ordinal) // syntax error or access rule violation
                                              || e.SqlState.StartsWith("22", StringComparison.Ordinal) // data exception
                                              || e.SqlState == PostgresErrorCodes.FeatureNotSupported))
        {
            throw new DbOpsException(ErrorIds.InvalidConstraintExpression, ErrorKind.InvalidArgument,
                $"The server rejected the CHECK expression for {c.Table.Table}: {ServerMessage(e)}. Nothing was changed.", c.Table.Table, e);
        }
        catch (PostgresException e)
        {
            // No TEMP privilege, a read-only standby...: compare the text as typed instead.
            observer.Verbose($"The server could not print the CHECK expression for comparison ({ServerMessage(e)}); comparing its text instead.");
        }
        return Plan(connection, schema, c, options, observer, canonical);
    }

    /// <summary>
    /// True when the table has CHECK constraints to compare a new one with: the server prints them with its own casts
    /// and parentheses, so only its rendering of the new expression (<see cref="CanonicalCheckAsync"/>) compares.
    /// </summary>
    public static bool MayMatchExistingCheck(ResolvedConstraint c) => c.Kind == ConstraintKind.Check && c.Table.Checks.Count > 0;

    /// <summary>
    /// The server's own rendering of a CHECK expression (as the catalog prints existing checks), read from a
    /// temporary copy of the table's columns in a transaction that is rolled back: two spellings of one expression
    /// compare equal, and different ones (e.g. other parentheses) do not.
    /// </summary>
    public static async Task<string> CanonicalCheckAsync(DbOpsConnection connection, ResolvedConstraint c, CancellationToken cancellationToken)
    {
        await using var dbSession = await PostgresEngine.Instance.OpenWritableAsync(connection, cancellationToken);
        var db = (NpgsqlConnection)dbSession.Connection;
        await using var transaction = await db.BeginTransactionAsync(cancellationToken);
        var table = PostgresEngine.Instance.QualifiedName(c.Table.Table);
        // LIKE takes only ACCESS SHARE on the table, which no writer waits for.
        await using (var probe = new NpgsqlCommand(
            $"SET LOCAL lock_timeout = '2s'; CREATE TEMP TABLE dbops_probe (LIKE {table}) ON COMMIT DROP; " +
            $"ALTER TABLE dbops_probe ADD CONSTRAINT dbops_probe_check CHECK ({c.Expression}) NOT VALID", db, transaction))
        {
            await probe.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var read = new NpgsqlCommand(
            "SELECT pg_catalog.pg_get_expr(conbin, conrelid, true) FROM pg_catalog.pg_constraint WHERE conrelid = 'pg_temp.dbops_probe'::regclass",
            db, transaction);
        var text = (string)(await read.ExecuteScalarAsync(cancellationToken))!;
        await transaction.RollbackAsync(cancellationToken);
        return text;
    }

    /// <param name="connection">The database.</param>
    /// <param name="schema">Its catalog.</param>
    /// <param name="c">The resolved constraint.</param>
    /// <param name="options">Lock timeout and retries.</param>
    /// <param name="observer">Gets the missing-index warning.</param>
    /// <param name="canonicalCheck">The server's rendering of a CHECK expression when <see cref="MayMatchExistingCheck"/>.</param>
    private static ConstraintPlan Plan(
        DbOpsConnection connection, DatabaseSchema schema, ResolvedConstraint c, ConstraintOptions options, IOperationObserver observer,
        string? canonicalCheck = null)
    {
        var provider = PostgresEngine.Instance;
        var names = provider.Tuning.IdentifierComparer;
        var t = c.Table;
        var table = provider.QualifiedName(t.Table);
        var name = c.Name;
        ConstraintStatus? outcome = null;
        var steps = new List<PlannedStep> { new($"SET lock_timeout = '{(long)options.LockTimeout.TotalMilliseconds}ms'", StepKind.Setting) };
        string method;
        string Q(string identifier) => provider.QuoteIdentifier(identifier);
        PlannedStep Validate(string constraint) => new($"ALTER TABLE {table} VALIDATE CONSTRAINT {Q(constraint)}", StepKind.Validate);
        PlannedStep AddNotValid(string constraint, string definition) => new(
            $"ALTER TABLE {table} ADD CONSTRAINT {Q(constraint)} {definition} NOT VALID", StepKind.Locking,
            Undo: $"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {Q(constraint)}");

        switch (c.Kind)
        {
            case ConstraintKind.Check:
            {
                method = "NotValidThenValidate";
                var loose = SqlText.Loose(c.Expression!);
                bool Equivalent(CheckInfo k) => canonicalCheck is null ? SqlText.Loose(k.Expression) == loose : k.Expression == canonicalCheck;
                var same = t.Checks.FirstOrDefault(k => k.Name == name);
                if (same is not null && !Equivalent(same))
                {
                    throw ConstraintPlanner.NameTaken(t, name, $"CHECK {same.Expression}");
                }
                // An equivalent under another name counts too, a validated one first: a second copy would only cost writes.
                var existing = same ?? t.Checks.Where(Equivalent).OrderByDescending(k => k.IsValidated).FirstOrDefault();
                if (existing is { IsValidated: true })
                {
                    (outcome, name) = (ConstraintStatus.AlreadyPresent, existing.Name);
                }
                else if (existing is not null)
                {
                    // Left NOT VALID (by an interrupted run, or on purpose): only the validation is missing.
                    name = existing.Name;
                    steps.Add(Validate(name));
                }
                else
                {
                    RequireFreeName(schema, t, name);
                    steps.Add(AddNotValid(name, $"CHECK ({c.Expression})"));
                    steps.Add(Validate(name));
                }
                break;
            }
            case ConstraintKind.NotNull:
            {
                method = "ValidatedCheckThenSetNotNull";
                var column = c.Columns[0];
                var helperExpression = $"{Q(column)} IS NOT NULL";
                var helper = t.Checks.FirstOrDefault(k => k.Name == name);
                if (helper is not null && SqlText.Loose(helper.Expression) != SqlText.Loose(helperExpression))
                {
                    throw ConstraintPlanner.NameTaken(t, name, $"CHECK {helper.Expression}");
                }
                if (!t.GetColumn(column).IsNullable)
                {
                    if (helper is not null)
                    {
                        // A run stopped before its last step (killed, or the drop failed): finish it; NOT NULL makes the check redundant.
                        steps.Add(new($"ALTER TABLE {table} DROP CONSTRAINT {Q(name)}", StepKind.Locking));
                        break;
                    }
                    outcome = ConstraintStatus.AlreadyPresent;
                    break;
                }
                if (helper is null)
                {
                    RequireFreeName(schema, t, name);
                    steps.Add(AddNotValid(name, $"CHECK ({helperExpression})"));
                }
                if (helper is not { IsValidated: true })
                {
                    steps.Add(Validate(name));
                }
                // PostgreSQL 12+ sees the validated check and skips the full-table scan under ACCESS EXCLUSIVE.
                steps.Add(new($"ALTER TABLE {table} ALTER COLUMN {Q(column)} SET NOT NULL", StepKind.Locking));
                steps.Add(new($"ALTER TABLE {table} DROP CONSTRAINT {Q(name)}", StepKind.Locking));
                break;
            }
            case ConstraintKind.Unique:
            {
                method = "ConcurrentUniqueIndex";
                if (ConstraintPlanner.UniqueKeys(t).FirstOrDefault(k => ConstraintPlanner.SameSet(k.Columns, c.Columns, names)) is { } key)
                {
                    (outcome, name) = (ConstraintStatus.AlreadyPresent, key.Name);
                    break;
                }
                var index = $"{Q(t.Table.Schema)}.{Q(name)}";
                var dropIndex = $"DROP INDEX CONCURRENTLY IF EXISTS {index}";
                var leftover = t.Indexes.FirstOrDefault(i => i.Name == name && !i.IsValid);
                if (leftover is not null)
                {
                    steps.Add(new(dropIndex, StepKind.Concurrent));
                }
                else
                {
                    RequireFreeName(schema, t, name);
                }
                steps.Add(new($"CREATE UNIQUE INDEX CONCURRENTLY {Q(name)} ON {table} ({ConstraintPlanner.List(provider, c.Columns)})",
                    StepKind.Concurrent, Undo: dropIndex));
                steps.Add(new($"ALTER TABLE {table} ADD CONSTRAINT {Q(name)} UNIQUE USING INDEX {Q(name)}", StepKind.Locking));
                break;
            }
            default:
            {
                method = "NotValidThenValidate";
                var parent = c.Parent!;
                var same = t.ForeignKeys.FirstOrDefault(fk => fk.ReferencedTable == parent.Table
                    && ConstraintPlanner.SameList(fk.Columns, c.Columns, names)
                    && ConstraintPlanner.SameList(fk.ReferencedColumns, c.ParentColumns, names));
                var named = t.ForeignKeys.FirstOrDefault(fk => fk.Name == name);
                if (named is not null && named != same)
                {
                    throw ConstraintPlanner.NameTaken(t, name, $"FOREIGN KEY ({string.Join(", ", named.Columns)}) REFERENCES {named.ReferencedTable}");
                }
                if (same is not null)
                {
                    name = same.Name;
                    if (same.IsValidated)
                    {
                        outcome = ConstraintStatus.AlreadyPresent;
                    }
                    else
                    {
                        steps.Add(Validate(name));
                    }
                }
                else
                {
                    RequireFreeName(schema, t, name);
                    steps.Add(AddNotValid(name, ConstraintPlanner.Definition(c, provider)));
                    steps.Add(Validate(name));
                }
                if (outcome is null)
                {
                    WarnWithoutIndex(t, c.Columns, observer);
                }
                break;
            }
        }

        return ConstraintPlanner.Plan(connection, provider, c, name, method, steps, outcome);
    }

    public static async Task<ConstraintResult> ApplyAsync(WritableSession session, ConstraintPlan plan, ConstraintOptions options, IOperationObserver observer,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var activity = $"Add-SafeConstraint {plan.Table} {plan.Name}";
        var db = (NpgsqlConnection)session.Connection;
        var retries = 0;
        var done = new Stack<PlannedStep>();
        var run = new List<string>();
        for (var i = 0; i < plan.Steps.Count; i++)
        {
            var step = plan.Steps[i];
            observer.Progress(new OperationProgress(activity, Describe(step), 100 * i / plan.Steps.Count));
            try
            {
                retries += await RunWithRetriesAsync(db, step, options, observer, cancellationToken);
            }
            catch (Exception e) when (e is NpgsqlException or DbOpsException or OperationCanceledException
                                      || (e is InvalidOperationException or ObjectDisposedException && db.State != System.Data.ConnectionState.Open))
            {
                if (step.Kind == StepKind.Locking && i == plan.Steps.Count - 1 && plan.Kind == ConstraintKind.NotNull && e is not OperationCanceledException)
                {
                    // The column is NOT NULL already; only the helper check could not be dropped. It is harmless.
                    observer.Warning($"{plan.Table}: the column is NOT NULL, but the helper check {plan.Name} could not be dropped " +
                                     $"({ServerMessage(e)}). Drop it later: {step.Sql}");
                    break;
                }
                if (step.Kind == StepKind.Concurrent && step.Undo is not null)
                {
                    // A concurrent build that failed (e.g. on a duplicate that arrived after the preflight) leaves an INVALID index.
                    done.Push(step);
                }
                throw Failure(plan, step, e, retries, await UndoAsync(db, plan.Connection, done, options, observer));
            }
            run.Add(step.Sql);
            if (step.Undo is not null)
            {
                done.Push(step);
            }
        }
        return new ConstraintResult(plan, ConstraintStatus.Added, 0, [], run, retries, plan.PlanningTime + clock.Elapsed);
    }

    /// <summary>Runs one statement; a lock wait that hits lock_timeout (or a deadlock) is retried after a growing pause.</summary>
    private static async Task<int> RunWithRetriesAsync(NpgsqlConnection db, PlannedStep step, ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (step.Kind == StepKind.Locking)
                {
                    // Writers queue behind this statement while it waits for its lock: keep each try short (rolled back on failure).
                    await using var transaction = await db.BeginTransactionAsync(cancellationToken);
                    await using (var setting = new NpgsqlCommand($"SET LOCAL lock_timeout = '{(long)options.BlockingTryTimeout.TotalMilliseconds}ms'", db, transaction))
                    {
                        await setting.ExecuteNonQueryAsync(cancellationToken);
                    }
                    await using var locking = new NpgsqlCommand(step.Sql, db, transaction) { CommandTimeout = 30 };
                    await locking.ExecuteNonQueryAsync(cancellationToken);
                    await transaction.CommitAsync(cancellationToken);
                    return attempt;
                }
                await using var command = new NpgsqlCommand(step.Sql, db) { CommandTimeout = step.Kind is StepKind.Validate or StepKind.Concurrent ? 0 : 30 };
                await command.ExecuteNonQueryAsync(cancellationToken);
                return attempt;
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.DeadlockDetected)
            {
                if (step.Kind == StepKind.Concurrent && step.Undo is not null)
                {
                    // A concurrent build that gave up leaves an INVALID index behind; drop it before trying again.
                    await RunWithRetriesAsync(db, new PlannedStep(step.Undo, StepKind.Concurrent), options, observer, cancellationToken);
                }
                if (attempt >= options.MaxRetries)
                {
                    throw new DbOpsException(ErrorIds.LockTimeout, ErrorKind.ResourceUnavailable,
                        $"'{step.Sql}' could not get its lock within {Wait(step, options).TotalMilliseconds:0} ms, {attempt + 1} times " +
                        $"({attempt} retries). Another session holds a lock on the table; find it in pg_locks/pg_stat_activity, " +
                        "or run again later or with more -MaxRetries.", null, e);
                }
                var pause = options.Backoff(attempt + 1);
                observer.Verbose($"'{step.Sql}' waited {Wait(step, options).TotalMilliseconds:0} ms for a lock ({e.SqlState}); retry {attempt + 1} of {options.MaxRetries} in {pause.TotalMilliseconds:0} ms.");
                await Task.Delay(pause, cancellationToken);
            }
        }
    }

    private static TimeSpan Wait(PlannedStep step, ConstraintOptions options) => step.Kind == StepKind.Locking ? options.BlockingTryTimeout : options.LockTimeout;

    /// <summary>Undoes the steps that ran, newest first; returns what could not be undone.</summary>
    private static async Task<IReadOnlyList<string>> UndoAsync(NpgsqlConnection db, DbOpsConnection connection, Stack<PlannedStep> done,
        ConstraintOptions options, IOperationObserver observer)
    {
        var left = new List<string>();
        NpgsqlConnection? fresh = null;
        if (done.Count > 0 && db.State != System.Data.ConnectionState.Open)
        {
            // The session was lost (a restart): what it left (a NOT VALID constraint, an INVALID index) is undone on a new one.
            NpgsqlConnection.ClearPool(db);
            try
            {
                db = fresh = (NpgsqlConnection)(await PostgresEngine.Instance.OpenWritableAsync(connection, CancellationToken.None)).Connection;
            }
            catch (DbOpsException e)
            {
                return done.Select(s => $"{s.Undo} ({e.Message})").ToList();
            }
        }
        await using var _ = fresh;
        while (done.TryPop(out var step))
        {
            try
            {
                // Undo runs to the end even when the user pressed Ctrl+C: it is what leaves the table as it was.
                await RunWithRetriesAsync(db, new PlannedStep(step.Undo!, step.Kind == StepKind.Concurrent ? StepKind.Concurrent : StepKind.Locking), options, observer, CancellationToken.None);
                observer.Verbose($"Undone: {step.Sql}");
            }
            catch (Exception e) when (e is NpgsqlException or DbOpsException)
            {
                left.Add($"{step.Undo} ({ServerMessage(e)})");
            }
        }
        return left;
    }

    private static DbOpsException Failure(ConstraintPlan plan, PlannedStep step, Exception e, int retries, IReadOnlyList<string> left)
    {
        var aftermath = left.Count == 0 ? " Everything done before it was undone." : $" Could not undo; run by hand: {string.Join("; ", left)}.";
        return e switch
        {
            OperationCanceledException => new DbOpsException(ErrorIds.OperationCanceled, ErrorKind.Canceled, $"Stopped during '{step.Sql}'.{aftermath}", plan.Table, e),
            DbOpsException d => new DbOpsException(d.ErrorId, d.Kind, d.Message + aftermath, plan.Table, d.InnerException),
            _ when PostgresEngine.IsConnectionLost(e) || e is InvalidOperationException or ObjectDisposedException => new DbOpsException(
                ErrorIds.ConnectionLost, ErrorKind.ConnectionError,
                $"The connection to the server was lost during '{step.Sql}' ({e.Message.Split('\n')[0]}).{aftermath} Run again once the server is back.", plan.Table, e),
            PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } pg => ConstraintService.NoPrivilege(plan, pg, aftermath),
            PostgresException { SqlState: PostgresErrorCodes.CheckViolation or PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation
                                    or PostgresErrorCodes.NotNullViolation } pg => new DbOpsException(ErrorIds.ConstraintViolations, ErrorKind.InvalidData,
                $"Rows violating {plan.Definition} on {plan.Table} appeared after the preflight ({pg.MessageText}).{aftermath} " +
                $"Run again to see them, or list them with: {plan.ViolationQuery}", plan.Table, pg),
            _ when plan.Kind == ConstraintKind.Check && e is PostgresException { SqlState: ['4', '2', ..] or PostgresErrorCodes.FeatureNotSupported } => new DbOpsException(
                ErrorIds.InvalidConstraintExpression, ErrorKind.InvalidArgument,
                $"The server rejected {plan.Definition} on {plan.Table}: {ServerMessage(e)}.{aftermath}", plan.Table, e),
            _ => new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.OperationFailed,
                $"'{step.Sql}' failed: {ServerMessage(e)} (after {retries} lock retries).{aftermath}", plan.Table, e),
        };
    }

    /// <summary>The server's message with its SQLSTATE.</summary>
    internal static string ServerMessage(Exception e) => e is PostgresException pg ? $"{pg.MessageText} (SQLSTATE {pg.SqlState})" : e.Message;

    private static string Describe(PlannedStep step) => step.Kind switch
    {
        StepKind.Validate => "Validating every row (writers keep going)",
        StepKind.Concurrent => "Building the unique index concurrently (writers keep going)",
        _ => step.Sql,
    };

    /// <summary>
    /// A foreign key's columns without an index make every delete or key update on the parent scan the child table:
    /// say which index would prevent that.
    /// </summary>
    private static void WarnWithoutIndex(TableSchema table, IReadOnlyList<string> columns, IOperationObserver observer)
    {
        var indexed = table.Indexes.Any(i => i.IsValid && !i.IsPartial && i.Columns.Count >= columns.Count
                                             && i.Columns.Take(columns.Count).ToHashSet(StringComparer.Ordinal).SetEquals(columns));
        if (!indexed)
        {
            var provider = PostgresEngine.Instance;
            observer.Warning($"No index on {table.Table} starts with ({string.Join(", ", columns)}): every delete or key update on the " +
                             $"referenced table will scan {table.Table}. Add one: CREATE INDEX CONCURRENTLY " +
                             $"{provider.QuoteIdentifier(ConstraintPlanner.DefaultName(table.Table, ConstraintKind.Unique, columns, null).Replace("_key", "_idx", StringComparison.Ordinal))} " +
                             $"ON {provider.QualifiedName(table.Table)} ({ConstraintPlanner.List(provider, columns)})");
        }
    }

    /// <summary>PostgreSQL: constraint names are per table, index names per schema; neither may be taken.</summary>
    private static void RequireFreeName(DatabaseSchema schema, TableSchema table, string name)
    {
        var owner = table.Checks.Where(k => k.Name == name).Select(k => $"CHECK {k.Expression}")
            .Concat(table.ForeignKeys.Where(k => k.Name == name).Select(k => $"FOREIGN KEY ({string.Join(", ", k.Columns)}) REFERENCES {k.ReferencedTable}"))
            .Concat(new[] { table.PrimaryKey }.Concat(table.UniqueKeys).Where(k => k?.Name == name).Select(k => $"a key on ({string.Join(", ", k!.Columns)})"))
            .Concat(schema.Tables.Where(s => s.Table.Schema == table.Table.Schema).SelectMany(s => s.Indexes)
                .Where(i => i.Name == name).Select(i => $"index {i.Definition}"))
            .Concat(schema.Tables.Where(s => s.Table.Schema == table.Table.Schema && s.Table.Name == name).Select(s => $"table {s.Table}"))
            .FirstOrDefault();
        if (owner is not null)
        {
            throw ConstraintPlanner.NameTaken(table, name, owner);
        }
    }
}
