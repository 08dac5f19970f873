using System.Runtime.CompilerServices;

namespace DbOps.Core.Tests;

internal static class JournalIsolation
{
#pragma warning disable CA2255 // A test assembly is the one place this belongs: it runs before any test.
    [ModuleInitializer]
    internal static void Isolate() => DbOps.Testing.TestJournal.Isolate();
#pragma warning restore CA2255
}
