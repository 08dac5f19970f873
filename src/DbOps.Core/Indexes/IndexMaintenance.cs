using System.Data.Common;
using System.Diagnostics;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Indexes;

/// <summary>An index to add.</summary>
/// <param name="Connection">The database.</param>
/// <param name="Table">The table as a person types it (t, schema.t).</param>
/// <param name="Columns">Key columns in order.</param>
/// <param name="Name">The index name; by default ix_table_columns.</param>
public sealed record AddIndexRequest(DbOpsConnection Connection, string Table, IReadOnlyList<string> Columns, string? Name = null)
{
    /// <summary>The access method (PostgreSQL USING); B-tree by default.</summary>
    public IndexMethod Method { get; init; } = IndexMethod.BTree;

    /// <summary>Non-key columns stored in the index (PostgreSQL INCLUDE), for index-only scans.</summary>
    public IReadOnlyList<string> Include { get; init; } = [];

    /// <summary>The partial-index predicate (WHERE ...), or null for the whole table.</summary>
    public string? Where { get; init; }
}

/// <summary>An index to drop.</summary>
/// <param name="Connection">The database.</param>
/// <param name="Index">The index name, optionally schema-qualified (schema.index).</param>
/// <param name="Finding">The Find-UnusedIndex finding it came from: its evidence is re-checked before the drop.</param>
/// <param name="Force">Drop even when the finding's verdict is Unknown (statistics too young).</param>
public sealed record RemoveIndexRequest(DbOpsConnection Connection, string Index, IndexFinding? Finding = null, bool Force = false);

/// <summary>
/// A change worked out against the live catalog and not yet run: the exact statements, for -WhatIf and
/// confirmation, or why nothing needs doing.
/// </summary>
public sealed class IndexChangePlan
{
    internal IndexChangePlan(DbOpsConnection source, TableRef table, string index, IReadOnlyList<string> columns, IReadOnlyList<string> statements,
                             IndexChangeStatus outcome, bool replacesInvalid, string? note, IndexFinding? finding, string method = "btree")
    {
        Method = method;
        Source = source;
        TableRef = table;
        Index = index;
        Columns = columns;
        Statements = ValueList.Of(statements);
        Outcome = outcome;
        ReplacesInvalid = replacesInvalid;
        Note = note;
        Finding = finding;
    }

    /// <summary>The statements to run, in order; empty when nothing needs doing.</summary>
    public IReadOnlyList<string> Statements { get; }

    /// <summary>What the change ends in (Created, Dropped), or why it is skipped (Exists, AlreadyCovered).</summary>
    public IndexChangeStatus Outcome { get; }

    /// <summary>Why nothing needs doing, when nothing does.</summary>
    public string? Note { get; }

    /// <summary>"schema.index on table", for confirmation prompts.</summary>
    public string Target => $"{TableRef.Schema}.{Index} on {TableRef}";

    internal DbOpsConnection Source { get; }
    internal TableRef TableRef { get; }
    internal string Index { get; }
    internal IReadOnlyList<string> Columns { get; }
    internal bool ReplacesInvalid { get; }
    internal IndexFinding? Finding { get; }
    internal string Method { get; }

    /// <summary>The CREATE INDEX statement of an index to drop, for the journal's undo.</summary>
    internal string? Definition { get; init; }

    /// <summary>The result of not running it (for a skipped change).</summary>
    public IndexChange Skipped() => new(Source, TableRef, Index, Columns, Outcome, [], false, TimeSpan.Zero, Note, Method);
}

/// <summary>
/// Adds and drops indexes without blocking writers: PostgreSQL builds and drops CONCURRENTLY (outside a
/// transaction), cleaning up the INVALID leftover of a failed build; SQLite runs plain CREATE/DROP INDEX.
/// </summary>
public static class IndexMaintenance
{
    /// <summary>Works out the statements for adding an index, against the live catalog.</summary>
    public static async Task<IndexChangePlan> PlanAddAsync(AddIndexRequest request, CancellationToken cancellationToken)
    {
        var source = request.Connection;
        var engine = DatabaseEngines.For(source);
        var (schema, _) = await ReadAsync(engine, source, cancellationToken);
        var table = schema.Resolve(request.Table);
        var index = IndexDefinition.Resolve(table, engine, request.Columns, request.Method, request.Include, request.Where);
        var columns = index.Keys;
        var name = request.Name ?? IndexSql.SuggestName(schema, table, index.NameParts);
        var existing = table.Indexes.FirstOrDefault(i => i.Name == name);
        if (existing is { IsValid: true })
        {
            return new IndexChangePlan(source, table.Table, name, columns, [], IndexChangeStatus.Exists, false,
                $"A valid index named {name} already exists on {table}: {existing.Definition}", null);
        }
        if (existing is null && index.IsPlain && IndexAdvisor.IsCovered(table, columns))
        {
            var cover = table.Indexes.FirstOrDefault(i => i.IsValid && IndexAdvisor.IsPlainBTree(i) && i.Columns.Count >= columns.Count
                && i.Columns.Take(columns.Count).All(c => columns.Contains(c, StringComparer.OrdinalIgnoreCase)))?.Name ?? "the primary key";
            return new IndexChangePlan(source, table.Table, name, columns, [], IndexChangeStatus.AlreadyCovered, false,
                $"{cover} already leads with ({string.Join(", ", columns)}) on {table}; another index would only slow down writes.", null);
        }
        // The server's verdict on the kind, types and expressions, before anything is built.
        var shape = engine.Tuning.IndexComparisonKey(await index.ProbeAsync(source, cancellationToken));
        if (table.Indexes.FirstOrDefault(i => i.IsValid && i.Name != name && engine.Tuning.IndexComparisonKey(i.Definition) == shape) is { } same)
        {
            return new IndexChangePlan(source, table.Table, name, columns, [], IndexChangeStatus.Exists, false,
                $"Index {same.Name} on {table} already has this definition: {same.Definition}", null);
        }
        var statements = new List<string>();
        if (existing is { IsValid: false })
        {
            // The leftover of a failed CREATE INDEX CONCURRENTLY: never used for reads, still maintained on every write.
            statements.Add(IndexSql.Drop(engine.Tuning, table.Table.Schema, name, ifExists: true));
        }
        statements.Add(index.CreateSql(engine, name));
        return new IndexChangePlan(source, table.Table, name, columns, statements, IndexChangeStatus.Created, existing is not null, null, null, IndexDefinition.MethodName(request.Method));
    }

    /// <summary>
    /// Works out the statement for dropping an index, refusing an index that backs a constraint or enforces
    /// uniqueness, and re-checking a finding's evidence: a scan since it was reported, a young window without
    /// -Force, or a covering index that is gone all refuse.
    /// </summary>
    public static async Task<IndexChangePlan> PlanRemoveAsync(RemoveIndexRequest request, CancellationToken cancellationToken)
    {
        var source = request.Connection;
        var engine = DatabaseEngines.For(source);
        var (schema, scans) = await ReadAsync(engine, source, cancellationToken, request.Finding?.Reason == IndexFindingReason.Unused);
        var (schemaName, indexName) = SplitName(request.Index, request.Finding?.Schema);
        var candidates = schema.Tables.SelectMany(t => t.Indexes)
            .Where(i => i.Name == indexName && (schemaName is null || i.Table.Schema == schemaName)).ToList();
        if (candidates.Count != 1)
        {
            throw new DbOpsException(ErrorIds.IndexNotFound, ErrorKind.NotFound, candidates.Count == 0
                ? $"No index named '{request.Index}' exists in {source}. It may have been dropped already; run Find-UnusedIndex again."
                : $"Indexes named '{indexName}' exist in several schemas ({string.Join(", ", candidates.Select(c => c.Table.Schema))}); qualify the name.",
                request.Index);
        }
        var index = candidates[0];
        if (IndexAdvisor.BacksConstraint(index))
        {
            throw new DbOpsException(ErrorIds.IndexBacksConstraint, ErrorKind.InvalidState,
                $"Index {index.Table.Schema}.{index.Name} backs the constraint {index.ConstraintName ?? "(primary key)"} on {index.Table}; it is never dropped " +
                "as unused. Drop the constraint itself if it is really not wanted.", request.Index);
        }
        if (request.Finding is { } finding)
        {
            CheckEvidence(schema, index, finding, scans, request.Force);
        }
        else if (index.IsUnique)
        {
            throw new DbOpsException(ErrorIds.IndexBacksConstraint, ErrorKind.InvalidState,
                $"Index {index.Table.Schema}.{index.Name} is unique: it enforces uniqueness on {index.Table}({string.Join(", ", index.Columns)}) " +
                "even without a constraint. Remove-UnusedIndex does not drop it.", request.Index);
        }
        return new IndexChangePlan(source, index.Table, index.Name, index.Columns, [IndexSql.Drop(engine.Tuning, index.Table.Schema, index.Name)],
            IndexChangeStatus.Dropped, false, null, request.Finding, IndexAdvisor.Method(index)) { Definition = index.Definition };
    }

    private static void CheckEvidence(DatabaseSchema schema, IndexInfo index, IndexFinding finding, IReadOnlyDictionary<string, long> scans, bool force)
    {
        var name = $"{index.Table.Schema}.{index.Name}";
        if (finding.Verdict == IndexVerdict.Unknown && !force)
        {
            throw new DbOpsException(ErrorIds.IndexInUse, ErrorKind.InvalidState,
                $"Index {name} had no scans, but the statistics were too young to call it unused ({finding.Evidence}). " +
                "Wait until they cover the minimum age, or pass -Force to drop it anyway.", name);
        }
        var then = finding.ScanCounter ?? finding.Scans ?? 0;
        if (finding.Reason == IndexFindingReason.Unused && scans.TryGetValue(name, out var now) && now > then)
        {
            throw new DbOpsException(ErrorIds.IndexInUse, ErrorKind.InvalidState,
                $"Index {name} has been scanned {now - then} time(s) since Find-UnusedIndex reported it unused; it is not dropped.", name);
        }
        if (finding.CoveredBy is { } keeper
            && !schema.Tables.SelectMany(t => t.Indexes).Any(i => i.Name == keeper && i.Table == index.Table && i.IsValid))
        {
            throw new DbOpsException(ErrorIds.IndexInUse, ErrorKind.InvalidState,
                $"Index {name} was reported redundant because of {keeper}, which no longer exists or is not valid; it is not dropped.", name);
        }
    }

    /// <summary>
    /// Runs a planned change and journals it (unless nothing needed doing). On PostgreSQL a failed concurrent build
    /// leaves an INVALID index: it is dropped before reporting.
    /// </summary>
    /// <param name="plan">From <see cref="PlanAddAsync"/> or <see cref="PlanRemoveAsync"/>.</param>
    /// <param name="observer">Receives progress and the statements.</param>
    /// <param name="cancellationToken">Stops the change.</param>
    /// <param name="journalPath">The operations journal to record the change in; null for the default one.</param>
    public static async Task<IndexChange> ApplyAsync(IndexChangePlan plan, IOperationObserver observer, CancellationToken cancellationToken,
                                                     string? journalPath = null)
    {
        if (plan.Statements.Count == 0)
        {
            return plan.Skipped();
        }
        var source = plan.Source;
        var engine = DatabaseEngines.For(source);
        var clock = Stopwatch.StartNew();
        await using var session = await engine.OpenWritableAsync(source, cancellationToken);
        var connection = session.Connection;
        foreach (var (sql, i) in plan.Statements.Select((s, i) => (s, i)))
        {
            observer.Progress(new OperationProgress($"{(plan.Outcome == IndexChangeStatus.Created ? "Add-SafeIndex" : "Remove-UnusedIndex")} {plan.Target}", sql,
                100 * i / plan.Statements.Count));
            observer.Verbose(sql);
            try
            {
                // CONCURRENTLY cannot run in a transaction block: each statement runs on its own.
                await connection.ExecuteAsync(new CommandDefinition(sql, commandTimeout: 0, cancellationToken: cancellationToken));
            }
            catch (Exception e) when (e is DbException or OperationCanceledException && plan.Outcome == IndexChangeStatus.Created && sql.StartsWith("CREATE", StringComparison.Ordinal))
            {
                await engine.Tuning.DropFailedBuildAsync(source, plan, observer);
                if (e is OperationCanceledException)
                {
                    throw;
                }
                throw new DbOpsException(ErrorIds.IndexBuildFailed, ErrorKind.OperationFailed,
                    $"Building index {plan.Target} failed: {engine.Tuning.ServerMessage(e)}. " +
                    "Any INVALID leftover was dropped; fix the cause and run Add-SafeIndex again.", plan.Target, e);
            }
            catch (DbException e)
            {
                throw new DbOpsException(ErrorIds.QueryFailed, ErrorKind.OperationFailed,
                    $"'{sql}' failed on {source}: {engine.Tuning.ServerMessage(e)}", plan.Target, e);
            }
        }
        var change = new IndexChange(source, plan.TableRef, plan.Index, plan.Columns, plan.Outcome, plan.Statements, plan.ReplacesInvalid, clock.Elapsed, null, plan.Method);
        Record(journalPath, plan, change, observer);
        return change;
    }

    /// <summary>An added index is undone by dropping it (concurrently, as Remove-UnusedIndex does); a dropped one by its CREATE INDEX.</summary>
    private static void Record(string? journalPath, IndexChangePlan plan, IndexChange change, IOperationObserver observer)
    {
        var added = plan.Outcome == IndexChangeStatus.Created;
        OperationsJournal.Record(journalPath, JournalEntry.For(plan.Source, added ? JournalOperations.IndexAdded : JournalOperations.IndexRemoved) with
        {
            Schema = plan.TableRef.Schema,
            Table = plan.TableRef.Name,
            Objects = [plan.Index],
            Figures = new Dictionary<string, double> { ["seconds"] = Math.Round(change.Duration.TotalSeconds, 3) },
            Undo = added
                ? $"Remove-UnusedIndex -Database {UndoCommand.Database(plan.Source)} -Name {UndoCommand.Quote($"{plan.TableRef.Schema}.{plan.Index}")} -Confirm:$false"
                : string.IsNullOrEmpty(plan.Definition) ? null : UndoCommand.Query(plan.Source, plan.Definition),
        }, observer);
    }

    private static async Task<(DatabaseSchema Schema, IReadOnlyDictionary<string, long> Scans)> ReadAsync(
        IDatabaseEngine engine, DbOpsConnection source, CancellationToken cancellationToken, bool withScans = false)
    {
        await using var session = await engine.OpenReadOnlyAsync(source, cancellationToken);
        var connection = session.Connection;
        var schema = await SchemaReader.ReadAsync(engine, connection, cancellationToken);
        var scans = new Dictionary<string, long>(StringComparer.Ordinal);
        if (withScans)
        {
            foreach (var index in await engine.Tuning.ReadIndexScansAsync(connection, cancellationToken))
            {
                scans[$"{index.Schema}.{index.Index}"] = index.Scans;
            }
        }
        return (schema, scans);
    }

    private static (string? Schema, string Name) SplitName(string text, string? schema)
    {
        var dot = text.IndexOf('.');
        return schema is not null ? (schema, text) : dot > 0 ? (text[..dot], text[(dot + 1)..]) : (null, text);
    }
}
