using DbOps.Core.Tools;

namespace DbOps.Core.Documentation;

/// <summary>Renders DOT with Graphviz's <c>dot</c> program, when it is installed.</summary>
internal static class Graphviz
{
    private static readonly string ProgramName = OperatingSystem.IsWindows() ? "dot.exe" : "dot";

    /// <summary>The dot program: <paramref name="dotPath"/> (the program or its folder), else the first on PATH; null when none.</summary>
    public static string? Locate(string? dotPath)
    {
        if (dotPath is not null)
        {
            var candidate = Directory.Exists(dotPath) ? Path.Combine(dotPath, ProgramName) : dotPath;
            return File.Exists(candidate) ? Path.GetFullPath(candidate) : null;
        }
        return (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, ProgramName))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>Runs <c>dot -Tsvg</c>; returns null on success, else dot's exit code and message.</summary>
    public static async Task<string?> RenderSvgAsync(string dot, string dotFile, string svgFile, CancellationToken cancellationToken)
    {
        var run = await ExternalTool.RunAsync(dot, ["-Tsvg", "-o", svgFile, dotFile], new Dictionary<string, string?>(), null, null, cancellationToken);
        return run.ExitCode == 0 ? null : $"dot exited with {run.ExitCode}: {run.ErrorTail.Trim()}";
    }
}
