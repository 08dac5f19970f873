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
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbOps.Core.Removal;

/// <summary>
/// Drops deprecated tables only when nothing is lost: a table that holds rows goes only with an intact, verified
/// archive of exactly this table that still matches the live rows. Each table is dropped in its own transaction:
/// the table lock is taken with a lock timeout, then the dependents, row count and content checksum are checked
/// again under the lock, and only then is the table dropped (never CASCADE). A refusal leaves the table untouched.
/// </summary>
public static class RemovalService
{
    private const string LockNotAvailable = "55P03";
    private const string DependentObjectsStillExist = "2BP01";
    private const string InsufficientPrivilege = "42501";

    /// <summary>The statements each table's removal would run, dependents first; reads the catalog only (-WhatIf).</summary>
    public static async Task<IReadOnlyList<TableRemoval>> PlanAsync(RemovalRequest request, CancellationToken cancellationToken)
    {
        var source = request.Source;
        var provider = DatabaseEngines.For(source.Provider);
        await using var session = await provider.OpenReadOnlyAsync(source, cancellationToken);
        var connection = session.Connection;
        var schema = await SchemaReader.ReadAsync(provider, connection, cancellationToken);
        var results = new List<TableRemoval>();
        foreach (var (target, table) in Order(Resolve(request, schema, results), schema))
        {
            var foreignKeys = request.DropInboundForeignKeys && source.Provider == DatabaseProvider.PostgreSQL ? InboundForeignKeys(schema, table) : [];
            var described = foreignKeys.Select(Describe).ToList();
            results.Add(new TableRemoval(source, table, false, ArchivedRows(target.ManifestPath), target.ManifestPath is null ? null : Path.GetFullPath(target.ManifestPath), null,
                Statements(source.Provider, table, request.LockTimeout, foreignKeys), described, null, TimeSpan.Zero)
            {
                // What is confirmed is what runs: this exact table, and only these foreign keys.
                Target = target with { Table = table.ToQuotedName(), ConfirmedForeignKeys = described },
            });
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
                results.Add(await RemoveOneAsync(request, provider, connection, target, table, attempt, observer, cancellationToken));
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

    private static async Task<TableRemoval> RemoveOneAsync(RemovalRequest request, IDatabaseEngine provider, DbConnection connection,
        RemovalTarget target, TableRef table, Attempt attempt, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var source = request.Source;
        var before = (await SchemaReader.ReadAsync(provider, connection, cancellationToken)).Find(table)
            ?? throw new DbOpsException(ErrorIds.TableNotFound, ErrorKind.NotFound, $"Table {table} no longer exists.", table.ToString());
        var columns = TableChecksum.StoredColumns(before).Select(c => c.Name).ToList();
        attempt.Statements = Statements(source.Provider, table, request.LockTimeout, []);

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
            var dropForeignKeys = request.DropInboundForeignKeys && connection is NpgsqlConnection ? inbound : [];
            var dependents = inbound.Except(dropForeignKeys).Select(fk => $"foreign key {Describe(fk)} -> {table}").ToList();
            if (connection is NpgsqlConnection npgsql)
            {
                dependents.AddRange(await PostgresDependentsAsync(npgsql, table, cancellationToken));
                dependents.AddRange(await LargeObjectsAsync(npgsql, table, cancellationToken));
            }
            else
            {
                dependents.AddRange(await SqliteDependentsAsync(connection, table, cancellationToken));
            }
            var statements = Statements(source.Provider, table, request.LockTimeout, dropForeignKeys);
            attempt.Statements = statements;
            attempt.DroppedForeignKeys = dropForeignKeys.Select(Describe).ToList();
            if (target.ConfirmedForeignKeys is { } confirmed && !attempt.DroppedForeignKeys.Order().SequenceEqual(confirmed.Order()))
            {
                throw new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
                    $"{table} was not dropped: the foreign keys referencing it changed after the plan was confirmed (confirmed: " +
                    $"{string.Join(", ", confirmed.DefaultIfEmpty("none"))}; now: {string.Join(", ", attempt.DroppedForeignKeys.DefaultIfEmpty("none"))}). " +
                    "Nothing was changed; run again to see the new plan.", table.ToString());
            }
            if (dependents.Count > 0)
            {
                var hint = inbound.Count > 0 && connection is NpgsqlConnection && !request.DropInboundForeignKeys
                    ? " Drop or repoint them first, or pass -DropInboundForeignKeys to drop the foreign-key constraints (not the tables)."
                    : " Drop or change them first (they are never dropped for you).";
                throw new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
                    $"{table} was not dropped: {dependents.Count} object(s) depend on it: {string.Join("; ", dependents)}.{hint}", table.ToString());
            }

            // The archive's data file is read beside the live rows: what the drop compares is the rows the file holds.
            var fromFile = archive is null ? null : Task.Run(() => archive.ReadDataAsync(cancellationToken), cancellationToken);
            var content = await TableChecksum.ComputeAsync(connection, null, table, columns, cancellationToken);
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

            // The statements before the DDL ran above; the rest of the list is the DDL and the commit. The intent is
            // journaled just before COMMIT and the outcome after it, so a process killed between them leaves a line
            // that the next run settles (is the table still there?) instead of a drop with no record.
            foreach (var sql in statements.SkipWhile(s => !IsDdl(s)))
            {
                committing = sql == "COMMIT";
                if (committing)
                {
                    OperationsJournal.Record(request.JournalPath, intent = RemovalEntry(source, table, content, archive, JournalOperations.TableRemovalStarted), observer);
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
            throw await DroppedMeanwhileAsync(e, provider, request.Source, connection, table) ?? Map(e, table, request.LockTimeout);
        }
        catch (Exception e)
        {
            throw Map(e, table, request.LockTimeout);
        }

        observer.Verbose($"Dropped {table} ({attempt.Content!.Rows} rows{(archive is null ? ", empty" : $", archived in '{archive.ManifestPath}'")}).");
        OperationsJournal.Record(request.JournalPath, intent! with { Time = DateTimeOffset.UtcNow, Operation = JournalOperations.TableRemoved }, observer);
        return new TableRemoval(source, table, true, attempt.Content.Rows, archive?.ManifestPath, attempt.Content.Checksum,
            attempt.Statements, attempt.DroppedForeignKeys, null, clock.Elapsed);
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
        sql.StartsWith("ALTER TABLE ", StringComparison.Ordinal) || sql.StartsWith("DROP TABLE ", StringComparison.Ordinal);

    /// <summary>The exact statements of one removal, in the order they run (the checks run between the lock and the DDL).</summary>
    internal static IReadOnlyList<string> Statements(DatabaseProvider kind, TableRef table, TimeSpan lockTimeout, IReadOnlyList<ForeignKeyInfo> dropForeignKeys)
    {
        var statements = new List<string>();
        if (kind == DatabaseProvider.PostgreSQL)
        {
            statements.Add("BEGIN");
            statements.Add(LockTimeoutSql(lockTimeout));
            statements.Add($"LOCK TABLE {table.ToQuotedName()} IN ACCESS EXCLUSIVE MODE");
            statements.AddRange(dropForeignKeys.Select(fk =>
                $"ALTER TABLE {fk.Table.ToQuotedName()} DROP CONSTRAINT {TableRef.QuoteIdentifier(fk.Name)}"));
        }
        else
        {
            statements.Add("PRAGMA foreign_keys = ON");
            statements.Add($"PRAGMA busy_timeout = {(long)lockTimeout.TotalMilliseconds}");
            statements.Add("BEGIN IMMEDIATE");
        }
        statements.Add($"DROP TABLE {table.ToQuotedName()}");
        statements.Add("COMMIT");
        return statements;
    }

    private static string LockTimeoutSql(TimeSpan lockTimeout) => $"SET LOCAL lock_timeout = '{Math.Max(1, (long)lockTimeout.TotalMilliseconds)}ms'";

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
                var table = dot < 0 ? new TableRef(schema.SearchPath.FirstOrDefault() ?? SqliteEngine.MainSchema, name) : new TableRef(name[..dot], name[(dot + 1)..]);
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

    /// <summary>Views, materialized views, functions (and so triggers), policies and column defaults elsewhere that need the table.</summary>
    private static async Task<List<string>> PostgresDependentsAsync(NpgsqlConnection connection, TableRef table, CancellationToken cancellationToken)
    {
        const string sql = """
            WITH t AS (SELECT to_regclass(@name)::oid AS oid)
            SELECT CASE v.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || format('%I.%I', vn.nspname, v.relname)
              FROM t, pg_catalog.pg_depend d
              JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
              JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
              JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
             WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
               AND d.refobjid = t.oid AND v.oid <> t.oid
            UNION
            SELECT 'row-level security policy ' || quote_ident(p.polname) || ' on ' || (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_catalog.pg_class pc JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace WHERE pc.oid = p.polrelid)
              FROM t, pg_catalog.pg_depend d
              JOIN pg_catalog.pg_policy p ON p.oid = d.objid
             WHERE d.classid = 'pg_catalog.pg_policy'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
               AND d.refobjid = t.oid AND p.polrelid <> t.oid
            UNION
            SELECT CASE WHEN p.prorettype = 'pg_catalog.trigger'::regtype THEN 'trigger function ' ELSE 'function ' END || format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid))
              FROM t, pg_catalog.pg_proc p
              JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              JOIN pg_catalog.pg_language l ON l.oid = p.prolang
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
               AND l.lanname NOT IN ('c', 'internal')
               AND (p.prosrc ~* @pattern
                    OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                  AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = t.oid))
               -- a trigger function used only by the table's own triggers goes with them
               AND NOT (EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgfoid = p.oid AND g.tgrelid = t.oid)
                        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgfoid = p.oid AND g.tgrelid <> t.oid))
            UNION
            SELECT 'default of ' || format('%I.%I', cn.nspname, c.relname) || '.' || quote_ident(a.attname) || ' (uses sequence ' || format('%I.%I', sn.nspname, s.relname) || ')'
              FROM t, pg_catalog.pg_depend owned
              JOIN pg_catalog.pg_class s ON s.oid = owned.objid AND s.relkind = 'S'
              JOIN pg_catalog.pg_depend used ON used.refobjid = s.oid AND used.refclassid = 'pg_catalog.pg_class'::regclass
                                            AND used.classid = 'pg_catalog.pg_attrdef'::regclass
              JOIN pg_catalog.pg_attrdef ad ON ad.oid = used.objid
              JOIN pg_catalog.pg_class c ON c.oid = ad.adrelid
              JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
              JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
              JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
             WHERE owned.classid = 'pg_catalog.pg_class'::regclass AND owned.refclassid = 'pg_catalog.pg_class'::regclass
               AND owned.refobjid = t.oid AND owned.deptype IN ('a', 'i') AND ad.adrelid <> t.oid
            UNION
            SELECT 'publication ' || quote_ident(pub.pubname)
              FROM t, pg_catalog.pg_publication_rel pr
              JOIN pg_catalog.pg_publication pub ON pub.oid = pr.prpubid
             WHERE pr.prrelid = t.oid
            UNION
            SELECT CASE WHEN c.relispartition THEN 'partition ' ELSE 'inheriting table ' END || format('%I.%I', cn.nspname, c.relname)
              FROM t, pg_catalog.pg_inherits i
              JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
              JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
             WHERE i.inhparent = t.oid
            ORDER BY 1
            """;
        // The name as a whole word, bare or quoted; names that start or end with punctuation need look-arounds, not \m \M.
        var quoted = "\"" + table.Name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var pattern = $@"(?<![\w$])(?:{EscapeRegex(table.Name)}|{EscapeRegex(quoted)})(?![\w$])";
        var rows = await connection.QueryAsync<string>(new CommandDefinition(sql,
            new { name = table.ToQuotedName(), pattern }, cancellationToken: cancellationToken));
        return rows.ToList();
    }

    /// <summary>
    /// Large objects that oid columns (or domains over oid, such as lo) point to: an archive holds only the oids, so
    /// dropping the table would leave the objects for vacuumlo to delete with nothing that restores them.
    /// </summary>
    private static async Task<List<string>> LargeObjectsAsync(NpgsqlConnection connection, TableRef table, CancellationToken cancellationToken)
    {
        var columns = await connection.QueryAsync<string>(new CommandDefinition("""
            SELECT a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
             WHERE a.attrelid = to_regclass(@name) AND a.attnum > 0 AND NOT a.attisdropped
               AND (a.atttypid = 'pg_catalog.oid'::pg_catalog.regtype OR (ty.typtype = 'd' AND ty.typbasetype = 'pg_catalog.oid'::pg_catalog.regtype))
             ORDER BY a.attnum
            """, new { name = table.ToQuotedName() }, cancellationToken: cancellationToken));
        var found = new List<string>();
        foreach (var column in columns)
        {
            var count = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                $"SELECT count(*) FROM {table.ToQuotedName()} x JOIN pg_catalog.pg_largeobject_metadata m ON m.oid = x.{TableRef.QuoteIdentifier(column)}",
                cancellationToken: cancellationToken));
            if (count > 0)
            {
                found.Add($"{count} large object(s) that column {column} points to (the archive holds only their oids; export them with lo_export first)");
            }
        }
        return found;
    }

    private static string EscapeRegex(string text) =>
        string.Concat(text.Select(c => char.IsLetterOrDigit(c) || c == '_' ? c.ToString() : "\\" + c));

    /// <summary>
    /// Views, triggers on other tables, and virtual tables whose SQL names the table (sqlite_schema): an FTS5 table
    /// with content='docs' indexes docs and is corrupt without it.
    /// </summary>
    private static async Task<List<string>> SqliteDependentsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT CASE type WHEN 'table' THEN 'virtual table' ELSE type END, name, tbl_name, sql FROM sqlite_schema
            WHERE (type IN ('view', 'trigger') OR (type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%')) AND sql IS NOT NULL
            ORDER BY type, name
            """;
        var rows = await connection.QueryAsync<(string Type, string Name, string TableName, string Sql)>(new CommandDefinition(sql,
            cancellationToken: cancellationToken));
        var name = System.Text.RegularExpressions.Regex.Escape(table.Name);
        var quoted = System.Text.RegularExpressions.Regex.Escape(table.Name.Replace("\"", "\"\"", StringComparison.Ordinal));
        var mentions = new System.Text.RegularExpressions.Regex(
            $"(?<![\\w$])(?:\"{quoted}\"|`{name}`|\\[{name}\\]|'{name}'|{name})(?![\\w$])",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        return rows
            .Where(r => !(r.Type == "trigger" && SqliteNames.Same(r.TableName, table.Name)))
            .Where(r => !(r.Type != "trigger" && SqliteNames.Same(r.Name, table.Name)))
            .Where(r => mentions.IsMatch(r.Sql))
            .Select(r => r.Type == "trigger" ? $"trigger {r.Name} on {r.TableName}" : $"{r.Type} {r.Name}")
            .ToList();
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, TimeSpan? lockTimeout, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        // SQLite's BEGIN IMMEDIATE waits for the write lock up to the busy timeout; the command timeout (whole seconds) bounds it too.
        command.CommandTimeout = lockTimeout is { } timeout ? Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds)) : 0;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task RollbackQuietlyAsync(DbConnection connection)
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

    private static Exception Map(Exception e, TableRef table, TimeSpan lockTimeout) => e switch
    {
        DbOpsException => e,
        OperationCanceledException => new DbOpsException(ErrorIds.OperationCanceled, ErrorKind.Canceled,
            $"Removing {table} was canceled and rolled back; it was not dropped.", table.ToString(), e),
        PostgresException { SqlState: LockNotAvailable } or SqliteException { SqliteErrorCode: 5 or 6 } => new DbOpsException(ErrorIds.LockTimeout,
            ErrorKind.ResourceUnavailable,
            $"{table} was not dropped: another session holds a lock on it and it was not granted within {lockTimeout.TotalMilliseconds:0} ms. " +
            "Nothing was changed; run again when the table is idle, or with a longer -LockTimeout.", table.ToString(), e),
        PostgresException { SqlState: InsufficientPrivilege } pg => new DbOpsException(ErrorIds.InsufficientPrivilege, ErrorKind.PermissionDenied,
            $"{table} was not dropped: {pg.MessageText}. Nothing was changed. Every row must be counted before a drop: run as a role " +
            "that may read and drop the whole table (its owner, without FORCE ROW LEVEL SECURITY, or one with BYPASSRLS).", table.ToString(), e),
        PostgresException { SqlState: DependentObjectsStillExist } pg => new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
            $"{table} was not dropped: {pg.MessageText}{(pg.Detail is null ? "" : $" ({pg.Detail})")}. Nothing was changed.", table.ToString(), e),
        SqliteException { SqliteErrorCode: 19 } sqlite => new DbOpsException(ErrorIds.DependentObjectsExist, ErrorKind.InvalidState,
            $"{table} was not dropped: rows of other tables still reference it ({sqlite.Message}). Nothing was changed.", table.ToString(), e),
        DbException db => new DbOpsException(ErrorIds.RemovalFailed, ErrorKind.OperationFailed,
            $"Dropping {table} failed and was rolled back: {db.Message}", table.ToString(), e),
        _ => e,
    };
}
