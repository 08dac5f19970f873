using System.Reflection;
using System.Text;

namespace DbOps.Core.Connections;

/// <summary>
/// How DbOps's own sessions and statements identify themselves, so statistics readers (Get-SlowQuery, the usage
/// verdicts, a DBA's pg_stat_activity) can tell them from the application's: every PostgreSQL connection and child
/// tool runs with application_name <c>DbOps/&lt;version&gt; &lt;operation&gt;</c>.
/// </summary>
public static class DbOpsTraffic
{
    /// <summary>What every DbOps application_name starts with.</summary>
    public const string ApplicationPrefix = "DbOps/";

    /// <summary>
    /// A comment leading the heavy statements DbOps runs over user tables (counts, checksums), which
    /// pg_stat_statements keeps with the statement text; Get-SlowQuery leaves such statements out.
    /// </summary>
    public const string Marker = "/* DbOps */ ";

    /// <summary>The module version, as stamped into the assembly.</summary>
    public static string Version { get; } = typeof(DbOpsTraffic).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?
        .InformationalVersion.Split('+')[0] ?? "0";

    // Flows with the async work of one cmdlet call only (not shared between runspaces or parallel calls).
    private static readonly AsyncLocal<string?> CurrentOperation = new();

    /// <summary>Names the operation (the cmdlet) for the connections opened from here on in this async flow.</summary>
    public static void SetOperation(string? operation) => CurrentOperation.Value = operation;

    /// <summary><c>DbOps/0.1.0 Find-UnusedTable</c>, cut to PostgreSQL's 63 bytes.</summary>
    public static string ApplicationName
    {
        get
        {
            var name = $"{ApplicationPrefix}{Version} {CurrentOperation.Value}".TrimEnd();
            while (Encoding.UTF8.GetByteCount(name) > 63)
            {
                name = name[..^1];
            }
            return name;
        }
    }
}
