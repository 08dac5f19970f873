using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Engines;

namespace DbOps.Core.Removal;

/// <summary>An archive that Remove-DeprecatedTable checked before taking the table lock.</summary>
/// <param name="Manifest">The sealed manifest.</param>
/// <param name="ManifestPath">Its full path.</param>
/// <param name="Files">Its files (manifest, data, schema) with the size and write time they had when checked.</param>
internal sealed record CheckedArchive(ArchiveManifest Manifest, string ManifestPath, IReadOnlyList<(string Path, long Length, DateTime WrittenAt)> Files)
{
    /// <summary>
    /// Reads the data file (under the table lock): the drop depends on the rows the file holds, not on what a manifest
    /// says about them, so a manifest re-sealed over an edited file cannot let a table go that its archive cannot restore.
    /// </summary>
    /// <exception cref="DbOpsException">ArchiveCorrupt.</exception>
    internal Task<TableContent> ReadDataAsync(CancellationToken cancellationToken) =>
        ArchiveVerification.ReadContentAsync(Manifest, Files[1].Path, cancellationToken);

    internal static IReadOnlyList<(string, long, DateTime)> Stamp(params string[] paths) =>
        paths.Select(p => new FileInfo(p)).Select(f => (f.FullName, f.Exists ? f.Length : -1, f.LastWriteTimeUtc)).ToList();

    /// <summary>
    /// Throws unless the files are still there as they were checked: another export with -Force into the same folder
    /// may have replaced or removed them while the table lock was awaited. (Cheap: no second hash under the lock.)
    /// </summary>
    internal void EnsureUnchanged(TableRef table)
    {
        if (!Stamp(Files.Select(f => f.Path).ToArray()).SequenceEqual(Files))
        {
            throw new DbOpsException(ErrorIds.ArchiveCorrupt, ErrorKind.InvalidData,
                $"The files of '{ManifestPath}' changed or disappeared while {table} was being removed; nothing was dropped. " +
                "Check the archive (Import-TableArchive into a scratch database, or Export-TableArchive -Verify again) and run again.", ManifestPath);
        }
    }

    /// <summary>
    /// The checks Remove-DeprecatedTable makes of an archive before the table lock is taken: the manifest is sealed,
    /// it archives <paramref name="table"/> of <paramref name="source"/> with the live table's stored columns, both
    /// files have the size it records (the schema file its SHA-256), and it is verified (loaded into a scratch table now
    /// if it was not). The data file's SHA-256 and rows, and whether they still match the live rows, are checked later,
    /// under the lock (<see cref="CheckedArchive.ReadDataAsync"/>).
    /// </summary>
    /// <exception cref="DbOpsException">ArchiveCorrupt or ArchiveMismatch (or the id of what stopped verification).</exception>
    internal static async Task<CheckedArchive> CheckAsync(string manifestPath, DbOpsConnection source, TableRef table,
        IReadOnlyList<string> liveColumns, IOperationObserver observer, CancellationToken cancellationToken, ArchiveScope scope = ArchiveScope.Table)
    {
        var (manifest, path, folder) = ArchiveManifest.Load(manifestPath);
        var sameDatabase = manifest.Provider == source.Provider
            && DatabaseEngines.For(source).Archive.SameDatabase(manifest.Database, source.Database)
            && (source.Server is null || manifest.Server is null || string.Equals(manifest.Server, source.Server, StringComparison.OrdinalIgnoreCase));
        if (!sameDatabase || manifest.TableRef != table)
        {
            throw new DbOpsException(ErrorIds.ArchiveMismatch, ErrorKind.InvalidArgument,
                $"'{path}' archives {manifest.TableRef} of {manifest.Provider} database {manifest.Database}" +
                $"{(manifest.Server is null ? "" : $" on {manifest.Server}")}, not {table} of {source}. Nothing was dropped; give the archive of this table.",
                path);
        }
        if ((manifest.Scope ?? ArchiveScope.Table) != scope)
        {
            throw new DbOpsException(ErrorIds.ArchiveMismatch, ErrorKind.InvalidArgument,
                $"'{path}' is a {manifest.Scope ?? ArchiveScope.Table} archive of {table}, not the {scope} archive this needs. Nothing was dropped; " +
                (scope == ArchiveScope.Table ? "archive the whole table with Export-TableArchive and give that archive." : "give the archive this step wrote."), path);
        }
        if (!manifest.ColumnNames.SequenceEqual(liveColumns))
        {
            throw new DbOpsException(ErrorIds.ArchiveMismatch, ErrorKind.InvalidState,
                $"'{path}' archives the columns ({string.Join(", ", manifest.ColumnNames)}) but {table} now has ({string.Join(", ", liveColumns)}). " +
                "The table changed after it was archived; nothing was dropped. Archive it again.", path);
        }
        var dataPath = Path.Combine(folder, manifest.Data.Name);
        var schemaPath = Path.Combine(folder, manifest.SchemaFile.Name);
        var files = CheckedArchive.Stamp(path, dataPath, schemaPath);
        // The data file's size here; its SHA-256 and the rows it holds under the lock, in one read beside the live rows.
        await ArchiveVerification.RequireIntactAsync(manifest, path, dataPath, schemaPath, cancellationToken);
        if (manifest.VerifiedAt is null)
        {
            observer.Verbose($"'{path}' was not verified when it was written: loading it into a scratch table now.");
            var check = await ArchiveVerification.LoadIntoScratchAsync(manifest, dataPath, schemaPath, source, observer, cancellationToken);
            if (!check.Verified)
            {
                var id = check.ErrorId is null or ErrorIds.ArchiveVerificationFailed ? ErrorIds.ArchiveCorrupt : check.ErrorId;
                throw new DbOpsException(id, ErrorKind.InvalidData,
                    $"'{path}' could not be verified, so {table} was not dropped: {check.Reason}", path);
            }
            observer.Verbose(check.Reason);
        }
        return new CheckedArchive(manifest, path, files);
    }
}
