using System.Data.Common;
using System.Diagnostics;
using System.Text;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Schema;
using DbOps.Core.Sql;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

/// <summary>
/// SQLite cannot add these constraints with ALTER TABLE, so the table is rebuilt by the documented procedure
/// (https://www.sqlite.org/lang_altertable.html#otheralter) in one transaction: a new table with the constraint,
/// rows copied with their rowids, old table dropped, new one renamed, indexes, triggers and views recreated, then
/// foreign_key_check, row-count equality and integrity_check before COMMIT. Any failure rolls everything back.
/// </summary>
internal static class SqliteConstraints
{
    private const string Method = "TableRebuild";

    /// <summary>Everything that must not change between planning and the rebuild, in creation order.</summary>
    private const string SchemaSql = "SELECT type, name, tbl_name AS TableName, sql FROM sqlite_schema ORDER BY rowid";

    private sealed record SchemaObject(string Type, string Name, string TableName, string? Sql);

    public static async Task<ConstraintPlan> PlanAsync(
        DbOpsConnection connection, DbConnection db, DatabaseSchema schema, ResolvedConstraint c, ConstraintOptions options, CancellationToken cancellationToken)
    {
        var provider = SqliteEngine.Instance;
        var t = c.Table;
        var table = provider.QualifiedName(t.Table);
        var words = SqlText.Tokens(t.CreateSql ?? "").Where(k => k.Kind == SqlText.TokenKind.Word).Take(2)
            .Select(k => t.CreateSql!.Substring(k.Start, k.Length).ToUpperInvariant()).ToList();
        if (words is not ["CREATE", "TABLE"])
        {
            throw new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.InvalidState,
                $"{t.Table} is not an ordinary table (its definition starts '{string.Join(" ", words)}'), so it cannot be rebuilt with a constraint; nothing was changed.", t.Table);
        }
        var definition = SqliteTableDefinition.Parse(t.CreateSql!);
        var name = c.Name;
        ConstraintStatus? outcome = null;
        // SQLite never checks existing rows against a declared foreign key (they may predate it, or have been
        // written with foreign_keys off): it counts as present only if the preflight finds none violating it.
        var declaredOnly = false;
        var same = provider.Tuning.IdentifierComparer;
        string Q(string identifier) => provider.QuoteIdentifier(identifier);

        switch (c.Kind)
        {
            case ConstraintKind.Check:
                var loose = SqlText.Loose(c.Expression!);
                var checks = definition.Checks();
                var named = checks.FirstOrDefault(k => same.Equals(k.Name, name));
                if (named.Expression is not null && SqlText.Loose(named.Expression) != loose)
                {
                    throw ConstraintPlanner.NameTaken(t, name, $"CHECK ({named.Expression})");
                }
                if (checks.FirstOrDefault(k => SqlText.Loose(k.Expression) == loose) is { Expression: not null } equivalent)
                {
                    (outcome, name) = (ConstraintStatus.AlreadyPresent, equivalent.Name ?? "(unnamed)");
                }
                break;
            case ConstraintKind.NotNull when !t.GetColumn(c.Columns[0]).IsNullable:
                outcome = ConstraintStatus.AlreadyPresent;
                break;
            case ConstraintKind.Unique when ConstraintPlanner.UniqueKeys(t).FirstOrDefault(k => ConstraintPlanner.SameSet(k.Columns, c.Columns, same)) is { } key:
                (outcome, name) = (ConstraintStatus.AlreadyPresent, key.Name);
                break;
            case ConstraintKind.ForeignKey when t.ForeignKeys.FirstOrDefault(fk => fk.ReferencedTable == c.Parent!.Table
                                                   && ConstraintPlanner.SameList(fk.Columns, c.Columns, same)
                                                   && ConstraintPlanner.SameList(fk.ReferencedColumns, c.ParentColumns, same)) is { } fk:
                (outcome, name, declaredOnly) = (ConstraintStatus.AlreadyPresent, fk.Name, true);
                break;
        }

        var objects = (await db.QueryAsync<SchemaObject>(new CommandDefinition(SchemaSql, cancellationToken: cancellationToken))).ToList();
        if (outcome is null && c.Kind != ConstraintKind.NotNull)
        {
            var owner = definition.ConstraintNames().Where(n => same.Equals(n, name)).Select(_ => $"a constraint in {t.Table}'s definition")
                .Concat(objects.Where(o => same.Equals(o.Name, name)).Select(o => $"{o.Type} {o.Name}"))
                .FirstOrDefault();
            if (owner is not null)
            {
                throw ConstraintPlanner.NameTaken(t, name, owner);
            }
        }

        var newTable = "dbops_new_" + t.Table.Name;
        if (objects.Any(o => same.Equals(o.Name, newTable)))
        {
            throw new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.InvalidState,
                $"A table or index named {newTable} exists; DbOps needs that name for the rebuild of {t.Table}. Rename or drop it first.", newTable);
        }
        var tableConstraint = c.Kind switch
        {
            ConstraintKind.NotNull => null,
            _ => $"CONSTRAINT {Q(name)} {ConstraintPlanner.Definition(c, provider)}",
        };
        var rowid = definition.WithoutRowid ? null : RowidAlias(t);
        var columns = t.Columns.Where(col => !col.IsGenerated).Select(col => Q(col.Name)).ToList();
        var copied = string.Join(", ", rowid is null ? columns : [rowid, .. columns]);
        // The table's indexes and triggers go with it; views that mention it are dropped and recreated (with their
        // INSTEAD OF triggers, which go with a view), all from sqlite_schema in creation order.
        var views = objects.Where(o => o.Type == "view" && o.Sql is not null && Mentions(o.Sql, t.Table.Name)).Select(o => o.Name).ToHashSet(same);
        var recreated = objects.Where(o => o.Sql is not null && o.Type switch
        {
            "index" => same.Equals(o.TableName, t.Table.Name),
            "trigger" => same.Equals(o.TableName, t.Table.Name) || views.Contains(o.TableName),
            "view" => views.Contains(o.Name),
            _ => false,
        }).ToList();
        var checkedTables = new[] { t.Table.Name }.Concat(schema.ForeignKeysReferencing(t.Table).Select(fk => fk.Table.Name)).Distinct(same).ToList();
        var autoincrement = SqlText.Tokens(t.CreateSql!).Any(k => k.Kind == SqlText.TokenKind.Word && same.Equals(t.CreateSql!.Substring(k.Start, k.Length), "AUTOINCREMENT"));
        var foreignKeysOn = await db.ExecuteScalarAsync<long>(new CommandDefinition("PRAGMA foreign_keys", cancellationToken: cancellationToken)) == 1;
        var (preflight, _) = ConstraintPlanner.ViolationQueries(c, provider);

        var steps = new List<PlannedStep>
        {
            new($"PRAGMA busy_timeout = {(long)options.LockTimeout.TotalMilliseconds}", StepKind.Setting),
            new("PRAGMA foreign_keys = OFF", StepKind.Setting),
            // The rename must not try to rewrite references to a table that has just been dropped.
            new("PRAGMA legacy_alter_table = ON", StepKind.Setting),
            new("BEGIN IMMEDIATE", StepKind.Locking, Role: RebuildRole.Begin),
            new(SchemaSql, StepKind.Check, Role: RebuildRole.SchemaUnchanged, Expected: Fingerprint(objects)),
            new(preflight, StepKind.Check, Role: RebuildRole.Preflight),
            new($"SELECT count(*) FROM {table}", StepKind.Check, Role: RebuildRole.CountBefore),
        };
        steps.AddRange(checkedTables.Select(n => new PlannedStep($"PRAGMA foreign_key_check({Q(n)})", StepKind.Check, Role: RebuildRole.ForeignKeyCheckBefore)));
        if (autoincrement)
        {
            steps.Add(new("SELECT seq FROM sqlite_sequence WHERE name = @table", StepKind.Check, Role: RebuildRole.ReadSequence));
        }
        // DROP TABLE deletes the table's ANALYZE statistics; they are kept aside and put back for the same indexes.
        var statistics = objects.Any(o => o.Type == "table" && o.Name == "sqlite_stat1");
        if (statistics)
        {
            steps.Add(new("CREATE TEMP TABLE dbops_saved_stat1 AS SELECT tbl, idx, stat FROM main.sqlite_stat1 WHERE tbl = @table",
                StepKind.Setting, Role: RebuildRole.WithTableName));
        }
        steps.AddRange(recreated.Where(o => o.Type == "view").Reverse().Select(o => new PlannedStep($"DROP VIEW {Q(o.Name)}", StepKind.Setting)));
        steps.Add(new(definition.Render(Q(newTable), tableConstraint, c.Kind == ConstraintKind.NotNull ? c.Columns[0] : null), StepKind.Setting));
        steps.Add(new($"INSERT INTO {Q(newTable)} ({copied}) SELECT {copied} FROM {table}", StepKind.Setting));
        steps.Add(new($"DROP TABLE {table}", StepKind.Setting));
        steps.Add(new($"ALTER TABLE {Q(newTable)} RENAME TO {table}", StepKind.Setting));
        steps.AddRange(recreated.Select(o => new PlannedStep(o.Sql!, StepKind.Setting)));
        if (autoincrement)
        {
            steps.Add(new("UPDATE sqlite_sequence SET seq = max(seq, @seq) WHERE name = @table", StepKind.Setting, Role: RebuildRole.RestoreSequence));
        }
        if (statistics)
        {
            steps.Add(new("INSERT INTO main.sqlite_stat1 (tbl, idx, stat) SELECT tbl, idx, stat FROM temp.dbops_saved_stat1", StepKind.Setting));
            steps.Add(new("DROP TABLE temp.dbops_saved_stat1", StepKind.Setting));
        }
        steps.Add(new($"SELECT count(*) FROM {table}", StepKind.Check, Role: RebuildRole.CountAfter));
        steps.AddRange(checkedTables.Select(n => new PlannedStep($"PRAGMA foreign_key_check({Q(n)})", StepKind.Check, Role: RebuildRole.ForeignKeyCheckAfter)));
        steps.Add(new($"PRAGMA integrity_check({table})", StepKind.Check, Role: RebuildRole.IntegrityCheck));
        steps.Add(new("COMMIT", StepKind.Setting, Role: RebuildRole.Commit));
        steps.Add(new("PRAGMA legacy_alter_table = OFF", StepKind.Setting));
        steps.Add(new($"PRAGMA foreign_keys = {(foreignKeysOn ? "ON" : "OFF")}", StepKind.Setting));

        return ConstraintPlanner.Plan(connection, provider, c, name, Method, steps, outcome, declaredOnly);
    }

    public static async Task<ConstraintResult> ApplyAsync(WritableSession session, ConstraintPlan plan, ConstraintOptions options, IOperationObserver observer,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var activity = $"Add-SafeConstraint {plan.Table} {plan.Name}";
        var db = (SqliteConnection)session.Connection;
        var run = new List<string>();
        var retries = 0;
        var inTransaction = false;
        long? rowsBefore = null;
        long? sequence = null;
        var violationsBefore = new Dictionary<string, int>();
        var parameters = new { table = plan.Table.Name, seq = (long?)null };
        try
        {
            for (var i = 0; i < plan.Steps.Count; i++)
            {
                var step = plan.Steps[i];
                cancellationToken.ThrowIfCancellationRequested();
                observer.Progress(new OperationProgress(activity, step.Role == RebuildRole.None ? step.Sql : step.Role.ToString(), 100 * i / plan.Steps.Count));
                switch (step.Role)
                {
                    case RebuildRole.Begin:
                        retries = await BeginAsync(db, step.Sql, options, observer, cancellationToken);
                        inTransaction = true;
                        break;
                    case RebuildRole.Commit:
                        await ExecuteAsync(db, step.Sql, null, cancellationToken);
                        inTransaction = false;
                        break;
                    case RebuildRole.SchemaUnchanged:
                        var objects = (await db.QueryAsync<SchemaObject>(new CommandDefinition(step.Sql, cancellationToken: cancellationToken))).ToList();
                        if (Fingerprint(objects) != step.Expected)
                        {
                            throw new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.InvalidState,
                                $"The schema of {plan.Database} changed after the plan for {plan.Table} was made; nothing was changed. Run again.", plan.Table);
                        }
                        break;
                    case RebuildRole.Preflight:
                        var (count, sample) = await ConstraintService.PreflightAsync(db, plan, cancellationToken);
                        if (count > 0)
                        {
                            run.Add(step.Sql);
                            await RollbackAsync(db, plan, observer);
                            inTransaction = false;
                            return new ConstraintResult(plan, ConstraintStatus.Blocked, count, sample, run, retries, plan.PlanningTime + clock.Elapsed);
                        }
                        break;
                    case RebuildRole.CountBefore:
                        rowsBefore = await db.ExecuteScalarAsync<long>(new CommandDefinition(step.Sql, cancellationToken: cancellationToken, commandTimeout: 0));
                        break;
                    case RebuildRole.CountAfter:
                        var rowsAfter = await db.ExecuteScalarAsync<long>(new CommandDefinition(step.Sql, cancellationToken: cancellationToken, commandTimeout: 0));
                        if (rowsAfter != rowsBefore)
                        {
                            throw VerificationFailed(plan, $"the new table holds {rowsAfter} rows where the old one held {rowsBefore}");
                        }
                        break;
                    case RebuildRole.ForeignKeyCheckBefore:
                        violationsBefore[step.Sql] = (await db.QueryAsync(new CommandDefinition(step.Sql, cancellationToken: cancellationToken))).Count();
                        break;
                    case RebuildRole.ForeignKeyCheckAfter:
                        var violations = (await db.QueryAsync(new CommandDefinition(step.Sql, cancellationToken: cancellationToken))).Count();
                        if (violations > violationsBefore[step.Sql])
                        {
                            throw VerificationFailed(plan, $"'{step.Sql}' reports {violations} rows, {violationsBefore[step.Sql]} before the rebuild");
                        }
                        break;
                    case RebuildRole.ReadSequence:
                        sequence = await db.ExecuteScalarAsync<long?>(new CommandDefinition(step.Sql, parameters, cancellationToken: cancellationToken));
                        break;
                    case RebuildRole.WithTableName:
                        await ExecuteAsync(db, step.Sql, new { table = plan.Table.Name }, cancellationToken);
                        break;
                    case RebuildRole.RestoreSequence:
                        if (sequence is not null)
                        {
                            await ExecuteAsync(db, step.Sql, parameters with { seq = sequence }, cancellationToken);
                        }
                        break;
                    case RebuildRole.IntegrityCheck:
                        var problems = (await db.QueryAsync<string>(new CommandDefinition(step.Sql, cancellationToken: cancellationToken, commandTimeout: 0))).ToList();
                        if (problems is not ["ok"])
                        {
                            throw VerificationFailed(plan, $"integrity_check reports: {string.Join("; ", problems.Take(5))}");
                        }
                        break;
                    default:
                        await ExecuteAsync(db, step.Sql, null, cancellationToken);
                        break;
                }
                run.Add(step.Sql);
            }
        }
        catch (Exception e) when (e is SqliteException or DbOpsException or OperationCanceledException)
        {
            if (inTransaction)
            {
                await RollbackAsync(db, plan, observer);
            }
            throw e switch
            {
                DbOpsException d => d,
                OperationCanceledException => new DbOpsException(ErrorIds.OperationCanceled, ErrorKind.Canceled,
                    $"Stopped; the rebuild of {plan.Table} was rolled back and nothing was changed.", plan.Table, e),
                _ when plan.Kind == ConstraintKind.Check => new DbOpsException(ErrorIds.InvalidConstraintExpression, ErrorKind.InvalidArgument,
                    $"SQLite rejected {plan.Definition} on {plan.Table}: {ServerMessage(e)}. The rebuild was rolled back; nothing was changed.", plan.Table, e),
                _ => new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.OperationFailed,
                    $"The rebuild of {plan.Table} failed: {ServerMessage(e)}. It was rolled back; nothing was changed.", plan.Table, e),
            };
        }
        return new ConstraintResult(plan, ConstraintStatus.Added, 0, [], run, retries, plan.PlanningTime + clock.Elapsed);
    }

    /// <summary>BEGIN IMMEDIATE takes the write lock up front; SQLITE_BUSY after the busy timeout is retried with backoff.</summary>
    private static async Task<int> BeginAsync(SqliteConnection db, string sql, ConstraintOptions options, IOperationObserver observer, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await using var command = db.CreateCommand();
                command.CommandText = sql;
                // Microsoft.Data.Sqlite retries a busy statement until CommandTimeout (whole seconds) runs out.
                command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(options.LockTimeout.TotalSeconds));
                await command.ExecuteNonQueryAsync(cancellationToken);
                return attempt;
            }
            catch (SqliteException e) when (e.SqliteErrorCode is SQLitePCL.raw.SQLITE_BUSY or SQLitePCL.raw.SQLITE_LOCKED)
            {
                if (attempt >= options.MaxRetries)
                {
                    throw new DbOpsException(ErrorIds.LockTimeout, ErrorKind.ResourceUnavailable,
                        $"Another connection holds the write lock on {db.DataSource}: BEGIN IMMEDIATE gave up {attempt + 1} times ({attempt} retries). " +
                        "Nothing was changed; run again later or with a longer -LockTimeout.", db.DataSource, e);
                }
                var pause = options.Backoff(attempt + 1);
                observer.Verbose($"The database is locked by another connection; retry {attempt + 1} of {options.MaxRetries} in {pause.TotalMilliseconds:0} ms.");
                await Task.Delay(pause, cancellationToken);
            }
        }
    }

    private static async Task ExecuteAsync(SqliteConnection db, string sql, object? parameters, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken, commandTimeout: 0));

    private static async Task RollbackAsync(SqliteConnection db, ConstraintPlan plan, IOperationObserver observer)
    {
        try
        {
            await db.ExecuteAsync("ROLLBACK");
        }
        catch (SqliteException e)
        {
            // SQLite rolls back by itself after some errors; the connection is closed next either way.
            observer.Verbose($"ROLLBACK of the rebuild of {plan.Table}: {e.Message}");
        }
    }

    /// <summary>A name for SQLite's rowid that no column hides.</summary>
    public static string RowidAlias(TableSchema table) =>
        new[] { "rowid", "_rowid_", "oid" }.FirstOrDefault(a => table.FindColumn(a) is null)
        ?? throw new DbOpsException(ErrorIds.ConstraintFailed, ErrorKind.InvalidState,
            $"Table {table.Table} has columns named rowid, _rowid_ and oid, so its rowids cannot be read; the table was not changed.", table.Table);

    /// <summary>SQLite's message without the driver's "SQLite Error n: " prefix.</summary>
    internal static string ServerMessage(Exception e) => e is SqliteException sqlite
        ? sqlite.Message.Replace("SQLite Error " + sqlite.SqliteErrorCode + ": ", "", StringComparison.Ordinal)
        : e.Message;

    private static DbOpsException VerificationFailed(ConstraintPlan plan, string what) =>
        new(ErrorIds.ConstraintFailed, ErrorKind.InvalidData,
            $"The rebuild of {plan.Table} did not verify: {what}. It was rolled back; nothing was changed.", plan.Table);

    /// <summary>True when a word or quoted name in <paramref name="sql"/> is the table's name.</summary>
    private static bool Mentions(string sql, string table) =>
        SqlText.Tokens(sql).Any(k => k.Kind is SqlText.TokenKind.Word or SqlText.TokenKind.QuotedIdentifier
                                     && string.Equals(SqlText.Unquote(sql.Substring(k.Start, k.Length)), table, StringComparison.OrdinalIgnoreCase));

    private static string Fingerprint(IEnumerable<SchemaObject> objects) =>
        objects.Aggregate(new StringBuilder(), (text, o) => text.Append(o.Type).Append('|').Append(o.Name).Append('|').Append(o.Sql).Append('\n')).ToString();
}
