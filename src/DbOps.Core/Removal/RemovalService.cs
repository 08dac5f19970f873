using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Diagnostics;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Removal;

/// <summary>
/// Drops deprecated tables only when nothing is lost: a table that holds rows goes only with an intact, verified
/// archive of exactly this table that still matches the live rows. Each table is dropped in its own transaction:
/// the table lock is taken with a lock timeout, then the dependents, row count and content checksum are checked
/// again under the lock, and only then is the table dropped (never CASCADE). A refusal leaves the table untouched.
/// </summary>
public static class RemovalService
{
    /// <summary>The statements each table's removal would run, dependents first; reads the catalog only (-WhatIf).</summary>
    public static async Task<IReadOnlyList<TableRemoval>> PlanAsync(RemovalRequest request, CancellationToken cancellationToken)
    {
        var source = request.Source;
        var provider = DatabaseEngines.For(source.Provider);
        await using var session = await provider.OpenReadOnlyAsync(source, cancellationToken);
        var connection = session.Connection;
        var schema = await SchemaReader.ReadAsync(provider, connection, cancellationToken);
        var results = new List<TableRemoval>();
        var named = new HashSet<string>();
        foreach (var (target, table) in Order(Resolve(request, schema, results), schema))
        {
            var foreignKeys = request.DropInboundForeignKeys && provider.Removal.CanDropForeignKeys ? InboundForeignKeys(schema, table) : [];
            var described = foreignKeys.Select(Describe).ToList();
            var retired = request.IncludeDependents.Count == 0 ? []
                : NamedOnly(await RetirableAsync(provider, connection, table, await provider.Removal.DependentsAsync(connection, table, cancellationToken), cancellationToken),
                            request.IncludeDependents);
            named.UnionWith(request.IncludeDependents.Where(n => retired.Any(d => RetiredDependents.Names(n, d))));
            results.Add(new TableRemoval(source, table, false, ArchivedRows(target.ManifestPath), target.ManifestPath is null ? null : Path.GetFullPath(target.ManifestPath), null,
                Statements(provider.Removal, table, request.LockTimeout, foreignKeys, retired), described, null, TimeSpan.Zero)
            {
                // What is confirmed is what runs: this exact table, and only these foreign keys and dependents.
                Target = target with { Table = table.ToQuotedName(), ConfirmedForeignKeys = described, ConfirmedDependents = retired.Select(d => d.Description).ToList() },
                RetiredDependents = ValueList.Of(retired.Select(d => d.Description).ToList()),
            });
        }
        if (request.IncludeDependents.Except(named).ToList() is { Count: > 0 } unknown)
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"-IncludeDependent names {string.Join(", ", unknown.Select(n => $"'{n}'"))}, which no table being removed needs (only views, triggers " +
                "and functions that need the table can be retired with it). Nothing was dropped; check the names.", string.Join(", ", unknown));
        }
        return results;
    }

    /// <summary>
    /// The row count the archive's manifest records, for the confirmation line; null when it cannot be read now (the
    /// removal itself then refuses with the reason).
    /// </summary>
    private static long? ArchivedRows(string? manifestPath)
    {
        try
        {
            return manifestPath is null ? null : ArchiveManifest.Load(manifestPath).Manifest.RowCount;
        }
        catch (DbOpsException)
        {
            return null;
        }
    }

    /// <summary>
    /// Drops the tables, dependents among them first. Each table is dropped or refused on its own: a refusal is a
    /// result with <see cref="TableRemoval.ErrorId"/> set (ArchiveRequired, ArchiveCorrupt, ArchiveStale,
    /// ArchiveMismatch, DependentObjectsExist, LockTimeout, TableNotFound) and the table as it was.
    /// </summary>
    public static async Task<IReadOnlyList<TableRemoval>> RemoveAsync(RemovalRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var source = request.Source;
        var provider = DatabaseEngines.For(source.Provider);
        await using var session = await provider.OpenWritableAsync(source, cancellationToken);
        var connection = session.Connection;
        var results = new List<TableRemoval>();
        var schema = await SchemaReader.ReadAsync(provider, connection, cancellationToken);
        SettleUnfinished(request, schema, observer);
        var ordered = Order(Resolve(request, schema, results), schema);
        var step = 0;
        foreach (var (target, table) in ordered)
        {
            observer.Progress(new OperationProgress("Removing deprecated tables", $"{table} ({++step} of {ordered.Count})", 100 * (step - 1) / ordered.Count));
            var clock = Stopwatch.StartNew();
            var attempt = new Attempt();
            try
            {
                results.Add(await RemoveOneAsync(request, provider, session, target, table, attempt, observer, cancellationToken));
            }
            catch (Exception e) when (e is not OperationCanceledException && e is not DbOpsException { ErrorId: ErrorIds.OperationCanceled })
            {
                // One table's failure (an unreadable archive file too) is that table's refusal; the batch goes on.
                var error = e as DbOpsException ?? await DroppedMeanwhileAsync(e, provider, source, connection, table) ?? new DbOpsException(ErrorIds.RemovalFailed, ErrorKind.OperationFailed,
                    $"{table} was not dropped: {e.Message}", table.ToString(), e);
                observer.Verbose($"{table} was not dropped: {error.Message}");
                results.Add(new TableRemoval(source, table, false, attempt.Content?.Rows, attempt.ManifestPath, attempt.Content?.Checksum,
                    attempt.Statements, [], error, clock.Elapsed));
            }
        }
        observer.Progress(new OperationProgress("Removing deprecated tables", "Done", 100));
        return results;
    }

    /// <summary>What a removal reached before it was refused.</summary>
    private sealed class Attempt
    {
        public IReadOnlyList<string> Statements { get; set; } = [];
        public string? ManifestPath { get; set; }
        public TableContent? Content { get; set; }
        public IReadOnlyList<string> DroppedForeignKeys { get; set; } = [];
    }

    private static async Task<TableRemoval> RemoveOneAsync(RemovalRequest request, IDatabaseEngine provider, WritableSession session,
        RemovalTarget target, TableRef table, Attempt attempt, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var source = request.Source;
        var connection = session.Connection;
        var dialect = provider.Removal;
        var before = (await SchemaReader.ReadAsync(provider, connection, cancellationToken)).Find(table)
            ?? throw new DbOpsException(ErrorIds.TableNotFound, ErrorKind.NotFound, $"Table {table} no longer exists.", table.ToString());
        var columns = TableChecksum.StoredColumns(before).Select(c => c.Name).ToList();
        attempt.Statements = Statements(dialect, table, request.LockTimeout, []);

        // The archive's files are checked before the lock is taken: hashing and verifying can take long.
        CheckedArchive? archive = null;
        if (target.ManifestPath is not null)
        {
            attempt.ManifestPath = Path.GetFullPath(target.ManifestPath);
            archive = await CheckedArchive.CheckAsync(target.ManifestPath, source, table, columns, observer, cancellationToken);
            attempt.ManifestPath = archive.ManifestPath;
        }

        var inTransaction = false;
        var committing = false;
        JournalEntry? intent = null;
        string? savedDependents = null;
        string? sha256 = null;
        IReadOnlyList<RetirableDependent> retired = [];
        try
        {
            // The statements before the DDL open the transaction and take the lock: the same list -WhatIf prints.
            foreach (var sql in attempt.Statements.TakeWhile(s => !IsDdl(s)))
            {
                var begins = sql.StartsWith("BEGIN", StringComparison.Ordinal);
                await ExecuteAsync(connection, sql, begins ? request.LockTimeout : null, cancellationToken);
                inTransaction |= begins;
            }
            observer.Verbose($"Locked {table}; checking it again under the lock.");

            // Under the lock: nothing can add rows, dependents or columns until the drop commits or rolls back.
            var schema = await SchemaReader.ReadAsync(provider, connection, cancellationToken);
            var live = schema.Find(table)
                ?? throw new DbOpsException(ErrorIds.TableNotFound, ErrorKind.NotFound, $"Table {table} no longer exists.", table.ToString());
            if (!TableChecksum.StoredColumns(live).Select(c => c.Name).SequenceEqual(columns))
            {
                throw new DbOpsException(ErrorIds.ArchiveMismatch, ErrorKind.InvalidState,
                    $"The columns of {table} changed while it was being removed; nothing was dropped. Archive it again.", table.ToString());
            }
            var inbound = InboundForeignKeys(schema, table);
            var dropForeignKeys = request.DropInboundForeignKeys && dialect.CanDropForeignKeys ? inbound : [];
            var dependents = inbound.Except(dropForeignKeys).Select(fk => $"foreign key {Describe(fk)} -> {table}").ToList();
            var needing = await dialect.DependentsAsync(connection, table, cancellationToken);
            var retirable = needing.Count == 0 ? [] : await RetirableAsync(provider, connection, table, needing, cancellationToken);
            retired = NamedOnly(retirable, request.IncludeDependents);
            // What is named goes with the table; anything else that needs it (a trigger calling a named function too) still refuses.
            dependents.AddRange(needing.Union(retirable.Select(d => d.Description)).Except(retired.Select(d => d.Description)));
            var statements = Statements(dialect, table, request.LockTimeout, dropForeignKeys, retired);
            attempt.Statements = statements;
            attempt.DroppedForeignKeys = dropForeignKeys.Select(Describe).ToList();
            if (target.ConfirmedForeignKeys is { } confirmed && !attempt.DroppedForeignKeys.Order().SequenceEqual(confirmed.Order()))
            {
                throw new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
                    $"{table} was not dropped: the foreign keys referencing it changed after the plan was confirmed (confirmed: " +
                    $"{string.Join(", ", confirmed.DefaultIfEmpty("none"))}; now: {string.Join(", ", attempt.DroppedForeignKeys.DefaultIfEmpty("none"))}). " +
                    "Nothing was changed; run again to see the new plan.", table.ToString());
            }
            if (target.ConfirmedDependents is { } confirmedDependents && !retired.Select(d => d.Description).Order().SequenceEqual(confirmedDependents.Order()))
            {
                throw new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
                    $"{table} was not dropped: the dependents -IncludeDependent names changed after the plan was confirmed (confirmed: " +
                    $"{string.Join("; ", confirmedDependents.DefaultIfEmpty("none"))}; now: {string.Join("; ", retired.Select(d => d.Description).DefaultIfEmpty("none"))}). " +
                    "Nothing was changed; run again to see the new plan.", table.ToString());
            }
            if (dependents.Count > 0)
            {
                var unnamed = retirable.Except(retired).Select(d => d.Name.ToString()).Distinct().ToList();
                var hint = inbound.Count > 0 && dialect.CanDropForeignKeys && !request.DropInboundForeignKeys
                    ? " Drop or repoint them first, or pass -DropInboundForeignKeys to drop the foreign-key constraints (not the tables)."
                    : " Drop or change them first (nothing is dropped for you unless -IncludeDependent names it).";
                if (unnamed.Count > 0)
                {
                    hint += $" To retire views, triggers and functions with the table (their definitions kept beside its archive), name them: -IncludeDependent {string.Join(", ", unnamed.Select(ArgumentText))}.";
                }
                throw new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
                    $"{table} was not dropped: {dependents.Count} object(s) depend on it: {string.Join("; ", dependents)}.{hint}", table.ToString());
            }

            // The archive's data file is read beside the live rows: what the drop compares is the rows the file holds.
            var fromFile = archive is null ? null : Task.Run(() => archive.ReadDataAsync(cancellationToken), cancellationToken);
            var content = await TableChecksum.ComputeAsync(provider, connection, null, table, columns, cancellationToken);
            attempt.Content = content;
            if (fromFile is not null)
            {
                await fromFile;
            }
            if (archive is null && content.Rows > 0)
            {
                throw new DbOpsException(ErrorIds.ArchiveRequired, ErrorKind.InvalidState,
                    $"{table} holds {content.Rows.ToString("N0", CultureInfo.InvariantCulture)} rows and no archive was given; nothing was dropped. " +
                    "Archive it with Export-TableArchive -Verify and pass the archive (pipe it, or -ArchivePath).", table.ToString());
            }
            if (archive is not null && content != new TableContent(archive.Manifest.RowCount, archive.Manifest.Checksum))
            {
                throw new DbOpsException(ErrorIds.ArchiveStale, ErrorKind.InvalidState,
                    $"{table} changed after it was archived: it now holds {content.Rows} rows with checksum {content.Checksum}, but " +
                    $"'{archive.ManifestPath}' records {archive.Manifest.RowCount} rows with {archive.Manifest.Checksum}. Nothing was dropped; " +
                    "archive it again (or find out who still writes to it).", table.ToString());
            }

            // The archive files were checked before the lock; they must still be the files that were checked.
            archive?.EnsureUnchanged(table);

            // The definitions of what is retired are on disk before anything is dropped: a drop that then fails removes them again.
            if (retired.Count > 0 && archive is null)
            {
                throw new DbOpsException(ErrorIds.ArchiveRequired, ErrorKind.InvalidState,
                    $"{table} was not dropped: the definitions of {string.Join("; ", retired.Select(d => d.Description))} are kept beside the table's archive, " +
                    "and none was given. Archive it with Export-TableArchive -Verify and pass the archive.", table.ToString());
            }
            if (archive is not null)
            {
                savedDependents = archive.ManifestPath;
                sha256 = await RetiredDependents.SaveAsync(archive.ManifestPath, table, RetiredDependents.CreationOrder(retired), cancellationToken);
            }

            // The statements before the DDL ran above; the rest of the list is the DDL and the commit. The intent is
            // journaled just before COMMIT and the outcome after it, so a process killed between them leaves a line
            // that the next run settles (is the table still there?) instead of a drop with no record.
            foreach (var sql in statements.SkipWhile(s => !IsDdl(s)))
            {
                committing = sql == "COMMIT";
                if (committing)
                {
                    OperationsJournal.Record(request.JournalPath, intent = RemovalEntry(source, table, content, archive, JournalOperations.TableRemovalStarted) with
                    {
                        Objects = retired.Count == 0 ? null : retired.Select(d => d.Description).ToList(),
                        Sha256 = sha256,
                    }, observer);
                }
                await ExecuteAsync(connection, sql, null, cancellationToken);
            }
            inTransaction = false;
            FaultPoint.Reach(FaultPoint.RemovalCommitted);
        }
        catch (Exception e) when (committing && e is DbException or InvalidOperationException)
        {
            // A connection lost during COMMIT leaves the outcome unknown: say so rather than claim a rollback.
            throw new DbOpsException(ErrorIds.RemovalFailed, ErrorKind.OperationFailed,
                $"The COMMIT that drops {table} failed ({e.Message}); whether it took effect is unknown. Check whether {table} still exists. " +
                (archive is null ? "It was empty." : $"Its archive '{archive.ManifestPath}' is intact either way."), table.ToString(), e);
        }
        catch (Exception e) when (inTransaction)
        {
            await RollbackQuietlyAsync(connection);
            if (savedDependents is not null)
            {
                RetiredDependents.Discard(savedDependents);
            }
            throw await DroppedMeanwhileAsync(e, provider, request.Source, connection, table) ?? Map(e, provider, table, request.LockTimeout);
        }
        catch (Exception e)
        {
            throw Map(e, provider, table, request.LockTimeout);
        }

        observer.Verbose($"Dropped {table} ({attempt.Content!.Rows} rows{(archive is null ? ", empty" : $", archived in '{archive.ManifestPath}'")}).");
        OperationsJournal.Record(request.JournalPath, intent! with { Time = DateTimeOffset.UtcNow, Operation = JournalOperations.TableRemoved }, observer);
        return new TableRemoval(source, table, true, attempt.Content.Rows, archive?.ManifestPath, attempt.Content.Checksum,
            attempt.Statements, attempt.DroppedForeignKeys, null, clock.Elapsed)
        {
            RetiredDependents = ValueList.Of(retired.Select(d => d.Description).ToList()),
            DependentsPath = sha256 is null ? null : RetiredDependents.PathFor(archive!.ManifestPath),
        };
    }

    /// <summary>
    /// Two removals of one table: the one that waited (for the table lock, or in a catalog read behind the other's
    /// lock) fails with whatever the server or driver says about a relation that vanished (XX000 "could not open
    /// relation", or a session the error closed). When the table is gone, that is TableNotFound: this session never
    /// reached its COMMIT (an unknown COMMIT outcome is reported before this is asked), so it dropped nothing. The
    /// question goes to a new session when the error closed this one.
    /// </summary>
    private static async Task<DbOpsException?> DroppedMeanwhileAsync(Exception e, IDatabaseEngine provider, DbOpsConnection source,
        DbConnection connection, TableRef table)
    {
        if (e is not (DbException or InvalidOperationException))
        {
            return null;
        }
        try
        {
            bool exists;
            if (connection.State == System.Data.ConnectionState.Open)
            {
                exists = await provider.TableExistsAsync(connection, table, CancellationToken.None);
            }
            else
            {
                await using var freshSession = await provider.OpenReadOnlyAsync(source, CancellationToken.None);
                var fresh = freshSession.Connection;
                exists = await provider.TableExistsAsync(fresh, table, CancellationToken.None);
            }
            return exists ? null : new DbOpsException(ErrorIds.TableNotFound, ErrorKind.NotFound,
                $"{table} was dropped by another session while this one was checking it; nothing was dropped here.", table.ToString(), e);
        }
        catch (Exception check) when (check is DbException or DbOpsException or InvalidOperationException)
        {
            return null;
        }
    }

    private static JournalEntry RemovalEntry(DbOpsConnection source, TableRef table, TableContent content, CheckedArchive? archive, string operation) =>
        JournalEntry.For(source, operation) with
        {
            Id = Guid.NewGuid().ToString("N"),
            Schema = table.Schema,
            Table = table.Name,
            Rows = content.Rows,
            Path = archive?.ManifestPath,
            Checksum = content.Checksum,
            // An empty table dropped without an archive has no verified archive to point to.
            Verified = archive is not null,
            Undo = archive is null ? null : $"Import-TableArchive -Path {UndoCommand.Quote(archive.ManifestPath)} -Database {UndoCommand.Database(source)}",
        };

    /// <summary>
    /// Drops whose process died between the intent and the outcome (or whose COMMIT failed) are settled now: the
    /// table's absence means the COMMIT took effect. A table still there needs no line (it was not dropped, or another
    /// run is about to commit and will write its own outcome).
    /// </summary>
    private static void SettleUnfinished(RemovalRequest request, DatabaseSchema schema, IOperationObserver observer)
    {
        var source = request.Source;
        var entries = OperationsJournal.Open(request.JournalPath).Read().Where(e => e.IsAbout(source.Provider, source.Server, source.Database)).ToList();
        var settled = entries.Where(e => e.Operation != JournalOperations.TableRemovalStarted && e.Id is not null).Select(e => e.Id).ToHashSet();
        foreach (var intent in entries.Where(e => e.Operation == JournalOperations.TableRemovalStarted && !settled.Contains(e.Id)
                                                  && schema.Find(new TableRef(e.Schema ?? "", e.Table ?? "")) is null))
        {
            observer.Verbose($"The removal of {intent.Schema}.{intent.Table} at {intent.Time:u} ended without a recorded outcome; the table is gone, " +
                             "so its drop committed: recording it now.");
            OperationsJournal.Record(request.JournalPath, intent with { Time = DateTimeOffset.UtcNow, Operation = JournalOperations.TableRemoved }, observer);
        }
    }

    private static bool IsDdl(string sql) =>
        sql.StartsWith("ALTER TABLE ", StringComparison.Ordinal) || sql.StartsWith("DROP ", StringComparison.Ordinal);

    /// <summary>
    /// The exact statements of one removal, in the order they run (the checks run between the lock and the DDL): retired
    /// dependents are dropped before the table, in reverse creation order.
    /// </summary>
    internal static IReadOnlyList<string> Statements(IRemovalDialect dialect, TableRef table, TimeSpan lockTimeout, IReadOnlyList<ForeignKeyInfo> dropForeignKeys,
        IReadOnlyList<RetirableDependent>? retired = null) =>
        [.. dialect.LockStatements(table, lockTimeout), .. dropForeignKeys.Select(dialect.DropForeignKeySql),
         .. RetiredDependents.CreationOrder(retired ?? []).Reverse().Select(d => d.DropSql), $"DROP TABLE {table.ToQuotedName()}", "COMMIT"];

    /// <summary>The views, triggers and functions among <paramref name="dependents"/> that could go with the table.</summary>
    private static Task<IReadOnlyList<RetirableDependent>> RetirableAsync(IDatabaseEngine provider, DbConnection connection, TableRef table,
        IReadOnlyList<string> dependents, CancellationToken cancellationToken) =>
        provider.SchemaChanges.RetirableDependentsAsync(connection, table, dependents, cancellationToken);

    /// <summary>Those of <paramref name="retirable"/> that -IncludeDependent names.</summary>
    private static IReadOnlyList<RetirableDependent> NamedOnly(IReadOnlyList<RetirableDependent> retirable, IReadOnlyList<string> names) =>
        retirable.Where(d => names.Any(n => RetiredDependents.Names(n, d))).ToList();

    /// <summary>A name as PowerShell reads it back as one argument.</summary>
    private static string ArgumentText(string name) =>
        name.All(c => char.IsLetterOrDigit(c) || c is '_' or '.') ? name : "'" + name.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static string Describe(ForeignKeyInfo fk) => $"{fk.Table}.{fk.Name}";

    /// <summary>Foreign keys of other tables that point at <paramref name="table"/> (a self-reference goes with the table).</summary>
    private static IReadOnlyList<ForeignKeyInfo> InboundForeignKeys(DatabaseSchema schema, TableRef table) =>
        schema.ForeignKeysReferencing(table).Where(fk => fk.Table != table).ToList();

    /// <summary>Resolves each target; one that does not resolve becomes a refused result.</summary>
    private static List<(RemovalTarget Target, TableRef Table)> Resolve(RemovalRequest request, DatabaseSchema schema, List<TableRemoval> refused)
    {
        var resolved = new List<(RemovalTarget, TableRef)>();
        foreach (var target in request.Tables)
        {
            try
            {
                var table = schema.Resolve(target.Table ?? "").Table;
                if (resolved.All(r => r.Item2 != table))
                {
                    resolved.Add((target, table));
                }
            }
            catch (DbOpsException e)
            {
                var name = target.Table ?? "";
                var dot = name.IndexOf('.', StringComparison.Ordinal);
                var table = dot < 0 ? new TableRef(schema.SearchPath.FirstOrDefault() ?? DatabaseEngines.For(request.Source).DefaultSchema, name) : new TableRef(name[..dot], name[(dot + 1)..]);
                refused.Add(new TableRemoval(request.Source, table, false, null, target.ManifestPath, null, [], [], e, TimeSpan.Zero));
            }
        }
        return resolved;
    }

    /// <summary>Dependents among the batch first: a table that references another in the batch is dropped before it.</summary>
    internal static IReadOnlyList<(RemovalTarget Target, TableRef Table)> Order(IReadOnlyList<(RemovalTarget Target, TableRef Table)> batch, DatabaseSchema schema)
    {
        var remaining = batch.ToList();
        var ordered = new List<(RemovalTarget, TableRef)>();
        while (remaining.Count > 0)
        {
            // Next: the first table that no other remaining table references.
            var next = remaining.FindIndex(candidate => !remaining.Any(other =>
                other.Table != candidate.Table && schema.Find(other.Table)?.ForeignKeys.Any(fk => fk.ReferencedTable == candidate.Table) == true));
            // A cycle: take the tables in the given order; the check under the lock refuses what is still referenced.
            next = Math.Max(0, next);
            ordered.Add(remaining[next]);
            remaining.RemoveAt(next);
        }
        return ordered;
    }

    internal static async Task ExecuteAsync(DbConnection connection, string sql, TimeSpan? lockTimeout, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        // SQLite's BEGIN IMMEDIATE waits for the write lock up to the busy timeout; the command timeout (whole seconds) bounds it too.
        command.CommandTimeout = lockTimeout is { } timeout ? Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)) : 0;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    internal static async Task RollbackQuietlyAsync(DbConnection connection)
    {
        try
        {
            await ExecuteAsync(connection, "ROLLBACK", null, CancellationToken.None);
        }
        catch (DbException)
        {
            // Not in a transaction any more (the server already aborted it): nothing to undo.
        }
        catch (InvalidOperationException)
        {
            // The connection is broken: the server rolls the transaction back itself.
        }
    }

    private static Exception Map(Exception e, IDatabaseEngine engine, TableRef table, TimeSpan lockTimeout) => (e, engine.RefusalOf(e)) switch
    {
        (DbOpsException, _) => e,
        (OperationCanceledException, _) => new DbOpsException(ErrorIds.OperationCanceled, ErrorKind.Canceled,
            $"Removing {table} was canceled and rolled back; it was not dropped.", table.ToString(), e),
        (_, { Kind: RefusalKind.LockNotGranted }) => new DbOpsException(ErrorIds.LockTimeout, ErrorKind.ResourceUnavailable,
            $"{table} was not dropped: another session holds a lock on it and it was not granted within {lockTimeout.TotalMilliseconds:0} ms. " +
            "Nothing was changed; run again when the table is idle, or with a longer -LockTimeout.", table.ToString(), e),
        (_, { Kind: RefusalKind.InsufficientPrivilege } refusal) => new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
            $"{table} was not dropped: {refusal.Reason}. Nothing was changed. Every row must be counted before a drop: run as a role " +
            "that may read and drop the whole table (its owner, without FORCE ROW LEVEL SECURITY, or one with BYPASSRLS).", table.ToString(), e),
        (_, { Kind: RefusalKind.DependentObjects } refusal) => new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
            $"{table} was not dropped: {refusal.Reason}. Nothing was changed.", table.ToString(), e),
        (DbException db, _) => new DbOpsException(ErrorIds.RemovalFailed, ErrorKind.OperationFailed,
            $"Dropping {table} failed and was rolled back: {db.Message}", table.ToString(), e),
        _ => e,
    };
}
