using Xunit;
using System.Diagnostics;

namespace DbOps.Testing;

/// <summary>A folder deleted at the end of a test.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dbops-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// A real, tiny file system (tmpfs) for disk-full tests: writing past its size fails with ENOSPC as a full disk
/// does. Mounting needs root (as in CI): tests that use it are <see cref="RootFactAttribute"/> tests.
/// </summary>
public sealed class SmallDisk : IDisposable
{
    public SmallDisk(int sizeKiB)
    {
        if (!PostgresCluster.IsRoot)
        {
            throw new InvalidOperationException("The disk-full tests mount a small tmpfs and must run as root; mark them [RootFact].");
        }
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dbops-full-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
        Run("mount", "-t", "tmpfs", "-o", $"size={sizeKiB}k,mode=1777", "tmpfs", Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        Directory.Delete(Path);
    }

    internal static void Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {error}");
        }
    }
}

/// <summary>
/// A read-only view of a folder: a read-only bind mount, where every write fails with EROFS, for root too (root
/// ignores file modes, so a file's mode alone cannot stop a test run as root). Needs root: use it in
/// <see cref="RootFactAttribute"/> tests.
/// </summary>
public sealed class ReadOnlyMount : IDisposable
{
    public ReadOnlyMount(string folder)
    {
        if (!PostgresCluster.IsRoot)
        {
            throw new InvalidOperationException("A read-only bind mount needs root; mark the test [RootFact].");
        }
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dbops-ro-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
        SmallDisk.Run("mount", "--bind", folder, Path);
        try
        {
            // A bind mount takes the source's flags; read-only needs a second, remounting step.
            SmallDisk.Run("mount", "-o", "remount,bind,ro", Path);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        SmallDisk.Run("umount", "-l", Path);
        Directory.Delete(Path);
    }
}

/// <summary>
/// A test that needs root because it mounts a file system (a <see cref="SmallDisk"/> or a <see cref="ReadOnlyMount"/>). Run as a normal user it is skipped with a
/// reason that says so; CI runs as root and runs it.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!PostgresCluster.IsRoot)
        {
            Skip = "Needs root: mounts a file system (a small tmpfs, a read-only bind mount). Skipped because the tests run as a normal user; run them as root (CI does) to include it.";
        }
    }
}
