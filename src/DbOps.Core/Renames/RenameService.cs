using System.Data.Common;
using System.Diagnostics;
using System.Text;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Documentation;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Schema;

namespace DbOps.Core.Renames;

/// <summary>
/// Renames a table in one transaction: the table lock is taken under a short lock timeout (tried again with growing
/// pauses, so readers and writers never queue long behind the rename), the names are checked again under the lock, and
/// the table, the objects named after it and an optional compatibility view change together or not at all.
/// </summary>
public static class RenameService
{
    /// <summary>The statements the rename would run, read from the catalog only (-WhatIf and the confirmation).</summary>
    /// <exception cref="DbOpsException">TableNotFound, TableNameTaken, InvalidSpecification.</exception>
    public static async Task<TableRename> PlanAsync(RenameRequest request, CancellationToken cancellationToken)
    {
        var engine = DatabaseEngines.For(request.Source);
        await using var session = await engine.OpenReadOnlyAsync(request.Source, cancellationToken);
        var table = await ResolveAsync(engine, session.Connection, request, cancellationToken);
        var (steps, statements) = await StepsAsync(engine, session.Connection, request, table, cancellationToken);
        return Result(request, table, false, steps, Whole(engine, request, table, statements), 0, TimeSpan.Zero);
    }

    /// <summary>Renames the table and journals one TableRenamed entry whose Undo is the Rename-Table line that reverses it.</summary>
    /// <exception cref="DbOpsException">TableNotFound, TableNameTaken, InvalidSpecification, LockTimeout, RenameFailed, OperationCanceled.</exception>
    public static async Task<TableRename> RenameAsync(RenameRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var engine = DatabaseEngines.For(request.Source);
        await using var session = await engine.OpenWritableAsync(request.Source, cancellationToken);
        var connection = session.Connection;
        var table = await ResolveAsync(engine, connection, request, cancellationToken);
        // The same lock Remove-DeprecatedTable takes: the transaction opens and the table is locked before anything is read.
        var locking = engine.Removal.LockStatements(table, request.LockTimeout);
        for (var attempt = 0; ; attempt++)
        {
            var inTransaction = false;
            try
            {
                foreach (var sql in locking)
                {
                    await ExecuteAsync(connection, sql, request.LockTimeout, cancellationToken);
                    inTransaction |= sql.StartsWith("BEGIN", StringComparison.Ordinal);
                }
                // Under the lock the names are read again: what runs is what the catalog holds now.
                var (steps, statements) = await StepsAsync(engine, connection, request, table, cancellationToken);
                foreach (var sql in statements)
                {
                    observer.Verbose(sql);
                    await ExecuteAsync(connection, sql, null, cancellationToken);
                }
                await ExecuteAsync(connection, "COMMIT", null, cancellationToken);
                inTransaction = false;
                var result = Result(request, table, true, steps, Whole(engine, request, table, statements), attempt, clock.Elapsed);
                OperationsJournal.Record(request.JournalPath, JournalEntry.For(request.Source, JournalOperations.TableRenamed) with
                {
                    Schema = table.Schema,
                    Table = table.Name,
                    Target = $"{table.Schema}.{request.NewName}",
                    Objects = [.. steps.Renamed, .. result.CompatibilityView is { } view ? [$"compatibility view {view}"] : Array.Empty<string>()],
                    Undo = result.Undo,
                }, observer);
                return result;
            }
            catch (Exception e) when (e is not DbOpsException || inTransaction)
            {
                if (inTransaction)
                {
                    await RollbackQuietlyAsync(connection);
                }
                if (e is not DbOpsException && engine.RefusalOf(e)?.Kind == RefusalKind.LockNotGranted && attempt < request.MaxRetries)
                {
                    // The pauses Add-SafeConstraint waits between its tries: 250 ms doubling up to 5 s, with jitter.
                    var pause = new ConstraintOptions(request.LockTimeout, request.MaxRetries).Backoff(attempt + 1);
                    observer.Verbose($"{table} was busy: the lock was not granted within {request.LockTimeout.TotalMilliseconds:0} ms; " +
                                     $"retry {attempt + 1} of {request.MaxRetries} in {pause.TotalMilliseconds:0} ms.");
                    await Task.Delay(pause, cancellationToken);
                    continue;
                }
                throw Map(e, engine, table, request, attempt);
            }
        }
    }

    private static async Task<TableRef> ResolveAsync(IDatabaseEngine engine, DbConnection connection, RenameRequest request, CancellationToken cancellationToken)
    {
        var table = (await SchemaReader.ReadAsync(engine, connection, cancellationToken)).Resolve(request.Table).Table;
        var problem = string.IsNullOrWhiteSpace(request.NewName) ? "is empty"
            : request.NewName.Contains('\0', StringComparison.Ordinal) ? "holds a NUL character"
            : engine.SchemaChanges.MaxNameBytes is { } limit && Encoding.UTF8.GetByteCount(request.NewName) > limit ? $"is longer than {limit} bytes, which {engine.Kind} would cut"
            : null;
        return problem is null ? table : throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
            $"{table} was not renamed: the new name '{request.NewName}' {problem}. Give a shorter, non-empty name.", request.NewName);
    }

    /// <summary>The DDL of the rename after the table is locked: a replaced compatibility view, the renames, a new compatibility view.</summary>
    private static async Task<(RenameSteps Steps, IReadOnlyList<string> Statements)> StepsAsync(IDatabaseEngine engine, DbConnection connection,
        RenameRequest request, TableRef table, CancellationToken cancellationToken)
    {
        var dialect = engine.SchemaChanges;
        var target = new TableRef(table.Schema, request.NewName);
        var statements = new List<string>();
        if (await dialect.NameHolderAsync(connection, target, cancellationToken) is { } holder)
        {
            var ours = holder == "view" && await dialect.IsCompatibilityViewAsync(connection, target, table, cancellationToken);
            if (!(ours && request.ReplaceCompatibilityView))
            {
                throw new DbOpsException(ErrorIds.TableNameTaken, ErrorKind.AlreadyExists,
                    $"{table} was not renamed: a {holder} named {target} already exists; nothing was changed. " + (ours
                        ? "It is the compatibility view an earlier rename left for this table: pass -ReplaceCompatibilityView to drop it and take its name."
                        : $"Choose another name, or rename or drop that {holder} first."), target.ToString());
            }
            statements.Add(dialect.DropViewSql(target));
        }
        var steps = await dialect.RenameStepsAsync(connection, table, request.NewName, cancellationToken);
        statements.AddRange(steps.Statements);
        if (request.CompatibilityView)
        {
            statements.AddRange(await dialect.CompatibilityViewAsync(connection, table, request.NewName, cancellationToken));
        }
        return (steps, statements);
    }

    /// <summary>Every statement in the order it runs: the lock, the DDL, the commit.</summary>
    private static IReadOnlyList<string> Whole(IDatabaseEngine engine, RenameRequest request, TableRef table, IReadOnlyList<string> statements) =>
        [.. engine.Removal.LockStatements(table, request.LockTimeout), .. statements, "COMMIT"];

    private static TableRename Result(RenameRequest request, TableRef table, bool renamed, RenameSteps steps, IReadOnlyList<string> statements, int retries, TimeSpan duration)
    {
        var view = request.CompatibilityView ? table.ToString() : null;
        var undo = $"Rename-Table -Database {UndoCommand.Database(request.Source)} " +
                   $"-Table {UndoCommand.Quote(new TableRef(table.Schema, request.NewName).ToQuotedName())} " +
                   $"-NewName {UndoCommand.Quote(table.Name)}{(view is null ? "" : " -ReplaceCompatibilityView")}";
        return new TableRename(request.Source, table, request.NewName, renamed, view, steps, statements, undo, retries, duration);
    }

    /// <summary>What -Database takes for this database, without a password: the SQLite path, or a connection string (the password comes from PGPASSWORD or the password file).</summary>
    private static async Task ExecuteAsync(DbConnection connection, string sql, TimeSpan? lockTimeout, CancellationToken cancellationToken) =>
        // SQLite's BEGIN IMMEDIATE waits for the write lock up to the busy timeout; the command timeout (whole seconds) bounds it too.
        // CommandType.Text: Dapper would take a one-word statement (BEGIN, COMMIT) for a stored procedure's name.
        await connection.ExecuteAsync(new CommandDefinition(sql, commandType: System.Data.CommandType.Text,
            commandTimeout: lockTimeout is { } timeout ? Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)) : 0, cancellationToken: cancellationToken));

    private static async Task RollbackQuietlyAsync(DbConnection connection)
    {
        try
        {
            await ExecuteAsync(connection, "ROLLBACK", null, CancellationToken.None);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException)
        {
            // Not in a transaction any more, or the connection is broken: the server rolled back itself.
        }
    }

    private static Exception Map(Exception e, IDatabaseEngine engine, TableRef table, RenameRequest request, int retries) => (e, engine.RefusalOf(e)) switch
    {
        (DbOpsException, _) => e,
        (OperationCanceledException, _) => new DbOpsException(ErrorIds.OperationCanceled, ErrorKind.Canceled,
            $"Renaming {table} was canceled and rolled back; it keeps its name.", table.ToString(), e),
        (_, { Kind: RefusalKind.LockNotGranted }) => new DbOpsException(ErrorIds.LockTimeout, ErrorKind.ResourceUnavailable,
            $"{table} was not renamed: another session held a lock on it through {retries + 1} tries of {request.LockTimeout.TotalMilliseconds:0} ms. " +
            "Nothing was changed; find the session that holds it, or run again later or with more -MaxRetries.", table.ToString(), e),
        (_, { Kind: RefusalKind.InsufficientPrivilege } refusal) => new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
            $"{table} was not renamed: {refusal.Reason}. Nothing was changed; run as the table's owner.", table.ToString(), e),
        (DbException db, _) => new DbOpsException(ErrorIds.RenameFailed, ErrorKind.OperationFailed,
            $"Renaming {table} to {request.NewName} failed and was rolled back: {db.Message}", table.ToString(), e),
        _ => e,
    };
}
