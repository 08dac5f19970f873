using System.Globalization;
using System.Text.RegularExpressions;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Tools;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>A located client program and its major version.</summary>
internal sealed record PostgresTool(string Path, int MajorVersion, string VersionText);

/// <summary>
/// Finds pg_dump and pg_restore. They must be at least as new as the server: an older pg_dump refuses to
/// dump a newer server. Looks at -ToolPath, then the server's versioned bin folders, then PATH.
/// </summary>
internal static partial class PostgresClientTools
{
    [GeneratedRegex(@"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")]
    private static partial Regex VersionPattern();

    public static async Task<PostgresTool> LocateAsync(string tool, int serverMajor, string? toolPath, CancellationToken cancellationToken)
    {
        var fileName = OperatingSystem.IsWindows() ? tool + ".exe" : tool;
        var candidates = toolPath is null ? SearchOrder(fileName, serverMajor).Distinct().ToList() : [Explicit(toolPath, fileName)];

        PostgresTool? tooOld = null;
        foreach (var candidate in candidates.Where(File.Exists))
        {
            var found = await ReadVersionAsync(candidate, cancellationToken);
            if (found is null)
            {
                continue;
            }
            if (found.MajorVersion >= serverMajor)
            {
                return found;
            }
            tooOld ??= found;
        }

        var install = $"Install the PostgreSQL {serverMajor} client tools (Debian/Ubuntu: apt-get install postgresql-client-{serverMajor}; " +
                      $"RHEL: dnf install postgresql{serverMajor}; Windows/macOS: the EDB or Homebrew package), or pass -ToolPath.";
        if (tooOld is not null)
        {
            throw new DbOpsException(ErrorIds.ToolVersionTooOld, ErrorKind.NotFound,
                $"{tool} at '{tooOld.Path}' is version {tooOld.MajorVersion}, older than the server (PostgreSQL {serverMajor}); " +
                $"it cannot read that server's catalog. {install}", tooOld.Path);
        }
        var where = toolPath is not null ? $"at '{toolPath}'" : $"on PATH or in the PostgreSQL {serverMajor} bin folders";
        throw new DbOpsException(ErrorIds.ToolNotFound, ErrorKind.NotFound, $"{tool} was not found {where}. {install}", tool);
    }

    /// <summary>-ToolPath names a folder, or one program: then its siblings (pg_restore beside pg_dump) are used too.</summary>
    private static string Explicit(string toolPath, string fileName) =>
        Directory.Exists(toolPath) ? Path.Combine(toolPath, fileName)
        : Path.GetFileName(toolPath).Equals(fileName, StringComparison.OrdinalIgnoreCase) ? toolPath
        : Path.Combine(Path.GetDirectoryName(toolPath) ?? ".", fileName);

    private static IEnumerable<string> SearchOrder(string fileName, int serverMajor)
    {
        foreach (var folder in VersionedFolders(serverMajor))
        {
            yield return Path.Combine(folder, fileName);
        }
        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            yield return Path.Combine(folder, fileName);
        }
        // Any newer installed version also works.
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            foreach (var folder in Directory.GetDirectories("/usr/lib/postgresql").OrderDescending())
            {
                yield return Path.Combine(folder, "bin", fileName);
            }
        }
    }

    private static IEnumerable<string> VersionedFolders(int major)
    {
        yield return $"/usr/lib/postgresql/{major}/bin";                 // Debian, Ubuntu
        yield return $"/usr/pgsql-{major}/bin";                          // RHEL, Fedora (PGDG)
        yield return $"/opt/homebrew/opt/postgresql@{major}/bin";        // macOS, Apple silicon
        yield return $"/usr/local/opt/postgresql@{major}/bin";           // macOS, Intel
        var programFiles = Environment.GetFolderPath(Environment.SpecialFolder.ProgramFiles);
        if (programFiles.Length > 0)
        {
            yield return Path.Combine(programFiles, "PostgreSQL", major.ToString(CultureInfo.InvariantCulture), "bin");
        }
    }

    private static async Task<PostgresTool?> ReadVersionAsync(string path, CancellationToken cancellationToken)
    {
        var output = new System.Text.StringBuilder();
        try
        {
            var run = await ExternalTool.RunAsync(path, ["--version"], new Dictionary<string, string?>(),
                async (stdout, ct) => output.Append(await new StreamReader(stdout).ReadToEndAsync(ct)), null, cancellationToken);
            return run.ExitCode == 0 && ToolMajorVersion(output.ToString()) is { } major
                ? new PostgresTool(path, major, output.ToString().Trim())
                : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // not executable
        }
    }

    private static readonly string[] OverridingVariables =
        ["PGSERVICE", "PGSERVICEFILE", "PGHOSTADDR", "PGOPTIONS", "PGTARGETSESSIONATTRS", "PGLOADBALANCEHOSTS", "PGSYSCONFDIR"];

    /// <summary>
    /// The libpq environment that points a client tool at <paramref name="connection"/>: the password goes
    /// here, never on the command line.
    /// </summary>
    public static Dictionary<string, string?> EnvironmentFor(DbOpsConnection connection, string? database = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(connection.ConnectionString);
        var environment = new Dictionary<string, string?>
        {
            ["PGHOST"] = builder.Host,
            ["PGPORT"] = builder.Port.ToString(CultureInfo.InvariantCulture),
            ["PGUSER"] = builder.Username,
            ["PGDATABASE"] = database ?? builder.Database,
            ["PGPASSWORD"] = connection.Password,
            ["PGCONNECT_TIMEOUT"] = builder.Timeout.ToString(CultureInfo.InvariantCulture),
            ["PGAPPNAME"] = DbOpsTraffic.ApplicationName,
            ["PGSSLMODE"] = builder.SslMode switch
            {
                SslMode.Disable => "disable",
                SslMode.Allow => "allow",
                SslMode.Require => "require",
                SslMode.VerifyCA => "verify-ca",
                SslMode.VerifyFull => "verify-full",
                _ => "prefer",
            },
        };
        if (builder.Passfile is { Length: > 0 } passfile)
        {
            environment["PGPASSFILE"] = passfile;
        }
        // libpq lets these override or add to the variables above (a service file can name another database),
        // while Npgsql, which made the connection, ignores them: the tool must reach exactly what was verified.
        foreach (var variable in OverridingVariables)
        {
            environment[variable] = null;
        }
        return environment;
    }

    /// <summary>The major version in a "--version" line such as "pg_dump (PostgreSQL) 15.18", or null.</summary>
    public static int? ToolMajorVersion(string versionText) =>
        VersionPattern().Match(versionText) is { Success: true } match ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    /// <summary>The server's major version, e.g. 15 for "15.18 (Debian 15.18-0+deb12u1)".</summary>
    public static int MajorVersion(string serverVersion) =>
        int.Parse(Regex.Match(serverVersion, @"^\d+").Value, CultureInfo.InvariantCulture);
}
