using System.ComponentModel;
using DbOps.Testing;

namespace DbOps.Bench;

/// <summary>The test rig's throw-away PostgreSQL cluster, for benchmarks that skip PostgreSQL when it cannot start.</summary>
internal static class BenchCluster
{
    /// <summary>A started cluster, or null (the reason printed) when the server binaries are missing or it cannot start.</summary>
    public static PostgresCluster? TryStart()
    {
        try
        {
            return new PostgresCluster();
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or IOException)
        {
            Console.WriteLine($"PostgreSQL skipped: {e.Message}");
            return null;
        }
    }
}
