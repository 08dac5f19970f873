using System.Management.Automation;
using System.Runtime.Loader;

namespace DbOps.PowerShell;

/// <summary>
/// Runs when the module is imported, before PowerShell reads the cmdlet assembly (the manifest lists this assembly
/// in NestedModules, which load first): lets the cmdlets find DbOps.Core in the private
/// <see cref="DependencyLoadContext"/>, which also resolves the native SQLite library, and makes DbOps's types
/// usable by name in scripts (<c>$_ -is [DbOps.Core.Snapshots.SnapshotComparison]</c>), since PowerShell does not
/// look types up in a private load context. Once per process, for every runspace, and never undone: the module's
/// assemblies stay loaded after Remove-Module, and other runspaces (ForEach-Object -Parallel, runspace pools) may
/// still be using them.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    private static readonly Lazy<bool> Registered = new(Register);

    /// <inheritdoc/>
    public void OnImport() => _ = Registered.Value;

    private static bool Register()
    {
        AssemblyLoadContext.Default.Resolving += DependencyLoadContext.ResolveCore;
        // The documented way to give script a type by name (about_Classes: "Exporting classes with type accelerators").
        var accelerators = typeof(PSObject).Assembly.GetType("System.Management.Automation.TypeAccelerators")!;
        var add = accelerators.GetMethod("Add", [typeof(string), typeof(Type)])!;
        foreach (var type in DependencyLoadContext.Instance.Core.GetExportedTypes().Where(t => !t.IsGenericTypeDefinition))
        {
            add.Invoke(null, [type.FullName, type]);
        }
        return true;
    }
}
