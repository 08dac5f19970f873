using System.Diagnostics;

namespace DbOps.PowerShell.Tests;

/// <summary>
/// Runs a script as a user runs a runbook: <c>dotnet pwsh -NoProfile -NonInteractive -File script args</c> in its own
/// process (the PowerShell tool pinned in .config/dotnet-tools.json), with the built module's folder (out/) first on
/// PSModulePath, so the script finds DbOps by name as if it were installed. That process references no SQLite
/// package, so it also proves the module finds its native SQLite library in out/DbOps.
/// </summary>
internal static class PwshProcess
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string script, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(script, arguments))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"pwsh -File {script} did not finish within 3 minutes.");
        }
        return (process.ExitCode, PowerShellSession.StripAnsi(stdout.Result), PowerShellSession.StripAnsi(stderr.Result));
    }

    /// <summary>
    /// Kills <paramref name="runner"/> and every process under it, and returns once they are all gone. Waiting for the
    /// runner alone is not enough: <c>dotnet pwsh</c>'s child, the pwsh that ran DbOps, can outlive it by a moment, and a
    /// rerun that looks then finds its files still held by a live writer.
    /// </summary>
    public static void KillTree(Process runner)
    {
        var tree = Descendants(runner.Id);
        runner.Kill(entireProcessTree: true);
        runner.WaitForExit();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (tree.Any(Alive) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(20);
        }
    }

    /// <summary>The processes under <paramref name="pid"/> (Linux: from /proc; none elsewhere).</summary>
    private static List<int> Descendants(int pid)
    {
        var parents = new Dictionary<int, int>();
        foreach (var folder in Directory.Exists("/proc") ? Directory.EnumerateDirectories("/proc") : [])
        {
            if (int.TryParse(Path.GetFileName(folder), out var id) && Stat(id) is { } stat
                && int.TryParse(stat.Split(' ', 3)[1], out var parent))
            {
                parents[id] = parent;
            }
        }
        var found = new List<int>();
        for (var frontier = new List<int> { pid }; frontier.Count > 0;)
        {
            frontier = parents.Where(p => frontier.Contains(p.Value)).Select(p => p.Key).ToList();
            found.AddRange(frontier);
        }
        return found;
    }

    /// <summary>True while the process exists and is not a zombie (one killed and not yet reaped runs nothing).</summary>
    private static bool Alive(int pid) => Stat(pid) is { } stat && stat.Split(' ', 2)[0] is not ("Z" or "X");

    /// <summary>/proc/pid/stat after the command name: the state, then the parent id, ...; null when the process is gone.</summary>
    private static string? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            return text[(text.LastIndexOf(')') + 2)..];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The process for <paramref name="script"/>, started in the script's folder. Its standard input is redirected:
    /// close it. <c>dotnet pwsh</c> starts pwsh as a child process, so stop it with <see cref="KillTree"/>.
    /// </summary>
    public static ProcessStartInfo StartInfo(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            // dotnet finds the local tool manifest from its working directory; pwsh then changes to the script's folder.
            WorkingDirectory = Datasets.RepoRoot,
        };
        foreach (var argument in (string[])["pwsh", "-NoProfile", "-NonInteractive", "-WorkingDirectory", Path.GetDirectoryName(script)!, "-File", script, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }
        var modules = Path.GetDirectoryName(Path.GetDirectoryName(PowerShellSession.ModuleManifest))!;
        start.Environment["PSModulePath"] = modules + Path.PathSeparator + Environment.GetEnvironmentVariable("PSModulePath");
        // Plain text: assertions read the tables, not their colours.
        start.Environment["NO_COLOR"] = "1";
        return start;
    }
}

/// <summary>The names tests used while runbooks ran under the retired DbOps.Runner; new tests call <see cref="PwshProcess"/>.</summary>
internal static class RunnerTests
{
    public static (int ExitCode, string Stdout, string Stderr) RunRunner(string script, params string[] arguments) => PwshProcess.Run(script, arguments);

    public static ProcessStartInfo RunnerStartInfo(string script, params string[] arguments) => PwshProcess.StartInfo(script, arguments);
}
