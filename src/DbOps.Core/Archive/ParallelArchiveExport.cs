using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using DbOps.Core.Diagnostics;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Progress;

namespace DbOps.Core.Archive;

/// <summary>
/// Export-TableArchive -Parallel (issue 22): the table is cut into ranges (<see cref="IArchiveDialect.PlanParallelReadAsync"/>),
/// and N connections that all joined the export's one snapshot write each range to a part file, computing its row count,
/// checksum and SHA-256 as it is written. The parts are then joined, in range order, into the one data file every reader
/// already knows, so the manifest, Import-TableArchive, Test-TableArchive and Remove-DeprecatedTable are unchanged; the
/// whole table's checksum is the sum of the parts' (<see cref="TableChecksum.Add(TableContent)"/>).
/// <para>The parts live in a hidden work folder beside the archive, with a progress file naming each finished part's
/// count, checksum and SHA-256. A rerun after an interruption keeps a finished part only when its file still has its
/// SHA-256 and its range's rows, read again in the new run's snapshot, still have its count and checksum: then the part
/// holds exactly that range's rows at the new moment, and the archive, like one read, is the table at one moment. A
/// part that fails either check is exported again. The re-read saves writing and hashing the part, not reading its rows;
/// a weaker rule (trusting parts from an earlier moment) would seal an archive of no moment at all.</para>
/// </summary>
internal sealed class ParallelArchiveExport : IDisposable
{
    /// <summary>Ranges per connection: a range is the unit of resuming, and small ranges keep connections busy to the end.</summary>
    internal const int RangesPerConnection = 4;

    private const string ProgressFile = "progress.json";
    private const string LockFile = "lock";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    private readonly ArchiveExportRequest _request;
    private readonly IDatabaseEngine _engine;
    private readonly TableRef _table;
    private readonly IReadOnlyList<string> _names;
    private readonly string _work;
    private readonly string _snapshotId;
    private readonly FileStream _lock;
    private readonly Progress _progress;
    private readonly IOperationObserver _observer;
    private int _nextRange = -1;
    private long _rowsDone;
    private int _kept;

    private ParallelArchiveExport(ArchiveExportRequest request, IDatabaseEngine engine, TableRef table, IReadOnlyList<string> names, string work,
        string snapshotId, FileStream lockFile, Progress progress, IOperationObserver observer)
    {
        (_request, _engine, _table, _names, _work, _snapshotId, _lock, _progress, _observer) =
            (request, engine, table, names, work, snapshotId, lockFile, progress, observer);
    }

    /// <summary>The hidden folder holding the parts of an export of <paramref name="dataName"/> into <paramref name="folder"/>.</summary>
    internal static string WorkFolder(string folder, string dataName) => Path.Combine(folder, $".{dataName}.parts");

    /// <summary>
    /// Plans the parallel read in the coordinating <paramref name="snapshot"/>, and takes over the parts a killed or failed
    /// run left; null (after a warning) when the table is read over one connection after all.
    /// </summary>
    public static async Task<ParallelArchiveExport?> StartAsync(ArchiveExportRequest request, IDatabaseEngine engine, DbConnection connection,
        DbTransaction snapshot, TableRef table, IReadOnlyList<ArchiveColumn> columns, string folder, string dataName, IOperationObserver observer,
        CancellationToken cancellationToken)
    {
        if (request.Parallel <= 1)
        {
            return null;
        }
        var plan = await engine.Archive.PlanParallelReadAsync(request.Source, connection, snapshot, table, request.Parallel * RangesPerConnection, cancellationToken);
        if (plan.WhyNot is not null || plan.SnapshotId is null)
        {
            observer.Warning($"{table} is read over one connection, not {request.Parallel}: {plan.WhyNot}.");
            return null;
        }
        var work = WorkFolder(folder, dataName);
        ArtifactFiles.EnsureWritableFolder(work);
        var lockFile = Lock(work, table);
        try
        {
            var source = request.Source;
            var identity = string.Join("\n", source.Provider, source.Server, source.Database, table, request.Format, request.Compress, string.Join(", ", columns));
            var progress = Resume(work, identity, observer) ?? new Progress(identity, plan.SplitPoints, new Dictionary<int, Part>());
            // Only the progress file, the lock and finished parts stay: the rest are parts of a run that stopped writing them.
            var keep = progress.Finished.Keys.Select(PartName).Append(ProgressFile).Append(LockFile).ToHashSet(StringComparer.Ordinal);
            foreach (var leftover in Directory.EnumerateFiles(work).Where(f => !keep.Contains(Path.GetFileName(f))))
            {
                ArtifactFiles.DeleteQuietly(leftover);
            }
            observer.Verbose($"Reading {table} in {progress.SplitPoints.Count + 1} ranges over {request.Parallel} connections, all in snapshot {plan.SnapshotId}" +
                             (progress.Finished.Count > 0 ? $"; {progress.Finished.Count} ranges were finished by an earlier run." : "."));
            return new ParallelArchiveExport(request, engine, table, columns.Select(c => c.Name).ToList(), work, plan.SnapshotId, lockFile, progress, observer);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Exports the ranges not kept from an earlier run over the connections, joins all parts in range order into
    /// <paramref name="dataPath"/>, adds them to <paramref name="checksum"/>, and returns the data file's SHA-256.
    /// </summary>
    public async Task<string> WriteDataAsync(string dataPath, TableChecksum checksum, Action<long> rowsDone, CancellationToken cancellationToken)
    {
        var ranges = _progress.SplitPoints.Count + 1;
        using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            Exception? cause = null;
            async Task Worker()
            {
                try
                {
                    await WorkAsync(rowsDone, stop.Token);
                }
                catch (Exception e)
                {
                    // The first failure is the cause; it ends the export, and the others stop with what their cancellation gives.
                    Interlocked.CompareExchange(ref cause, e, null);
                    await stop.CancelAsync();
                    throw;
                }
            }
            var workers = Enumerable.Range(0, Math.Min(_request.Parallel, ranges)).Select(_ => Task.Run(Worker, CancellationToken.None)).ToList();
            try
            {
                await Task.WhenAll(workers);
            }
            catch when (cause is not null)
            {
                ExceptionDispatchInfo.Throw(cause);
            }
        }
        if (_kept > 0)
        {
            _observer.Verbose($"Kept {_kept} of {ranges} ranges from the earlier run: their rows are unchanged in this snapshot.");
        }

        // The one data file every reader knows: the parts, in range order, hashed on their way into it.
        var clock = Stopwatch.StartNew();
        string sha;
        long bytes;
        await using (var file = ArtifactFiles.CreateOwnerOnly(dataPath, bufferSize: 0))
        {
            await using (var hashed = new HashingStream(file, leaveOpen: true))
            {
                for (var range = 0; range < ranges; range++)
                {
                    await using var part = new FileStream(PartPath(range), FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
                    await part.CopyToAsync(hashed, 1 << 20, cancellationToken);
                    var finished = _progress.Finished[range];
                    checksum.Add(new TableContent(finished.Rows, finished.Checksum));
                }
                (sha, bytes) = (hashed.Sha256(), hashed.BytesSeen);
            }
            file.Flush(flushToDisk: true);
        }
        _observer.Verbose($"Joined {ranges} parts ({bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes) into one data file in " +
                          $"{clock.Elapsed.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)} s.");
        return sha;
    }

    /// <summary>The archive is published: its parts are no longer needed.</summary>
    public void Complete()
    {
        _lock.Dispose();
        RemoveWorkFolder();
    }

    private void RemoveWorkFolder()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _observer.Warning($"The parts of the archive of {_table} could not be removed from '{_work}': {e.Message}");
        }
    }

    /// <summary>Releases the work folder; after a failure its finished parts stay for the next run.</summary>
    public void Dispose()
    {
        _lock.Dispose();
        if (!Directory.Exists(_work))
        {
            return;
        }
        if (_progress.Finished.Count > 0)
        {
            _observer.Verbose($"Kept {_progress.Finished.Count} finished ranges of {_table} in '{_work}' for the next export to resume from.");
        }
        else
        {
            RemoveWorkFolder(); // nothing to resume from
        }
    }

    /// <summary>One connection: joins the snapshot, then takes ranges in order until none is left.</summary>
    private async Task WorkAsync(Action<long> rowsDone, CancellationToken cancellationToken)
    {
        var dialect = _engine.Archive;
        await using var session = await _engine.OpenReadOnlyAsync(_request.Source, cancellationToken);
        var connection = session.Connection;
        await using var transaction = await dialect.JoinSnapshotAsync(connection, _snapshotId, cancellationToken);
        await dialect.UseCanonicalTextAsync(connection, cancellationToken);
        int range;
        while ((range = Interlocked.Increment(ref _nextRange)) <= _progress.SplitPoints.Count)
        {
            var where = dialect.RangeCondition(range == 0 ? null : _progress.SplitPoints[range - 1],
                                               range == _progress.SplitPoints.Count ? null : _progress.SplitPoints[range]);
            if (await StillHoldsAsync(range, connection, transaction, where, cancellationToken))
            {
                Interlocked.Increment(ref _kept);
                lock (_progress)
                {
                    rowsDone(_rowsDone += _progress.Finished[range].Rows);
                }
                continue;
            }
            var path = PartPath(range);
            var temporary = ArtifactFiles.TemporaryPathFor(path);
            var checksum = new TableChecksum();
            var seen = 0L;
            void Done(long rows)
            {
                lock (_progress)
                {
                    _rowsDone += rows - seen;
                    seen = rows;
                    rowsDone(_rowsDone);
                }
            }
            Part part;
            try
            {
                await using (var file = ArtifactFiles.CreateOwnerOnly(temporary, bufferSize: 0))
                {
                    await using (var hashed = new HashingStream(file, leaveOpen: true))
                    {
                        await ArchiveExport.WriteRowsAsync(_request, dialect, connection, transaction, _table, _names, where, hashed, checksum, Done, cancellationToken);
                        part = new Part(checksum.Rows, checksum.Value, hashed.BytesSeen, hashed.Sha256());
                    }
                    file.Flush(flushToDisk: true);
                }
                File.Move(temporary, path, overwrite: true);
            }
            catch
            {
                ArtifactFiles.DeleteQuietly(temporary);
                throw;
            }
            Done(checksum.Rows);
            Finish(range, part);
            _observer.Verbose($"Range {range + 1} of {_progress.SplitPoints.Count + 1} of {_table} written: {part.Rows} rows.");
            FaultPoint.Reach(FaultPoint.ArchiveRangeFinished);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// True when an earlier run finished <paramref name="range"/> and its part can stand for the range in this snapshot: the
    /// file is the one it wrote (size and SHA-256), and the range's rows read now have the count and checksum it recorded.
    /// </summary>
    private async Task<bool> StillHoldsAsync(int range, DbConnection connection, DbTransaction transaction, string where, CancellationToken cancellationToken)
    {
        Part? part;
        lock (_progress)
        {
            _progress.Finished.TryGetValue(range, out part);
        }
        var path = PartPath(range);
        if (part is null || !File.Exists(path) || new FileInfo(path).Length != part.SizeBytes
            || await ArtifactFiles.Sha256Async(path, cancellationToken) != part.Sha256)
        {
            return false;
        }
        var now = await TableChecksum.ComputeAsync(_engine, connection, transaction, _table, _names, cancellationToken, where);
        if (now == new TableContent(part.Rows, part.Checksum))
        {
            return true;
        }
        _observer.Verbose($"Range {range + 1} of {_table} changed since the earlier run finished it; it is exported again.");
        return false;
    }

    /// <summary>Records a finished part, in the progress file first: a run killed right after keeps it.</summary>
    private void Finish(int range, Part part)
    {
        lock (_progress)
        {
            _progress.Finished[range] = part;
            ArtifactFiles.WriteAllTextAtomic(Path.Combine(_work, ProgressFile), JsonSerializer.Serialize(_progress, Json), overwrite: true);
        }
    }

    private string PartPath(int range) => Path.Combine(_work, PartName(range));

    private static string PartName(int range) => $"part-{range + 1:D4}";

    /// <summary>The earlier run's progress when it exported the same table, columns and format from the same database; else null.</summary>
    private static Progress? Resume(string work, string identity, IOperationObserver observer)
    {
        var path = Path.Combine(work, ProgressFile);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            var progress = JsonSerializer.Deserialize<Progress>(File.ReadAllText(path), Json);
            var valid = progress is { Finished: not null, SplitPoints: not null } && progress.Identity == identity
                        && progress.SplitPoints.All(p => p > 0) && progress.SplitPoints.Zip(progress.SplitPoints.Skip(1)).All(p => p.First < p.Second)
                        && progress.Finished.Keys.All(k => k >= 0 && k <= progress.SplitPoints.Count);
            if (valid)
            {
                return progress;
            }
        }
        catch (JsonException)
        {
            // A damaged progress file: the export starts over.
        }
        observer.Verbose($"The parts in '{work}' belong to another export (another table, column list or format); it starts over.");
        return null;
    }

    /// <summary>Takes the work folder for this run: two exports of one table into one folder would write the same parts.</summary>
    private static FileStream Lock(string work, TableRef table)
    {
        try
        {
            // FileShare.None is an exclusive lock (flock on Unix) that ends with the process, however it ends.
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = ArtifactFiles.OwnerOnly;
            }
            return new FileStream(Path.Combine(work, LockFile), options);
        }
        catch (IOException e)
        {
            throw new DbOpsException(ErrorIds.ArchiveExportRunning, ErrorKind.ResourceUnavailable,
                $"Another export of {table} into this folder is running ('{work}' is in use). Wait for it to finish, or choose another -Destination.",
                work, e);
        }
    }

    /// <summary>What the progress file holds: the export it belongs to, its ranges, and the parts finished so far.</summary>
    private sealed record Progress(string Identity, IReadOnlyList<long> SplitPoints, Dictionary<int, Part> Finished);

    /// <summary>A finished part: its rows' count and checksum, and its file's size and SHA-256.</summary>
    private sealed record Part(long Rows, string Checksum, long SizeBytes, string Sha256);
}
