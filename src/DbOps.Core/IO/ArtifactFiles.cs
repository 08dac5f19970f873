using System.Security.Cryptography;
using System.Text.RegularExpressions;
using DbOps.Core.Errors;

namespace DbOps.Core.IO;

/// <summary>
/// How DbOps writes files that must be either complete or absent (invariant 4): each goes to a temporary
/// name in the destination folder, readable by its owner only (invariant 7), is flushed to disk, and is
/// renamed into place only when complete.
/// </summary>
internal static partial class ArtifactFiles
{
    private const int ENOSPC = 28;
    private const int EDQUOT = 122;
    internal const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyFolder = OwnerOnly | UnixFileMode.UserExecute;

    [GeneratedRegex(@"[^A-Za-z0-9_.-]+")]
    private static partial Regex UnsafeFileNameCharacters();

    /// <summary>
    /// <paramref name="text"/> made safe as a file name on every system: runs of other characters become "_",
    /// and leading or trailing dots go; <paramref name="fallback"/> when nothing is left.
    /// </summary>
    public static string SafeFileName(string text, string fallback)
    {
        var safe = UnsafeFileNameCharacters().Replace(text, "_").Trim('.');
        return safe.Length == 0 ? fallback : safe;
    }

    /// <summary>The stem artifacts of a database are named after: the SQLite file's name, or the PostgreSQL database's.</summary>
    public static string DatabaseStem(Connections.DbOpsConnection source) =>
        SafeFileName(Engines.DatabaseEngines.For(source).Inspection.DatabaseStem(source.Database), "database");

    /// <summary>True for a plain file name: not empty, no folder part, not "." or "..".</summary>
    public static bool IsPlainFileName(string name) =>
        name.Trim().Length > 0 && Path.GetFileName(name) == name && name is not ("." or "..");

    /// <summary>Creates the folder if needed and proves it can be written to.</summary>
    public static void EnsureWritableFolder(string folder)
    {
        try
        {
            if (!Directory.Exists(folder))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(folder);
                }
                else
                {
                    Directory.CreateDirectory(folder, OwnerOnlyFolder);
                }
            }
            var probe = Path.Combine(folder, $".dbops-write-test-{Guid.NewGuid():N}");
            using (CreateOwnerOnly(probe))
            {
            }
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DbOpsException(ErrorIds.DestinationNotWritable, ErrorKind.PermissionDenied,
                $"Cannot write to the folder '{folder}': {e.Message} Choose a folder you can write to, or fix its permissions.",
                folder, e);
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> (created owner-only when missing) as an exclusive lock held while the stream is open:
    /// FileShare.None is an exclusive lock (flock on Unix) that ends with the process, however it ends. A run that finds it
    /// held gets <paramref name="held"/>'s exception; one that cannot open it at all (a folder gone, no permission, a full
    /// disk) gets DestinationNotWritable, not a claim that another run holds it. The file stays when released: deleting it
    /// on close would let a run that opened it just before lock the deleted file while a third run locks a new one.
    /// </summary>
    public static FileStream Lock(string path, Func<IOException, Exception> held)
    {
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerOnly;
            }
            return new FileStream(path, options);
        }
        catch (IOException e) when (HeldByAnother(e))
        {
            throw held(e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DbOpsException(ErrorIds.DestinationNotWritable, ErrorKind.PermissionDenied,
                $"Cannot open the lock file '{path}': {e.Message} Check that its folder exists and can be written to, then run again. " +
                "Nothing was written.", path, e);
        }
    }

    /// <summary>
    /// The lock is taken: Windows reports a sharing or lock violation (HRESULT 0x80070020, 0x80070021); on Unix .NET gives
    /// flock's errno, EWOULDBLOCK (11 on Linux, 35 on macOS). A missing folder or a full disk is another error.
    /// </summary>
    private static bool HeldByAnother(IOException e) => e.GetType() == typeof(IOException) && (OperatingSystem.IsWindows()
        ? (e.HResult & 0xFFFF) is 32 or 33
        : e.HResult == (OperatingSystem.IsLinux() ? 11 : 35));

    /// <summary>
    /// A hidden temporary name beside <paramref name="finalPath"/>, on the same file system so rename is atomic.
    /// It carries the writer's process id, so a later run can tell an abandoned file from one being written.
    /// </summary>
    public static string TemporaryPathFor(string finalPath) =>
        Path.Combine(Path.GetDirectoryName(finalPath)!, $".{Path.GetFileName(finalPath)}.{Environment.ProcessId}-{Guid.NewGuid():N}.partial");

    /// <summary>
    /// Deletes temporary files (and SQLite journals beside them) left in <paramref name="folder"/> by writers
    /// that were killed: their process no longer exists. Returns the names removed.
    /// </summary>
    public static IReadOnlyList<string> RemoveAbandoned(string folder)
    {
        var removed = new List<string>();
        foreach (var path in Directory.EnumerateFiles(folder, ".*.partial*"))
        {
            var match = PartialName().Match(Path.GetFileName(path));
            if (match.Success && int.TryParse(match.Groups["pid"].Value, out var pid) && !ProcessExists(pid))
            {
                DeleteQuietly(path);
                removed.Add(Path.GetFileName(path));
            }
        }
        return removed;
    }

    /// <summary>True while a live writer holds a temporary file for <paramref name="finalPath"/> (call after <see cref="RemoveAbandoned"/>).</summary>
    public static bool IsBeingWritten(string finalPath) =>
        Directory.EnumerateFiles(Path.GetDirectoryName(finalPath)!, $".{Path.GetFileName(finalPath)}.*.partial").Any();

    [GeneratedRegex(@"^\..+\.(?<pid>\d+)-[0-9a-f]{32}\.partial(-journal|-wal|-shm)?$")]
    private static partial Regex PartialName();

    private static bool ProcessExists(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited && !IsZombie(pid);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// Linux: a killed process whose parent has not reaped it yet still has a /proc entry, but it runs nothing and
    /// holds no file: its temporary files are abandoned.
    /// </summary>
    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].TrimStart();
            return state.Length > 0 && state[0] is 'Z' or 'X';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>Creates (or truncates) a file that only its owner can read.</summary>
    public static FileStream CreateOwnerOnly(string path, int bufferSize = 4096)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create, Access = FileAccess.ReadWrite, Share = FileShare.Read, BufferSize = bufferSize,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }
        return new FileStream(path, options);
    }

    /// <summary>Forces a file's contents to disk, so a crash after the rename cannot leave it empty.</summary>
    public static void FlushToDisk(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Flushes and renames a finished temporary file into place; never overwrites.</summary>
    public static void Commit(string temporaryPath, string finalPath)
    {
        FlushToDisk(temporaryPath);
        File.Move(temporaryPath, finalPath, overwrite: false);
    }

    /// <summary>Writes a small text file (a manifest) atomically.</summary>
    public static void WriteAllTextAtomic(string finalPath, string text, bool overwrite)
    {
        var temporary = TemporaryPathFor(finalPath);
        try
        {
            using (var stream = CreateOwnerOnly(temporary))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(text);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            Publish(temporary, finalPath, overwrite);
        }
        catch (Exception e)
        {
            DeleteQuietly(temporary);
            throw IsDiskFull(e) ? DiskFull(Path.GetDirectoryName(finalPath)!, e) : e;
        }
    }

    /// <summary>
    /// Renames a finished temporary file to its final name. Without <paramref name="overwrite"/>, a final name that
    /// another run took meanwhile (two runs writing the same artifact) is DestinationExists, never overwritten.
    /// </summary>
    public static void Publish(string temporary, string finalPath, bool overwrite)
    {
        try
        {
            File.Move(temporary, finalPath, overwrite);
        }
        catch (IOException e) when (!overwrite && File.Exists(finalPath))
        {
            throw new DbOpsException(ErrorIds.DestinationExists, ErrorKind.AlreadyExists,
                $"'{finalPath}' was written by another run at the same time; this run's copy was not kept. Use the other one, " +
                "or choose another name or destination.", finalPath, e);
        }
    }

    /// <summary>
    /// Saves a file a user names (a snapshot, a usage baseline) atomically and owner-only; an existing file is replaced
    /// only with <paramref name="overwrite"/> (-Force). Returns the full path.
    /// </summary>
    /// <exception cref="DbOpsException">DestinationExists, DestinationNotWritable or InsufficientDiskSpace.</exception>
    public static string SaveUserFile(string path, string text, bool overwrite, string what)
    {
        var full = Path.GetFullPath(path);
        if (!overwrite && File.Exists(full))
        {
            throw new DbOpsException(ErrorIds.DestinationExists, ErrorKind.AlreadyExists,
                $"The {what} file '{full}' already exists. Choose another -Path, or pass -Force to replace it.", full);
        }
        var folder = Path.GetDirectoryName(full)!;
        EnsureWritableFolder(folder);
        try
        {
            WriteAllTextAtomic(full, text, overwrite);
        }
        catch (IOException e) when (IsDiskFull(e))
        {
            throw DiskFull(folder, e);
        }
        catch (IOException e) when (File.Exists(full))
        {
            // Another run saved the same path first (the rename refuses to replace it).
            throw new DbOpsException(ErrorIds.DestinationExists, ErrorKind.AlreadyExists,
                $"The {what} file '{full}' already exists. Choose another -Path, or pass -Force to replace it.", full, e);
        }
        return full;
    }

    public static void DeleteQuietly(string? path)
    {
        try
        {
            if (path is not null && File.Exists(path))
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the caller is already reporting the failure that matters.
        }
    }

    /// <summary>The SHA-256 of a file, as lower-case hex.</summary>
    public static Task<string> Sha256Async(string path, CancellationToken cancellationToken) => Task.Run(() =>
    {
        // Large synchronous reads hash a few percent faster than HashDataAsync's small ones (measured on 400 MB).
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[4 << 20];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            hash.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }, cancellationToken);

    /// <summary>True when an exception means the disk (or quota) is full.</summary>
    public static bool IsDiskFull(Exception e) =>
        e is IOException io && ((io.HResult & 0xFFFF) is ENOSPC or EDQUOT || io.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
                                || io.HResult == unchecked((int)0x80070070) /* Windows ERROR_DISK_FULL */);

    public static DbOpsException DiskFull(string folder, Exception? inner) =>
        new(ErrorIds.InsufficientDiskSpace, ErrorKind.ResourceUnavailable,
            $"The destination '{folder}' ran out of space; nothing was kept. Free space there or choose another -Destination.",
            folder, inner);
}
