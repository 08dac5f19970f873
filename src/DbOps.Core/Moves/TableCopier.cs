using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Diagnostics;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Schema;

namespace DbOps.Core.Moves;

/// <summary>
/// Copy-TableData: copies source rows into the target table through a <see cref="TableMap"/>, in key-ordered batches,
/// each its own transaction under the lock timeout. A row whose key is already in the target with equal values is left
/// alone, so a copy that was killed and is run again finishes the job without duplicating a row.
/// </summary>
public static class TableCopier
{
    private const int SampleCount = 10;

    /// <summary>The statements one batch runs, with @p0.. as the batch's key bounds (what -WhatIf prints). Reads only.</summary>
    public static async Task<IReadOnlyList<string>> PlanAsync(CopyRequest request, CancellationToken cancellationToken) =>
        (await PreviewAsync(request, cancellationToken)).Statements;

    /// <summary>What -WhatIf shows: the statements of one batch and how many target rows -OnConflict Update would overwrite. Reads only.</summary>
    public static async Task<CopyPreview> PreviewAsync(CopyRequest request, CancellationToken cancellationToken)
    {
        Validate(request);
        var engine = DatabaseEngines.For(request.Map.Source);
        await using var session = await engine.OpenReadOnlyAsync(request.Map.Source, cancellationToken);
        var map = await ResolvedMap.ResolveAsync(request.Map, session.Connection, forCopy: true, cancellationToken);
        var overwrites = Overwrites(request, map) ? await CopyPriorImage.CountAsync(map, session.Connection, cancellationToken) : 0;
        return new CopyPreview(new BatchSql(map, request, first: false, last: false).Statements, overwrites);
    }

    /// <summary>Where the prior images of -OnConflict Update go when no folder is given: a prior-images folder beside the journal.</summary>
    public static string DefaultPriorImageFolder(string? journalPath) => CopyPriorImage.DefaultFolder(journalPath);

    /// <summary>True when the copy can overwrite target rows: -OnConflict Update with values to update.</summary>
    private static bool Overwrites(CopyRequest request, ResolvedMap map) => request.OnConflict == ConflictAction.Update && map.Values.Count > 0;

    /// <summary>Copies; refuses a map that cannot be copied before writing anything, and records one RowsCopied journal entry.</summary>
    public static async Task<CopyResult> CopyAsync(CopyRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        Validate(request);
        var clock = Stopwatch.StartNew();
        var source = request.Map.Source;
        var engine = DatabaseEngines.For(source);
        ResolvedMap map;
        long total;
        long overwrites = 0;
        await using (var check = await engine.OpenReadOnlyAsync(source, cancellationToken))
        {
            map = await ResolvedMap.ResolveAsync(request.Map, check.Connection, forCopy: true, cancellationToken);
            total = await CountReadOnlyAsync(map, check.Connection, cancellationToken);
            await MoveSql.RequireUsableKeyAsync(map.Source, "source", check.Connection, null, cancellationToken);
            await MoveSql.RequireUsableKeyAsync(map.Target, "target", check.Connection, null, cancellationToken);
            if (map.Unfilled.Count > 0)
            {
                await RequireNoInsertsAsync(map, check.Connection, cancellationToken);
            }
            if (Overwrites(request, map))
            {
                overwrites = await CopyPriorImage.CountAsync(map, check.Connection, cancellationToken);
            }
        }
        var overwriting = Overwrites(request, map);
        using var running = overwriting ? CopyPriorImage.LockRun(request, map) : null;
        var prior = overwriting ? await CopyPriorImage.PrepareAsync(request, map, overwrites, observer, cancellationToken) : null;
        var parallel = Parallelism(request, engine, observer);

        // The source's checksum, for the journal. With -Verify it is read after the comparison, so the line's checksum and its
        // verdict describe the same source. Without, where a reader never holds up a writer's COMMIT, it is read beside the
        // batches, in a snapshot of the source as the copy begins; otherwise after the last batch.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var checksum = map.Source.Table is { } sourceTable && !engine.Moves.OneWriter && !request.Verify
            ? SourceChecksumAsync(source, sourceTable, stop.Token)
            : null;
        var tally = new Tally(recordSizes: request.BatchSize is null);
        try
        {
            var run = new CopyRun(engine, map, request, prior, tally, observer, total, Sizer(request, observer));
            if (parallel > 1)
            {
                await run.InParallelAsync(source, parallel, stop);
            }
            else
            {
                await using var session = await engine.OpenWritableAsync(source, cancellationToken);
                if (prior is not null)
                {
                    await prior.LoadAsync(engine, session, cancellationToken);
                }
                await run.BatchesAsync(session.Connection, run.RangesAsync(session.Connection, cancellationToken), cancellationToken);
            }
        }
        catch (Exception)
        {
            await stop.CancelAsync();
            await Settle(checksum);
            if (tally.Copied + tally.Updated > 0)
            {
                // Earlier batches committed rows: the journal says so, so the record matches the database. A rerun finishes the
                // job (going on with the same prior image); the undo line comes with the line of the run that finishes.
                OperationsJournal.Record(request.JournalPath, Entry(request, map, Result(request, map, tally, null, null, prior, finished: false, clock))
                    with { Outcome = "Partial" }, observer);
            }
            throw;
        }

        // Every batch committed. What follows only reads, and the journal line with the undo is written whatever it does;
        // only then does the prior image's record say the copy finished, so a rerun after a failure here still gives that line.
        TableComparison? comparison = null;
        string? sourceChecksum = null;
        try
        {
            if (request.Verify)
            {
                comparison = await TableComparer.CompareAsync(request.Map, observer, cancellationToken);
            }
            sourceChecksum = checksum is not null ? await checksum
                : map.Source.Table is { } table ? await SourceChecksumAsync(source, table, cancellationToken)
                : null;
        }
        catch (Exception)
        {
            await stop.CancelAsync();
            await Settle(checksum);
            OperationsJournal.Record(request.JournalPath, Entry(request, map, Result(request, map, tally, null, null, prior, finished: true, clock)), observer);
            prior?.Finish();
            throw;
        }
        var result = Result(request, map, tally, sourceChecksum, comparison, prior, finished: true, clock);
        OperationsJournal.Record(request.JournalPath, Entry(request, map, result), observer);
        prior?.Finish();
        return result;
    }

    private static void Validate(CopyRequest request) => ValidateBatches(request.BatchSize, request.BatchTime);

    /// <summary>Refuses batch settings that make no sense, before anything is read or written (the cmdlet asks before connecting).</summary>
    /// <exception cref="DbOpsException">InvalidSpecification.</exception>
    public static void ValidateBatches(int? batchSize, TimeSpan? batchTime)
    {
        if (batchSize is < 1)
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument, $"-BatchSize must be at least 1 (got {batchSize}). Nothing was copied.");
        }
        if (batchSize is not null && batchTime is not null)
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"Give -BatchSize (every batch takes that many rows) or -BatchTime (batches sized to take about that long), not both " +
                $"(got -BatchSize {batchSize} and -BatchTime {Seconds(batchTime.Value)}). Nothing was copied.");
        }
        if (batchTime is { } time && time <= TimeSpan.Zero)
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"-BatchTime must be positive, e.g. 0.5 for half a second per batch (got {Seconds(time)}). Nothing was copied.");
        }
    }

    /// <summary>
    /// The time each batch is sized to take, or null when -BatchSize fixes their rows: -BatchTime, or by default half a
    /// second, and a tenth on an engine with one writer (SQLite), where every other writer waits for the batch.
    /// </summary>
    public static TimeSpan? BatchTimeOf(CopyRequest request) => request.BatchSize is not null ? null
        : request.BatchTime ?? (DatabaseEngines.For(request.Map.Source).Moves.OneWriter ? CopyRequest.DefaultOneWriterBatchTime : CopyRequest.DefaultBatchTime);

    /// <summary>
    /// Counts the source rows on a read-only connection, evaluating every mapped value (count(v) reads each) and -Where on
    /// every row, so an expression or query that writes (a function that inserts, nextval) is refused before the first
    /// batch writes anything. The batches evaluate the same SQL on the same rows; only a row added after this count, or a
    /// function that decides by other state to write later, escapes it.
    /// </summary>
    private static async Task<long> CountReadOnlyAsync(ResolvedMap map, DbConnection readOnly, CancellationToken cancellationToken)
    {
        var counts = string.Concat(Enumerable.Range(0, map.Values.Count).Select(i => $", count({MapSide.Value(i)})"));
        try
        {
            return (await MoveSql.ReadAsync(readOnly, null, $"SELECT count(*){counts} FROM ({map.Source.Select()}) AS \"r\"", null,
                r => Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), cancellationToken)).Single();
        }
        catch (DbException e) when (map.Source.Engine.Moves.ProbeProblem(e) == MapProblem.WritesData)
        {
            throw new DbOpsException(ErrorIds.MoveExpressionInvalid, ErrorKind.InvalidArgument,
                $"Reading the source through the map tried to write ({map.Source.Engine.Tuning.ServerMessage(e)}): an -Expression, -Where or " +
                "-SourceQuery calls something that writes (a function that inserts or updates, nextval). Copy-TableData only copies; " +
                "derive values with read-only SQL. Nothing was written.", map.Source.Name, e);
        }
    }

    private static async Task<string> SourceChecksumAsync(DbOpsConnection source, TableSchema table, CancellationToken cancellationToken) =>
        (await TableChecksum.ComputeAsync(source, table.Table, TableChecksum.StoredColumns(table).Select(c => c.Name).ToList(), cancellationToken)).Checksum;

    /// <summary>Waits for a checksum read the copy no longer needs (cancelled), so no connection outlives the copy.</summary>
    private static async Task Settle(Task<string>? checksum)
    {
        if (checksum is not null)
        {
            try
            {
                await checksum;
            }
            catch (Exception)
            {
                // Cancelled, or failed: the copy's own error is the one to report.
            }
        }
    }

    /// <summary>
    /// How many connections copy at once: -Parallel, where it can be kept. SQLite has one writer at a time, and an -OnConflict
    /// Update copy checks every batch against one prior image and records what it left batch by batch: both copy over one.
    /// </summary>
    private static int Parallelism(CopyRequest request, IDatabaseEngine engine, IOperationObserver observer)
    {
        var whyNot = request.Parallel <= 1 ? null
            : engine.Moves.OneWriter ? $"{engine.Kind} has one writer at a time"
            : request.OnConflict == ConflictAction.Update ? "-OnConflict Update checks and records its batches against one prior image, one batch after another"
            : null;
        if (whyNot is not null)
        {
            observer.Warning($"The copy runs over one connection, not {request.Parallel}: {whyNot}.");
            return 1;
        }
        return Math.Max(1, request.Parallel);
    }

    /// <summary>The copy's batch sizes: -BatchSize, or sized by time (said in -Verbose, with where it starts).</summary>
    private static BatchSizer Sizer(CopyRequest request, IOperationObserver observer)
    {
        var sizer = new BatchSizer(request.BatchSize, BatchTimeOf(request) ?? CopyRequest.DefaultBatchTime);
        if (sizer.BatchTime is { } time)
        {
            observer.Verbose($"Batches are sized to take about {Seconds(time)} each ({(request.BatchTime is null ? "the default" : "-BatchTime")}), " +
                $"starting at {sizer.Current:N0} rows, between half and twice the last batch's size and within {BatchSizer.Min:N0}..{BatchSizer.Max:N0} rows.");
        }
        return sizer;
    }

    /// <summary>A duration as people read it in a message: "0.5 s".</summary>
    internal static string Seconds(TimeSpan time) => $"{time.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s";

    private static CopyResult Result(CopyRequest request, ResolvedMap map, Tally tally, string? checksum, TableComparison? comparison,
        CopyPriorImage? prior, bool finished, Stopwatch clock)
    {
        var kept = prior is { Discarded: false } ? prior : null;
        return new()
        {
            Source = map.Source.Name,
            Target = map.Target.Name,
            Copied = tally.Copied,
            AlreadyPresent = tally.AlreadyPresent,
            Conflicting = tally.Conflicting,
            Updated = tally.Updated,
            CopiedSamples = tally.CopiedSamples,
            ConflictSamples = tally.ConflictSamples,
            Batches = tally.Batches,
            BatchSizes = tally.Sizes.ToArray(), // an array, which PowerShell indexes (a collection expression may not be a list to it)
            BatchTime = BatchTimeOf(request),
            SourceChecksum = checksum,
            Comparison = comparison,
            PriorImagePath = kept?.ManifestPath,
            PriorImageSha256 = kept?.Manifest.Data.Sha256,
            PriorImageRows = kept?.Manifest.RowCount ?? 0,
            Undo = finished ? kept?.Undo(request.Map.Source) : null,
            UndoNote = kept is null ? null : UndoNote(map, tally, kept, finished),
            Duration = clock.Elapsed,
        };
    }

    /// <summary>What the undo line puts back, and what it leaves: the rows the copy inserted.</summary>
    private static string UndoNote(ResolvedMap map, Tally tally, CopyPriorImage prior, bool finished)
    {
        var restores = finished
            ? $"Undo puts back the {prior.Manifest.RowCount} row(s) of {map.Target.Name} the copy overwrote, as they were before it" +
              (prior.Resumed ? " (with those an earlier, unfinished run of it overwrote)" : "")
            : $"The copy did not finish: run it again, and the run that finishes gives the undo line for the {prior.Manifest.RowCount} archived row(s)";
        var inserted = tally.Copied == 0 ? "" : $" the {tally.Copied} row(s) {(prior.Resumed ? "this run" : "the copy")} inserted (keys " +
            $"{string.Join(", ", tally.CopiedSamples)}{(tally.Copied > tally.CopiedSamples.Count ? ", ..." : "")})";
        var earlier = prior.Resumed ? " the rows the earlier run inserted" : "";
        return restores + (inserted.Length + earlier.Length == 0 ? "."
            : $"; it does not remove{inserted}{(inserted.Length > 0 && earlier.Length > 0 ? " nor" : "")}{earlier}, which the source holds too.");
    }

    /// <summary>
    /// A map that leaves a NOT NULL target column unfilled can still update rows already in the target (a parent row's
    /// JSONB column, say), but not insert any: it is refused before anything is written when a source key is not there.
    /// </summary>
    private static async Task RequireNoInsertsAsync(ResolvedMap map, DbConnection connection, CancellationToken cancellationToken)
    {
        var missing = await MoveSql.ReadAsync(connection, null, new ComparisonSql(map).Missing, null,
            r => MoveSql.KeyText(MoveSql.KeyValues(r, map.Keys.Count)), cancellationToken, SampleCount);
        if (missing.Count > 0)
        {
            throw new DbOpsException(ErrorIds.MoveTargetColumnUnfilled, ErrorKind.InvalidArgument,
                $"{map.Target.Name} requires {string.Join(", ", map.Unfilled)} (NOT NULL, no default) and the map does not fill it, so source rows " +
                $"missing from the target cannot be inserted (keys {string.Join(", ", missing)}). Map a source column to it (-Map) or derive it " +
                "(-Expression). Nothing was copied.", map.Target.Name);
        }
    }

    /// <summary>
    /// The one journal line of a copy. Verified says the comparison afterwards found every source row in the target, over
    /// the whole source table (no -Where): what lets a snapshot comparison count the source's later drop as a move.
    /// </summary>
    private static JournalEntry Entry(CopyRequest request, ResolvedMap map, CopyResult result)
    {
        var figures = new Dictionary<string, double>
        {
            ["alreadyPresent"] = result.AlreadyPresent,
            ["conflicting"] = result.Conflicting,
            ["updated"] = result.Updated,
            ["batches"] = result.Batches,
            ["seconds"] = Math.Round(result.Duration.TotalSeconds, 3),
        };
        if (result.BatchSizes.Count > 0)
        {
            figures["batchRowsMin"] = result.BatchSizes.Min();
            figures["batchRowsMax"] = result.BatchSizes.Max();
        }
        else if (request.BatchSize is { } fixedSize && result.Batches > 0)
        {
            figures["batchRowsMin"] = figures["batchRowsMax"] = fixedSize;
        }
        if (result.BatchTime is { } batchTime)
        {
            figures["batchSeconds"] = batchTime.TotalSeconds;
        }
        if (result.PriorImagePath is not null)
        {
            figures["priorImageRows"] = result.PriorImageRows;
        }
        if (result.Comparison is { } c)
        {
            figures["sourceRows"] = c.SourceRows;
            figures["targetRows"] = c.TargetRows;
            figures["missing"] = c.Missing;
            figures["changed"] = c.Changed;
            figures["extra"] = c.Extra;
        }
        var target = map.Target.Table!.Table;
        return JournalEntry.For(request.Map.Source, JournalOperations.RowsCopied) with
        {
            Schema = map.Source.Table?.Table.Schema,
            Table = map.Source.Table?.Table.Name,
            Target = $"{target.Schema}.{target.Name}",
            Rows = result.Copied,
            Figures = figures,
            Checksum = result.SourceChecksum,
            Path = result.PriorImagePath,
            Sha256 = result.PriorImageSha256,
            Undo = result.Undo,
            Verified = result.Comparison is { Verdict: not ComparisonVerdict.Differs } && request.Map.Where is null && map.Source.Table is not null,
            Outcome = result.Comparison is { Verdict: ComparisonVerdict.Differs } ? "Differs" : null,
        };
    }

    private static async Task CopyBatchAsync(IDatabaseEngine engine, DbConnection connection, ResolvedMap map, CopyRequest request, BatchSql batch,
        CopyPriorImage? prior, BatchRange range, Tally tally, CancellationToken cancellationToken, bool firstTry = true)
    {
        var (committed, overwrote) = (false, false);
        var bounds = range.Bounds;
        try
        {
            foreach (var begin in engine.Moves.BeginBatch(request.LockTimeout ?? CopyRequest.DefaultLockTimeout))
            {
                await MoveSql.ExecuteAsync(connection, null, begin, null, cancellationToken);
            }
            var present = await MoveSql.ReadAsync(connection, null, batch.Present, bounds, r => TableComparer.ChangedRow(map, r), cancellationToken);
            var conflicts = present.Where(p => p.Columns.Count > 0).ToList();
            if (conflicts.Count > 0 && request.OnConflict == ConflictAction.Fail)
            {
                throw new DbOpsException(ErrorIds.MoveConflict, ErrorKind.InvalidData,
                    $"{conflicts.Count} source row(s) have keys already in {map.Target.Name} with other values: " +
                    $"{string.Join("; ", conflicts.Take(SampleCount).Select(c => $"{c.Key} ({string.Join(", ", c.Columns)})"))}. " +
                    $"This batch was rolled back ({tally.Copied} row(s) of earlier batches stay copied; a rerun resumes). " +
                    "Rerun with -OnConflict Skip or Update, or compare first with Compare-TableData.", map.Target.Name);
            }
            var updated = 0;
            if (request.OnConflict == ConflictAction.Update && conflicts.Count > 0)
            {
                await RequireArchivedAsync(engine, connection, map, batch, prior, tally.Updated > 0, bounds, cancellationToken);
                overwrote = true;
                updated = await prior!.OverwriteAsync(engine, connection, batch, bounds,
                    () => MoveSql.ExecuteAsync(connection, null, batch.Update!, bounds, cancellationToken), cancellationToken);
            }
            // The insert's row count counts the copied rows; their keys are listed only while samples are wanted.
            var inserted = tally.CopiedSamples.Count == SampleCount ? []
                : await MoveSql.ReadAsync(connection, null, batch.Missing, bounds, r => MoveSql.KeyText(MoveSql.KeyValues(r, map.Keys.Count)),
                    cancellationToken, SampleCount - tally.CopiedSamples.Count);
            // A batch that found none of its keys in the target inserts all its rows without the anti-join that skips them
            // (a fifth of the insert's server time); a key another session adds meanwhile is refused by the unique key.
            var copied = await MoveSql.ExecuteAsync(connection, null, present.Count == 0 && firstTry ? batch.InsertAll ?? batch.Insert : batch.Insert,
                bounds, cancellationToken);
            // Not cancelled midway: a COMMIT the server made must be counted (-Parallel cancels the others when one fails).
            await MoveSql.ExecuteAsync(connection, null, "COMMIT", null, CancellationToken.None);
            committed = true;
            tally.Add(copied, present.Count - conflicts.Count, conflicts, updated, inserted, range.Size);
        }
        catch (Exception e) when (!committed)
        {
            await RollBackAsync(connection);
            if (firstTry && !overwrote && engine.Moves.IsDuplicateKey(e) && !cancellationToken.IsCancellationRequested)
            {
                // Another session added one of the batch's keys after the batch looked (PostgreSQL's writers do not wait for
                // a batch): run the batch once more, which finds that row as it finds any row already in the target. Not
                // after an overwrite, whose record of what it left is settled by the rerun of the copy instead.
                await CopyBatchAsync(engine, connection, map, request, batch, prior, range, tally, cancellationToken, firstTry: false);
                return;
            }
            if (e is DbException db && !cancellationToken.IsCancellationRequested)
            {
                throw new DbOpsException(ErrorIds.MoveFailed, ErrorKind.OperationFailed,
                    $"A batch of the copy into {map.Target.Name} failed and was rolled back ({engine.Tuning.ServerMessage(db)}); " +
                    $"{tally.Copied} row(s) of earlier batches stay copied, and running the same copy again resumes without duplicating them.", map.Target.Name, e);
            }
            throw;
        }
    }

    /// <summary>
    /// Before a batch overwrites rows: with other writers kept off the target, every row it would overwrite must still be
    /// in the prior image with the values archived there. Otherwise the batch is refused (and rolled back), since the
    /// archive would not hold what it overwrites; a prior image no batch has overwritten rows with yet goes too, so the
    /// rerun archives the rows as they are then.
    /// </summary>
    private static async Task RequireArchivedAsync(IDatabaseEngine engine, DbConnection connection, ResolvedMap map, BatchSql batch, CopyPriorImage? prior,
        bool overwroteBefore, object[] bounds, CancellationToken cancellationToken)
    {
        if (engine.Moves.LockForOverwrite(engine.QualifiedName(map.Target.Table!.Table)) is { } lockTarget)
        {
            await MoveSql.ExecuteAsync(connection, null, lockTarget, null, cancellationToken);
        }
        if (prior is null)
        {
            throw Stale(map, "the copy counted none to overwrite, so no prior image holds them. Run the copy again: it archives them first.");
        }
        var unarchived = await MoveSql.ReadAsync(connection, null, batch.Unarchived!, bounds, r => MoveSql.KeyText(MoveSql.KeyValues(r, map.Keys.Count)),
            cancellationToken, SampleCount);
        if (unarchived.Count == 0)
        {
            return;
        }
        var changed = $"their prior image was archived in '{prior.ManifestPath}' (keys {string.Join(", ", unarchived)}{(unarchived.Count == SampleCount ? ", ..." : "")})";
        if (!overwroteBefore && !prior.Resumed)
        {
            prior.Discard();
            throw Stale(map, $"{changed}. No row was overwritten with that archive, so it was removed: run the copy again to archive the rows as they are now.");
        }
        throw Stale(map, $"{changed}. That archive stays: it alone holds the values the copy already overwrote. Make the rows what it holds again, or " +
            "move the archive's folder elsewhere (keeping it) so the copy archives the rows afresh; Compare-TableData shows what differs now.");
    }

    private static DbOpsException Stale(ResolvedMap map, string why) => new(ErrorIds.ArchiveStale, ErrorKind.InvalidState,
        $"Nothing of this batch was written (earlier batches stay): rows of {map.Target.Name} it would overwrite changed after {why}", map.Target.Name);

    private static async Task RollBackAsync(DbConnection connection)
    {
        try
        {
            await MoveSql.ExecuteAsync(connection, null, "ROLLBACK", null, CancellationToken.None);
        }
        catch (DbException)
        {
            // No transaction was open (BEGIN itself failed), or the connection is gone: the server rolled it back.
        }
    }

    /// <summary>
    /// One batch's key bounds: after @p0.. (the previous batch's last key) up to its own last key; the first has no lower
    /// bound, the last no upper. Size: the rows it was sized to take (the last takes what is left).
    /// </summary>
    private sealed record BatchRange(object[] Bounds, bool First, bool Last, int Size);

    /// <summary>The batches of one copy: where their bounds come from, and who runs them.</summary>
    private sealed class CopyRun(IDatabaseEngine engine, ResolvedMap map, CopyRequest request, CopyPriorImage? prior, Tally tally, IOperationObserver observer, long total,
        BatchSizer sizer)
    {
        private readonly string _activity = $"Copy-TableData {map.Source.Name} -> {map.Target.Name}";

        /// <summary>
        /// The batches' bounds in key order: each batch ends at the size-th key after the previous one, the last where the
        /// keys do. The size is read as each bound is looked up: on one connection, once the batch before has run and been
        /// timed; with -Parallel, whatever the writers' last timed batches made it (batches already read ahead keep theirs).
        /// </summary>
        public async IAsyncEnumerable<BatchRange> RangesAsync(DbConnection connection, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            object[]? after = null;
            while (true)
            {
                var size = sizer.Current;
                var next = new BatchSql(map, request, first: after is null, last: false).NextBound(size);
                var upTo = (await MoveSql.ReadAsync(connection, null, next, after, r => MoveSql.KeyValues(r, map.Keys.Count), cancellationToken)).SingleOrDefault();
                yield return new BatchRange([.. after ?? [], .. upTo ?? []], First: after is null, Last: upTo is null, size);
                if (upTo is null)
                {
                    yield break;
                }
                after = upTo;
            }
        }

        /// <summary>Copies the given batches on one connection, one after another.</summary>
        public async Task BatchesAsync(DbConnection connection, IAsyncEnumerable<BatchRange> ranges, CancellationToken cancellationToken)
        {
            await foreach (var range in ranges.WithCancellation(cancellationToken))
            {
                // Timed from its first statement through its COMMIT: the pause is the writers' time, not the batch's.
                var started = Stopwatch.GetTimestamp();
                await CopyBatchAsync(engine, connection, map, request, new BatchSql(map, request, range.First, range.Last), prior, range, tally, cancellationToken);
                var elapsed = Stopwatch.GetElapsedTime(started);
                FaultPoint.Reach(FaultPoint.CopyBatchCommitted);
                if (!range.Last && sizer.Observe(range.Size, elapsed))
                {
                    observer.Verbose($"A batch of {range.Size:N0} rows took {Seconds(elapsed)}: the next take {sizer.Current:N0}.");
                }
                var sized = sizer.BatchTime is null ? "" : $", batches of {sizer.Current:N0}";
                observer.Progress(new OperationProgress(_activity, $"{tally.Seen:N0} of {total:N0} source rows ({tally.Copied:N0} copied{sized})",
                    total == 0 ? 100 : (int)Math.Min(100, 100 * tally.Seen / total)));
                if (!range.Last && request.Pause > TimeSpan.Zero)
                {
                    await Task.Delay(request.Pause, cancellationToken);
                }
            }
        }

        /// <summary>
        /// -Parallel: one connection reads the bounds ahead and <paramref name="parallel"/> connections copy the batches as
        /// they come. Each batch is still its own transaction and a rerun skips what any of them committed; the first failure
        /// stops the others, and it is what the copy reports.
        /// </summary>
        public async Task InParallelAsync(DbOpsConnection source, int parallel, CancellationTokenSource stop)
        {
            var ranges = Channel.CreateBounded<BatchRange>(parallel);
            Exception? cause = null;
            async Task Guarded(Func<Task> work)
            {
                try
                {
                    await work();
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref cause, e, null);
                    ranges.Writer.TryComplete();
                    await stop.CancelAsync();
                    throw;
                }
            }
            async Task Bounds()
            {
                await using var session = await engine.OpenReadOnlyAsync(source, stop.Token);
                await foreach (var range in RangesAsync(session.Connection, stop.Token))
                {
                    await ranges.Writer.WriteAsync(range, stop.Token);
                }
                ranges.Writer.TryComplete();
            }
            async Task Copier()
            {
                await using var session = await engine.OpenWritableAsync(source, stop.Token);
                await BatchesAsync(session.Connection, ranges.Reader.ReadAllAsync(stop.Token), stop.Token);
            }
            var workers = Enumerable.Range(0, parallel).Select(_ => Task.Run(() => Guarded(Copier), CancellationToken.None))
                .Prepend(Task.Run(() => Guarded(Bounds), CancellationToken.None)).ToList();
            try
            {
                await Task.WhenAll(workers);
            }
            catch when (cause is not null)
            {
                ExceptionDispatchInfo.Throw(cause);
            }
        }
    }

    /// <summary>What the committed batches did, added up; -Parallel's connections add to it at once.</summary>
    /// <param name="recordSizes">Keep each batch's size (sized by time); a fixed -BatchSize is not kept per batch, so memory stays flat.</param>
    private sealed class Tally(bool recordSizes = false)
    {
        private readonly Lock _lock = new();

        public int Batches { get; private set; }
        public long Copied { get; private set; }
        public long AlreadyPresent { get; private set; }
        public long Conflicting { get; private set; }
        public long Updated { get; private set; }
        public long Seen => Copied + AlreadyPresent + Conflicting;
        public List<string> CopiedSamples { get; } = [];
        public List<ChangedRow> ConflictSamples { get; } = [];
        public List<int> Sizes { get; } = [];

        public void Add(long copied, long alreadyPresent, List<ChangedRow> conflicts, long updated, List<string> copiedSamples, int size)
        {
            lock (_lock)
            {
                Batches++;
                if (recordSizes)
                {
                    Sizes.Add(size);
                }
                Copied += copied;
                AlreadyPresent += alreadyPresent;
                Conflicting += conflicts.Count;
                Updated += updated;
                CopiedSamples.AddRange(copiedSamples.Take(SampleCount - CopiedSamples.Count));
                ConflictSamples.AddRange(conflicts.Take(SampleCount - ConflictSamples.Count));
            }
        }
    }
}

/// <summary>
/// The statements of one copy batch: the source rows with keys after @p0.. (the previous batch's last key) up to and
/// including the next bound. Conflicts are found by the same comparison Compare-TableData makes.
/// </summary>
internal sealed class BatchSql
{
    public BatchSql(ResolvedMap map, CopyRequest request, bool first, bool last)
    {
        var keyCount = map.Keys.Count;
        var keys = Enumerable.Range(0, keyCount).Select(i => MapSide.Key(i)).ToList();
        string Parameters(int from, int width) => $"({string.Join(", ", Enumerable.Range(from, width).Select(MoveSql.Parameter))})";
        string Row(IReadOnlyList<string> columns, int width) => $"({string.Join(", ", columns.Take(width))})";
        // One side's first `width` key columns against the batch's bounds: after the previous batch's last key (@p0..) and up
        // to this batch's last key (the parameters after those). Cut to a leading part of the key, each bound includes its end.
        string? After(IReadOnlyList<string> columns, int width) =>
            first || width == 0 ? null : $"{Row(columns, width)} {(width == keyCount ? ">" : ">=")} {Parameters(0, width)}";
        string? UpTo(IReadOnlyList<string> columns, int width) =>
            last || width == 0 ? null : $"{Row(columns, width)} <= {Parameters(first ? 0 : keyCount, width)}";
        string? Range(IReadOnlyList<string> columns, int width) =>
            string.Join(" AND ", new[] { After(columns, width), UpTo(columns, width) }.OfType<string>()) is { Length: > 0 } range ? range : null;
        var range = Range(keys, keyCount);
        var order = string.Join(", ", keys);
        var nextBound = $"SELECT {order} FROM ({map.Source.Select()}) AS \"r\"{(first ? "" : $" WHERE {After(keys, keyCount)}")} ORDER BY {order} LIMIT 1 OFFSET ";
        NextBound = size => nextBound + (size - 1).ToString(CultureInfo.InvariantCulture);

        // Target rows pair with the batch's rows by equal keys, so where the keys sort alike on both sides (a leading part of
        // them at least) the batch's key range bounds the target too: each statement reads that range of the target through
        // its key's index, not the whole table once per batch.
        var quote = map.Target.Engine.QuoteIdentifier;
        var alike = Enumerable.Range(0, keyCount).TakeWhile(i => map.Target.Engine.Moves.OrdersAlike(map.Source.Types[i], map.Target.Types[i])).Count();
        var targetRange = Range(keys, alike);
        string TargetBound(string alias) => Range(map.Keys.Select(k => $"{alias}.{quote(k.TargetColumn!)}").ToList(), alike) is { } bound ? $" AND {bound}" : "";
        var compare = new ComparisonSql(map);
        var with = $"WITH \"s\" AS ({map.Source.Select(range)}), \"t\" AS ({map.Target.Select(targetRange)})";
        Present = $"{with} SELECT {string.Join(", ", keys.Select(k => "\"s\"." + k))}" +
            string.Concat(compare.Differs.Select(d => $", CASE WHEN {d} THEN 1 ELSE 0 END")) + $" FROM \"s\" JOIN \"t\" ON {compare.Join}";
        var target = map.Target.Engine.QualifiedName(map.Target.Table!.Table);
        var sourceRows = SourceRows = $"({map.Source.Select(range)}) AS \"s\"";
        var isTarget = string.Join(" AND ", map.Keys.Select((k, i) => $"\"dst\".{quote(k.TargetColumn!)} = {MapSide.Key(i, "\"s\"")}")) + TargetBound("\"dst\"");
        Missing = $"SELECT {string.Join(", ", keys.Select(k => "\"s\"." + k))} FROM {sourceRows} WHERE NOT EXISTS (SELECT 1 FROM {target} AS \"dst\" WHERE {isTarget}) ORDER BY {order}";
        var columns = map.Keys.Concat(map.Values).Select(v => quote(v.TargetColumn!));
        var selected = Enumerable.Range(0, keyCount).Select(i => MapSide.Key(i, "\"s\"")).Concat(map.Values.Select((_, i) => MapSide.Value(i, "\"s\"")));
        var insertAll = $"INSERT INTO {target} ({string.Join(", ", columns)}) SELECT {string.Join(", ", selected)} FROM {sourceRows}";
        Insert = $"{insertAll} WHERE NOT EXISTS (SELECT 1 FROM {target} AS \"dst\" WHERE {isTarget})";
        InsertAll = map.Target.Engine.Moves.OneWriter || map.Target.Table.HasUniqueKeyOn(map.Target.KeyColumns) ? insertAll : null;
        if (request.OnConflict == ConflictAction.Update && map.Values.Count > 0)
        {
            var differs = map.Values.Select((v, i) => map.Source.Engine.Moves.Differs(map.Source.ComparableValue(i, "\"s\""),
                map.Target.Engine.Moves.Comparable($"\"dst\".{quote(v.TargetColumn!)}", map.Target.Types[keyCount + i])));
            Update = $"UPDATE {target} AS \"dst\" SET {string.Join(", ", map.Values.Select((v, i) => $"{quote(v.TargetColumn!)} = {MapSide.Value(i, "\"s\"")}"))} " +
                $"FROM {sourceRows} WHERE {isTarget} AND ({string.Join(" OR ", differs)})";
            var prior = CopyPriorImage.Table(map.Target.Engine).ToQuotedName();
            string Live(string column) => $"\"dbops_live\".{quote(column)}";
            var sameKey = string.Join(" AND ", map.Keys.Select(k => $"{Live(k.TargetColumn!)} = \"dbops_prior\".{quote(k.TargetColumn!)}"));
            var atRow = string.Join(" AND ", map.Keys.Select((k, i) => $"{Live(k.TargetColumn!)} = {MapSide.Key(i, "\"t\"")}")) + TargetBound("\"dbops_live\"");
            var asArchived = TableChecksum.StoredColumns(map.Target.Table).Select(c =>
                map.Target.Engine.Moves.Identical(Live(c.Name), $"\"dbops_prior\".{quote(c.Name)}"));
            Unarchived = $"{with} SELECT {string.Join(", ", keys.Select(k => "\"t\"." + k))} FROM \"s\" JOIN \"t\" ON {compare.Join} " +
                $"WHERE ({string.Join(" OR ", compare.Differs)}) AND NOT EXISTS (SELECT 1 FROM {target} AS \"dbops_live\" JOIN {prior} AS \"dbops_prior\" ON {sameKey} " +
                $"WHERE {atRow} AND {string.Join(" AND ", asArchived)}) ORDER BY {string.Join(", ", Enumerable.Range(1, keyCount))}";
        }
        Statements = [.. map.Source.Engine.Moves.BeginBatch(request.LockTimeout ?? CopyRequest.DefaultLockTimeout), Present,
            .. Update is null ? [] : new[] { map.Target.Engine.Moves.LockForOverwrite(target), Unarchived!, Update }.OfType<string>(), Insert, "COMMIT"];
    }

    /// <summary>The last key of the next batch of the given rows (after @p0..), or no row when fewer than that are left.</summary>
    public Func<int, string> NextBound { get; }

    /// <summary>The batch's source rows whose key is in the target: the key and one 1/0 flag per value that differs.</summary>
    public string Present { get; }

    /// <summary>The batch's source rows, as "s".</summary>
    public string SourceRows { get; }

    /// <summary>The keys the insert will copy (for samples).</summary>
    public string Missing { get; }

    /// <summary>Inserts the batch's source rows whose keys are not in the target.</summary>
    public string Insert { get; }

    /// <summary>
    /// Inserts every source row of the batch, for a batch that found none of its keys in the target; null where another
    /// session could add one meanwhile and nothing would refuse the duplicate (no unique key on the target's key columns).
    /// </summary>
    public string? InsertAll { get; }

    /// <summary>-OnConflict Update: overwrites the target rows whose values differ.</summary>
    public string? Update { get; }

    /// <summary>-OnConflict Update: the keys of rows the batch would overwrite that are not in the prior image as they are now.</summary>
    public string? Unarchived { get; }

    /// <summary>What one batch runs, in order.</summary>
    public IReadOnlyList<string> Statements { get; }
}
