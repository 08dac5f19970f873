using System.Management.Automation;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace DbOps.PowerShell;

/// <summary>
/// Runs when the module is imported. PowerShell loads the module's assemblies but does not read its
/// deps.json, so nothing finds the native SQLite library under runtimes/&lt;rid&gt;/native: resolve it here.
/// The resolver is registered once per process and stays for the life of the process: the module's assembly
/// stays loaded after Remove-Module, and other runspaces (ForEach-Object -Parallel, runspace pools) still use it,
/// so a Remove-Module in one runspace must not take SQLite away from the others.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    private static int _registered;

    /// <inheritdoc/>
    public void OnImport()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            AssemblyLoadContext.Default.ResolvingUnmanagedDll += ResolveNative;
        }
    }

    private static IntPtr ResolveNative(Assembly requester, string name)
    {
        if (!name.Contains("e_sqlite3", StringComparison.Ordinal))
        {
            return IntPtr.Zero;
        }
        var folder = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!;
        var file = OperatingSystem.IsWindows() ? "e_sqlite3.dll" : OperatingSystem.IsMacOS() ? "libe_sqlite3.dylib" : "libe_sqlite3.so";
        foreach (var rid in CandidateRids())
        {
            var path = Path.Combine(folder, "runtimes", rid, "native", file);
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out var handle))
            {
                return handle;
            }
        }
        return IntPtr.Zero;
    }

    private static IEnumerable<string> CandidateRids()
    {
        var arch = RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();
        if (OperatingSystem.IsWindows())
        {
            yield return $"win-{arch}";
        }
        else if (OperatingSystem.IsMacOS())
        {
            yield return $"osx-{arch}";
        }
        else
        {
            // musl (Alpine) first when the runtime says so; glibc otherwise.
            if (RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal))
            {
                yield return $"linux-musl-{arch}";
            }
            yield return $"linux-{arch}";
        }
    }
}
