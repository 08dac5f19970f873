using System.Data.Common;
using System.Globalization;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.RowFixes;

namespace DbOps.Core.Moves;

/// <summary>
/// What Copy-TableData -OnConflict Update overwrites, kept as row fixes keep it: before the first batch, a verified rows
/// archive of exactly the target rows the copy will overwrite (their key is in the source and a mapped value differs).
/// Each batch checks under its transaction that the rows it overwrites are still as archived; once every batch has
/// committed, what the copy left at the archived keys is written beside the archive, so Import-TableArchive -Mode Upsert
/// puts the old values back over exactly that.
/// <para>One archive up front, not one per batch: one prior image and one undo line for the whole copy. A copy that is
/// killed leaves its archive without that record of what it left; the same copy run again finds the archive by its
/// condition and goes on with it. Archiving afresh would archive a second time the rows whose batches never ran, and a
/// new archive could not see the old values of the rows the committed batches overwrote: the first one alone holds them.</para>
/// </summary>
internal sealed class CopyPriorImage
{
    private CopyPriorImage(ArchiveManifest manifest, string manifestPath, bool resumed)
    {
        Manifest = manifest;
        ManifestPath = manifestPath;
        Resumed = resumed;
    }

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
        var root = Path.GetFullPath(request.PriorImageFolder ?? DefaultFolder(request.JournalPath));
        var condition = Condition(map);
        if (Unfinished(root, source, target, condition) is { } earlier)
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
        return new CopyPriorImage(manifest, manifestPath, resumed: false);
    }

    /// <summary>Where prior images go when no folder is given: beside the journal that names them.</summary>
    public static string DefaultFolder(string? journalPath) =>
        Path.Combine(Path.GetDirectoryName(OperationsJournal.Open(journalPath).Path)!, "prior-images");

    /// <summary>The newest verified prior image of this copy (same database, target and condition) with no record of what the copy left.</summary>
    private static CopyPriorImage? Unfinished(string root, DbOpsConnection source, TableRef target, string condition)
    {
        if (!Directory.Exists(root))
        {
            return null;
        }
        var baseName = ArchiveExport.BaseName(target);
        var found = new List<CopyPriorImage>();
        foreach (var folder in Directory.EnumerateDirectories(root).Where(f => Path.GetFileName(f).StartsWith(baseName + ".copy-", StringComparison.Ordinal)))
        {
            var path = ArchiveManifest.PathFor(folder, baseName);
            if (!File.Exists(path) || File.Exists(RowFixAfterImage.PathFor(path)))
            {
                continue;
            }
            try
            {
                var (manifest, manifestPath, _) = ArchiveManifest.Load(path);
                if (manifest is { Scope: ArchiveScope.Rows, VerifiedAt: not null } && manifest.Where == condition && manifest.TableRef == target
                    && manifest.Provider == source.Provider && manifest.Database == source.Database && manifest.Server == source.Server)
                {
                    found.Add(new CopyPriorImage(manifest, manifestPath, resumed: true));
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
    /// for the batches to check against, then gives the session its own settings back for the copy's statements.
    /// </summary>
    public async Task LoadAsync(IDatabaseEngine engine, WritableSession session, CancellationToken cancellationToken)
    {
        await using (var transaction = await session.Connection.BeginTransactionAsync(cancellationToken))
        {
            await RowFixService.LoadPriorImageAsync(engine, session, transaction, Manifest, Path.Combine(Path.GetDirectoryName(ManifestPath)!, Manifest.Data.Name),
                Manifest.TableRef, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        if (engine.Moves.LeaveCanonicalTextSql is { } reset)
        {
            await MoveSql.ExecuteAsync(session.Connection, null, reset, null, cancellationToken);
        }
    }

    /// <summary>
    /// Once every batch has committed: what the target holds at the archived keys, written beside the archive. An undo
    /// puts the prior image back only over exactly that, and its presence marks the copy finished. (Batches commit one
    /// by one, so this is read after the last: a write to those rows in between counts as what the copy left.)
    /// </summary>
    public async Task RecordAfterImageAsync(IDatabaseEngine engine, DbConnection connection, ResolvedMap map, CancellationToken cancellationToken)
    {
        var atArchivedKeys = new RowConditions(engine, map.Target.Table!, Manifest.Key!).MatchesPrior(Table(engine));
        var after = await TableChecksum.ComputeAsync(engine, connection, null, Manifest.TableRef, Manifest.ColumnNames, cancellationToken, atArchivedKeys);
        RowFixAfterImage.Write(ManifestPath, RowFixAction.Update, after);
    }

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
