using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Progress;

namespace DbOps.Core.Archive;

/// <summary>
/// What proves an archive: its files as the manifest records them, the rows the data file holds, and a load of it into a
/// scratch table.
/// </summary>
internal static class ArchiveVerification
{
    /// <summary>Loads the archive into a scratch database that is dropped afterwards; never throws for a failed check.</summary>
    internal static async Task<ArchiveCheck> LoadIntoScratchAsync(
        ArchiveManifest manifest, string dataPath, string schemaPath, DbOpsConnection source, IOperationObserver observer, CancellationToken cancellationToken)
    {
        try
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(dataPath))!;
            await using var scratch = await DatabaseEngines.For(source.Provider).Archive.OpenScratchAsync(source, folder, observer, cancellationToken);
            var content = (await ArchiveImport.ImportCoreAsync(manifest, dataPath, schemaPath, scratch.Session, manifest.TableRef, observer, quiet: true, cancellationToken)).Content;
            return new ArchiveCheck(true, null,
                $"Loaded into a scratch table: {content.Rows} rows, checksum {content.Checksum}, as the manifest records.");
        }
        catch (Exception e) when (Unfinished.IsFailure(e))
        {
            // A check that cannot run (a lost connection too) is a failed verification, never a lost archive.
            var error = Unfinished.Error(e, ErrorIds.ArchiveVerificationFailed, $"loading {manifest.TableRef} into a scratch table",
                "The archive is kept, not verified; verify it later (Import-TableArchive -TargetTable into a scratch database).", manifest.TableRef.ToString());
            return new ArchiveCheck(false, error.ErrorId, error.Message);
        }
    }

    /// <summary>
    /// Reads the archive's data file once, without a database: its size and SHA-256 must be the manifest's, and the
    /// rows it holds must have the manifest's count and content checksum. A manifest re-sealed over an edited data
    /// file passes every check of the manifest alone, but not this one.
    /// </summary>
    /// <exception cref="DbOpsException">ArchiveCorrupt.</exception>
    internal static async Task<TableContent> ReadContentAsync(ArchiveManifest manifest, string dataPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(dataPath))
        {
            throw ArchiveManifest.Corrupt(dataPath, "its data file is missing");
        }
        var checksum = new TableChecksum();
        await using var file = ArchiveDataFile.Open(manifest, dataPath);
        try
        {
            await ArchiveDataFile.ReadRowsAsync(manifest, file.Data, checksum.Add, cancellationToken, () => { });
        }
        catch (InvalidDataException e)
        {
            throw ArchiveManifest.Corrupt(dataPath, $"its data is damaged or truncated ({e.Message})", e);
        }
        await file.RequireAsRecordedAsync(cancellationToken);
        if (checksum.Content != new TableContent(manifest.RowCount, manifest.Checksum))
        {
            throw ArchiveManifest.Corrupt(dataPath,
                $"the data file holds {checksum.Rows} rows with checksum {checksum.Value}, the manifest records {manifest.RowCount} rows with {manifest.Checksum}");
        }
        return checksum.Content;
    }

    /// <summary>
    /// Null when the archive at <paramref name="manifestPath"/> holds exactly <paramref name="rows"/> rows of
    /// <paramref name="table"/> (with <paramref name="checksum"/>, when given), proved from its files; otherwise why not.
    /// Journal lines are only claims: a snapshot comparison accepts a drop as archived only when this says so. The archive
    /// must be of <paramref name="scope"/>: a column or rows archive never stands for a whole table.
    /// </summary>
    internal static async Task<string?> WhyNotHoldingAsync(string manifestPath, TableRef table, long rows, string? checksum, CancellationToken cancellationToken,
        ArchiveScope scope = ArchiveScope.Table)
    {
        try
        {
            var (manifest, path, folder) = ArchiveManifest.Load(manifestPath);
            if ((manifest.Scope ?? ArchiveScope.Table) != scope)
            {
                return $"'{path}' is a {manifest.Scope ?? ArchiveScope.Table} archive of {manifest.TableRef}, not a {scope} archive";
            }
            if (manifest.TableRef != table || manifest.RowCount != rows || (checksum is not null && manifest.Checksum != checksum))
            {
                return $"'{path}' archives {manifest.RowCount} rows of {manifest.TableRef}, not those {rows} rows of {table}";
            }
            var dataPath = Path.Combine(folder, manifest.Data.Name);
            await RequireIntactAsync(manifest, path, dataPath, Path.Combine(folder, manifest.SchemaFile.Name), cancellationToken);
            await ReadContentAsync(manifest, dataPath, cancellationToken);
            return null;
        }
        catch (DbOpsException e) when (e.ErrorId != ErrorIds.OperationCanceled)
        {
            return e.Message;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"'{manifestPath}' cannot be read ({e.Message})";
        }
    }

    /// <summary>
    /// Both files must be there with the size the manifest records, the schema file with its SHA-256 too. The data
    /// file's SHA-256 is checked by whatever reads it next (an import while loading, a removal under the lock).
    /// </summary>
    internal static async Task RequireIntactAsync(ArchiveManifest manifest, string manifestPath, string dataPath, string schemaPath,
        CancellationToken cancellationToken)
    {
        foreach (var (path, expected) in new[] { (dataPath, manifest.Data), (schemaPath, manifest.SchemaFile) })
        {
            if (!File.Exists(path))
            {
                throw ArchiveManifest.Corrupt(manifestPath, $"its file '{path}' is missing");
            }
            var size = new FileInfo(path).Length;
            // The data file's SHA-256 is checked while it loads (one read instead of two); its size here.
            if (size != expected.SizeBytes || (path == schemaPath && await ArtifactFiles.Sha256Async(path, cancellationToken) != expected.Sha256))
            {
                throw ArchiveManifest.Corrupt(manifestPath,
                    $"its file '{path}' differs from what the manifest records ({size} bytes, manifest says {expected.SizeBytes}; SHA-256 differs); " +
                    "it is damaged, truncated or was replaced");
            }
        }
    }
}
