using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace DbOps.PowerShell;

/// <summary>
/// The private load context for everything in the module's Dependencies/ folder: DbOps.Core and what it uses
/// (Npgsql, Microsoft.Data.Sqlite, SQLitePCLRaw, Dapper, System.IO.Hashing, Microsoft.Extensions.*) and the native
/// e_sqlite3 under Dependencies/runtimes/&lt;rid&gt;/native. Another module's Npgsql or SQLite in the same session
/// lives in the default context and never meets these, in either load order. The cmdlet assembly stays in the
/// default context and reaches this one only through DbOps.Core (see <see cref="ResolveCore"/>).
/// </summary>
internal sealed class DependencyLoadContext : AssemblyLoadContext
{
    private const string CoreAssemblyName = "DbOps.Core";

    private readonly string _folder;

    private DependencyLoadContext(string folder)
        : base("DbOps", isCollectible: false) => _folder = folder;

    /// <summary>One per process: every runspace that imports the module shares it, and it is never unloaded.</summary>
    public static DependencyLoadContext Instance { get; } =
        new(Path.Combine(Path.GetDirectoryName(typeof(DependencyLoadContext).Assembly.Location)!, "Dependencies"));

    /// <summary>DbOps.Core, loaded here.</summary>
    public Assembly Core => LoadFromAssemblyName(new AssemblyName(CoreAssemblyName));

    /// <summary>
    /// The default context's resolver for the one assembly the cmdlets reference from Dependencies/. It answers
    /// nothing else, so it cannot hand this module's Npgsql to anyone.
    /// </summary>
    public static Assembly? ResolveCore(AssemblyLoadContext context, AssemblyName name) =>
        name.Name == CoreAssemblyName ? Instance.Core : null;

    /// <summary>A managed dependency from Dependencies/; anything else (the framework, PowerShell) from the default context.</summary>
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        var path = Path.Combine(_folder, assemblyName.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }

    /// <summary>
    /// The native SQLite build for this platform. Asked first for every P/Invoke made from this context, so it does
    /// not depend on an event that Remove-Module in another runspace could unregister.
    /// </summary>
    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        if (!unmanagedDllName.Contains("e_sqlite3", StringComparison.Ordinal))
        {
            return IntPtr.Zero;
        }
        var file = OperatingSystem.IsWindows() ? "e_sqlite3.dll" : OperatingSystem.IsMacOS() ? "libe_sqlite3.dylib" : "libe_sqlite3.so";
        foreach (var rid in CandidateRids())
        {
            var path = Path.Combine(_folder, "runtimes", rid, "native", file);
            if (File.Exists(path))
            {
                return LoadUnmanagedDllFromPath(path);
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
