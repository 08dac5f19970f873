using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Diagnostics;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.RowFixes;

namespace DbOps.Core.Moves;

/// <summary>
/// What Copy-TableData -OnConflict Update overwrites, kept as row fixes keep it: before the first batch, a verified rows
/// archive of exactly the target rows the copy will overwrite (their key is in the source and a mapped value differs).
/// Each batch checks under its transaction that the rows it overwrites are still as archived and, before it commits,
/// folds what it did at the archived keys of its own rows into the record beside the archive of what the copy left
/// (<see cref="RowFixAfterImage"/>), so Import-TableArchive -Mode Upsert puts the old values back over exactly that. A
/// write another session makes to a row once its batch committed is not what the copy left, so the undo refuses it.
/// <para>One archive up front, not one per batch: one prior image and one undo line for the whole copy. A copy that is
/// killed leaves its archive with a record that is not finished; the same copy run again finds the archive by its
/// condition and goes on with it and its record. Archiving afresh would archive a second time the rows whose batches
/// never ran, and a new archive could not see the old values of the rows the committed batches overwrote: the first one
/// alone holds them. One run at a time (<see cref="LockRun"/>): two would go on with one archive, or one remove the
/// other's.</para>
/// </summary>
internal sealed class CopyPriorImage
{
    private CopyPriorImage(ArchiveManifest manifest, string manifestPath, bool resumed, ResolvedMap map, RowFixAfterImage record)
    {
        Manifest = manifest;
        ManifestPath = manifestPath;
        Resumed = resumed;
        _map = map;
        _record = record;
    }

    private readonly ResolvedMap _map;

    /// <summary>What the copy left at the archived keys, as far as its batches got (written beside the archive before each COMMIT).</summary>
    private RowFixAfterImage _record;

    public ArchiveManifest Manifest { get; }

    /// <summary>The archive's .manifest.json.</summary>
    public string ManifestPath { get; }

    /// <summary>True when it was written by an earlier run of the same copy that did not finish.</summary>
    public bool Resumed { get; }

    /// <summary>The temporary table a batch checks the rows it overwrites against (the one row fixes load their prior image into).</summary>
    public static TableRef Table(IDatabaseEngine engine) => engine.RowFixes.PriorImageTable;

    /// <summary>
    /// The target rows the copy would overwrite, as a condition on the target table named in full (as a rows archive reads
    /// it): the UPDATE's own test, a source row with the key whose mapped values differ.
    /// </summary>
    public static string Condition(ResolvedMap map)
    {
        var target = map.Target.Table!.Table.ToQuotedName();
        var quote = map.Target.Engine.QuoteIdentifier;
        const string source = "\"dbops_source\"";
        var sameKey = map.Keys.Select((k, i) => $"{target}.{quote(k.TargetColumn!)} = {MapSide.Key(i, source)}");
        var differs = map.Values.Select((v, i) => map.Source.Engine.Moves.Differs(map.Source.ComparableValue(i, source),
            map.Target.Engine.Moves.Comparable($"{target}.{quote(v.TargetColumn!)}", map.Target.Types[map.Keys.Count + i])));
        return $"EXISTS (SELECT 1 FROM ({map.Source.Select()}) AS {source} WHERE {string.Join(" AND ", sameKey)} AND ({string.Join(" OR ", differs)}))";
    }

    /// <summary>How many target rows the copy would overwrite now.</summary>
    public static async Task<long> CountAsync(ResolvedMap map, DbConnection connection, CancellationToken cancellationToken) =>
        (await MoveSql.ReadAsync(connection, null, $"SELECT count(*) FROM {map.Target.Table!.Table.ToQuotedName()} WHERE {Condition(map)}", null,
            r => Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), cancellationToken)).Single();

    /// <summary>
    /// The prior image of an unfinished run of this copy, or else a new verified archive of the <paramref name="overwrites"/>
    /// rows the copy would overwrite; null when there are none.
    /// </summary>
    public static async Task<CopyPriorImage?> PrepareAsync(CopyRequest request, ResolvedMap map, long overwrites, IOperationObserver observer,
        CancellationToken cancellationToken)
    {
        var source = request.Map.Source;
        var target = map.Target.Table!.Table;
        var root = Root(request);
        var condition = Condition(map);
        if (Unfinished(root, request, map, condition) is { } earlier)
        {
            observer.Verbose($"Going on with the prior image '{earlier.ManifestPath}' of the same copy, which did not finish.");
            return earlier;
        }
        if (overwrites == 0)
        {
            return null;
        }
        var folder = Path.Combine(root, $"{ArchiveExport.BaseName(target)}.copy-{DateTimeOffset.UtcNow:yyyyMMdd'T'HHmmssfff'Z'}");
        var archive = await ArchiveService.ExportAsync(new ArchiveExportRequest(source, target.ToQuotedName(), folder, Verify: true,
            JournalPath: request.JournalPath, Selection: new ArchiveSelection(ArchiveScope.Rows, map.Target.KeyColumns, condition)), observer, cancellationToken);
        if (!archive.Verified)
        {
            throw new DbOpsException(archive.VerifyErrorId ?? ErrorIds.ArchiveVerificationFailed, ErrorKind.InvalidData,
                $"The archive of the {target} rows the copy would overwrite could not be verified ({archive.VerifyReason}); nothing was copied. " +
                $"It is kept in '{folder}'.", archive.ManifestPath);
        }
        var (manifest, manifestPath, _) = ArchiveManifest.Load(archive.ManifestPath);
        return new CopyPriorImage(manifest, manifestPath, resumed: false, map, Started(manifest, request));
    }

    /// <summary>The record before any batch: the archived keys hold the prior image.</summary>
    private static RowFixAfterImage Started(ArchiveManifest manifest, CopyRequest request) => new(RowFixAction.Update, manifest.RowCount, manifest.Checksum)
    {
        Batches = new RowFixBatches(request.BatchSize ?? BatchSizer.Start, Count: 0, Done: 0, RecordRequest, Before: null),
        Finished = false,
    };

    /// <summary>What a copy's record names as its request (a row fix's is a fingerprint of its statement).</summary>
    private const string RecordRequest = "Copy-TableData";

    private static string Root(CopyRequest request) => Path.GetFullPath(request.PriorImageFolder ?? DefaultFolder(request.JournalPath));

    /// <summary>
    /// Takes the lock of the copies into this target (in this database, with prior images under this root), held until the
    /// returned stream is disposed at the end of the copy: it is taken before an unfinished prior image is looked for, so
    /// two runs of one copy never go on with the same prior image, nor does one remove the other's.
    /// </summary>
    /// <exception cref="DbOpsException">CopyRunning, when another run holds it; nothing was written.</exception>
    public static FileStream LockRun(CopyRequest request, ResolvedMap map)
    {
        var root = Root(request);
        ArtifactFiles.EnsureWritableFolder(root);
        var target = map.Target.Table!.Table;
        var path = LockPath(root, request.Map.Source, target);
        return ArtifactFiles.Lock(path, e => new DbOpsException(ErrorIds.CopyRunning, ErrorKind.ResourceUnavailable,
            $"Another run is copying into {target} with -OnConflict Update ('{path}' is held). Wait for it to finish, or stop it, then run " +
            "this copy again. Nothing was written.", target.ToString(), e));
    }

    /// <summary>The run lock's file: the target's name, and a hash of the database, since one folder may serve several.</summary>
    internal static string LockPath(string root, DbOpsConnection source, TableRef target)
    {
        var database = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", source.Provider, source.Server, source.Database)));
        return Path.Combine(root, $"{ArchiveExport.BaseName(target)}.copy-{Convert.ToHexStringLower(database)[..8]}.lock");
    }

    /// <summary>Where prior images go when no folder is given: beside the journal that names them.</summary>
    public static string DefaultFolder(string? journalPath) =>
        Path.Combine(Path.GetDirectoryName(OperationsJournal.Open(journalPath).Path)!, "prior-images");

    /// <summary>
    /// The newest verified prior image of this copy (same database, target and condition) whose record of what the copy left
    /// is not finished, or absent (a run killed before its first batch). A finished record, or one that cannot be read,
    /// is never gone on with.
    /// </summary>
    private static CopyPriorImage? Unfinished(string root, CopyRequest request, ResolvedMap map, string condition)
    {
        if (!Directory.Exists(root))
        {
            return null;
        }
        var source = request.Map.Source;
        var target = map.Target.Table!.Table;
        var baseName = ArchiveExport.BaseName(target);
        var found = new List<CopyPriorImage>();
        foreach (var folder in Directory.EnumerateDirectories(root).Where(f => Path.GetFileName(f).StartsWith(baseName + ".copy-", StringComparison.Ordinal)))
        {
            var path = ArchiveManifest.PathFor(folder, baseName);
            var record = RowFixAfterImage.Read(path);
            if (!File.Exists(path) || (File.Exists(RowFixAfterImage.PathFor(path)) && record is not { Finished: false, Batches: not null }))
            {
                continue;
            }
            try
            {
                var (manifest, manifestPath, _) = ArchiveManifest.Load(path);
                if (manifest is { Scope: ArchiveScope.Rows, VerifiedAt: not null } && manifest.Where == condition && manifest.TableRef == target
                    && manifest.Provider == source.Provider && manifest.Database == source.Database && manifest.Server == source.Server)
                {
                    found.Add(new CopyPriorImage(manifest, manifestPath, resumed: true, map, record ?? Started(manifest, request)));
                }
            }
            catch (DbOpsException)
            {
                // Not a readable manifest: not a prior image this copy can go on with.
            }
        }
        return found.MaxBy(f => f.Manifest.CreatedAt);
    }

    /// <summary>
    /// Loads the archived rows into the session's prior-image table (proving the data file's count and checksum on the way)
    /// for the batches to check against, indexed by key, with the table each batch lists its archived keys in; then gives
    /// the session its own settings back for the copy's statements. A prior image gone on with has its record settled.
    /// </summary>
    public async Task LoadAsync(IDatabaseEngine engine, WritableSession session, CancellationToken cancellationToken)
    {
        var connection = session.Connection;
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await RowFixService.LoadPriorImageAsync(engine, session, transaction, Manifest, Path.Combine(Path.GetDirectoryName(ManifestPath)!, Manifest.Data.Name),
                Manifest.TableRef, cancellationToken);
            var keys = string.Join(", ", Manifest.Key!.Select(engine.QuoteIdentifier));
            foreach (var sql in engine.RowFixes.IndexPriorImageSql(Manifest.Key!).Append(
                         $"CREATE TEMP TABLE {engine.QuoteIdentifier(BatchKeys(engine).Name)} AS SELECT {keys} FROM {Table(engine).ToQuotedName()} WHERE 1 = 0"))
            {
                await MoveSql.ExecuteAsync(connection, transaction, sql, null, cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        await LeaveCanonicalTextAsync(engine, connection, cancellationToken);
        if (Resumed)
        {
            await SettleAsync(engine, connection, cancellationToken);
        }
    }

    /// <summary>
    /// The record of a prior image gone on with, against what the archived keys hold now. An earlier run killed between
    /// writing its record and its COMMIT counts a batch that never committed: the keys still hold what was there before it
    /// (<see cref="RowFixBatches.Before"/>), so the record goes back to that and the batch is done again. Keys holding the
    /// prior image again (its undo ran) start the record afresh. Anything else that differs is a write by someone else
    /// since, and the copy refuses (ArchiveStale) before writing, as a batch refuses a row changed since its archive.
    /// </summary>
    private async Task SettleAsync(IDatabaseEngine engine, DbConnection connection, CancellationToken cancellationToken)
    {
        var now = await ChecksumAsync(engine, connection, new RowConditions(engine, _map.Target.Table!, Manifest.Key!).MatchesPrior(Table(engine)), cancellationToken);
        if (now == _record.Content)
        {
            return;
        }
        if (_record.Batches is { Before: { } before } batches && now == before)
        {
            _record = _record with { Rows = before.Rows, Checksum = before.Checksum, Batches = batches with { Done = batches.Done - 1, Before = null } };
            return;
        }
        if (now == new TableContent(Manifest.RowCount, Manifest.Checksum))
        {
            // The prior image is back (its undo ran): nothing the earlier run did is left, so this run's record starts afresh.
            _record = _record with { Rows = now.Rows, Checksum = now.Checksum, Batches = _record.Batches! with { Done = 0, Before = null } };
            return;
        }
        // Someone else wrote those rows since: going on would overwrite more rows under an undo that is sure to refuse.
        var changed = $"Nothing was written: the rows of {_map.Target.Name} at the keys the prior image '{ManifestPath}' archived changed since the " +
                      $"earlier run of this copy ({now.Rows} rows with checksum {now.Checksum}, not the {_record.Rows} with {_record.Checksum} it left)";
        if (_record.Batches is { Done: 0 })
        {
            Discard();
            throw new DbOpsException(ErrorIds.ArchiveStale, ErrorKind.InvalidState,
                $"{changed}. That run overwrote none of them, so its archive was removed: run the copy again to archive the rows as they are now.", _map.Target.Name);
        }
        throw new DbOpsException(ErrorIds.ArchiveStale, ErrorKind.InvalidState,
            $"{changed}. That archive stays: it alone holds the values the earlier run overwrote. Make the rows what it left again, or move the " +
            "archive's folder elsewhere (keeping it) so the copy archives the rows afresh; Compare-TableData shows what differs now.", _map.Target.Name);
    }

    /// <summary>
    /// A batch's overwrite, under its lock and before its COMMIT: runs <paramref name="overwrite"/> (the UPDATE) between two
    /// checksums of the archived keys among the batch's source rows, folds the difference into the record of what the copy
    /// left (sums of disjoint rows add, so the record is the prior image with each batch's part replaced by what that batch
    /// left), and writes the record. A later write to those rows by another session is then not what the copy left, and
    /// the undo refuses it. A run killed after the write and before the COMMIT is settled by the next (<see cref="SettleAsync"/>),
    /// and the undo accepts either (<see cref="RowFixAfterImage.Left"/>).
    /// </summary>
    /// <returns>What <paramref name="overwrite"/> returned: the rows it updated.</returns>
    public async Task<int> OverwriteAsync(IDatabaseEngine engine, DbConnection connection, BatchSql batch, object[] bounds, Func<Task<int>> overwrite,
        CancellationToken cancellationToken)
    {
        var quote = engine.QuoteIdentifier;
        var keyColumns = _map.Keys.Select(k => k.TargetColumn!).ToList();
        var batchKeys = BatchKeys(engine).ToQuotedName();
        const string prior = "\"dbops_prior\"";
        var match = string.Join(" AND ", keyColumns.Select((k, i) => $"{prior}.{quote(k)} = {MapSide.Key(i, "\"s\"")}"));
        await MoveSql.ExecuteAsync(connection, null, $"DELETE FROM {batchKeys}", null, cancellationToken);
        await MoveSql.ExecuteAsync(connection, null, $"INSERT INTO {batchKeys} ({string.Join(", ", keyColumns.Select(quote))}) " +
            $"SELECT {string.Join(", ", keyColumns.Select(k => $"{prior}.{quote(k)}"))} FROM {batch.SourceRows} JOIN {Table(engine).ToQuotedName()} AS {prior} ON {match}",
            bounds, cancellationToken);

        // The archived keys of this batch, and the range of the first key column they span, so the target is read through its
        // key's index; only where that column sorts alike everywhere (the keys' table loses a COLLATE NOCASE on SQLite).
        var target = new RowConditions(engine, _map.Target.Table!, keyColumns);
        var first = quote(keyColumns[0]);
        var range = !engine.Moves.OrdersAlike(_map.Target.Types[0], _map.Target.Types[0]) ? ""
            : $"{target.Column(keyColumns[0])} >= (SELECT {first} FROM {batchKeys} ORDER BY {first} LIMIT 1) " +
              $"AND {target.Column(keyColumns[0])} <= (SELECT {first} FROM {batchKeys} ORDER BY {first} DESC LIMIT 1) AND ";
        var inBatch = range + $"EXISTS (SELECT 1 FROM {batchKeys} AS \"dbops_k\" WHERE {string.Join(" AND ", keyColumns.Select(k => $"\"dbops_k\".{quote(k)} = {target.Column(k)}"))})";
        var before = await ChecksumAsync(engine, connection, inBatch, cancellationToken);
        var updated = await overwrite();
        var after = await ChecksumAsync(engine, connection, inBatch, cancellationToken);
        _record = _record.AfterBatch(before, after);
        RowFixAfterImage.Write(ManifestPath, _record);
        FaultPoint.Reach(FaultPoint.CopyAfterImageWritten);
        return updated;
    }

    /// <summary>
    /// Once the last batch has committed: the record says the copy finished, so no later run goes on with this prior image,
    /// and its content alone is what the undo puts the prior image back over.
    /// </summary>
    public void Finish()
    {
        _record = _record with { Finished = true, Batches = _record.Batches! with { Before = null } };
        RowFixAfterImage.Write(ManifestPath, _record);
    }

    /// <summary>The target rows <paramref name="where"/> chooses, counted and checksummed as the archive's rows were; the copy's own settings back after.</summary>
    private async Task<TableContent> ChecksumAsync(IDatabaseEngine engine, DbConnection connection, string where, CancellationToken cancellationToken)
    {
        var content = await TableChecksum.ComputeAsync(engine, connection, null, Manifest.TableRef, Manifest.ColumnNames, cancellationToken, where);
        await LeaveCanonicalTextAsync(engine, connection, cancellationToken);
        return content;
    }

    /// <summary>The checksum reads values under fixed output settings; the copy's expressions must see the session's own.</summary>
    private static async Task LeaveCanonicalTextAsync(IDatabaseEngine engine, DbConnection connection, CancellationToken cancellationToken)
    {
        if (engine.Moves.LeaveCanonicalTextSql is { } reset)
        {
            await MoveSql.ExecuteAsync(connection, null, reset, null, cancellationToken);
        }
    }

    /// <summary>The temporary table a batch lists its archived keys in, beside the prior-image table.</summary>
    private static TableRef BatchKeys(IDatabaseEngine engine) => new(Table(engine).Schema, "dbops_copy_batch_keys");

    /// <summary>True once <see cref="Discard"/> removed it.</summary>
    public bool Discarded { get; private set; }

    /// <summary>Removes the archive's folder: for a prior image no batch has overwritten rows with, which nothing needs.</summary>
    public void Discard()
    {
        Directory.Delete(Path.GetDirectoryName(ManifestPath)!, recursive: true);
        Discarded = true;
    }

    /// <summary>Import-TableArchive -Mode Upsert of the prior image: the overwritten rows' old values back.</summary>
    public string Undo(DbOpsConnection source) => RowFixService.Undo(source, ManifestPath);
}
