namespace DbOps.Testing;

/// <summary>The third-party sample databases the repository carries in tests/data (Chinook, Pagila).</summary>
public static class Datasets
{
    /// <summary>Set to use a folder of the same layout instead of tests/data.</summary>
    public const string Variable = "DBOPS_DATASETS";

    public static string File(string dataset, string name)
    {
        var folder = Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } other ? other : Path.Combine(RepoRoot, "tests", "data");
        var path = Path.Combine(folder, dataset, name);
        return System.IO.File.Exists(path) ? path : throw new FileNotFoundException($"The sample dataset file {path} is missing; restore tests/data from git or unset {Variable}.", path);
    }

    /// <summary>The repository's root folder (the one holding DbOps.sln).</summary>
    public static string RepoRoot =>
        FindUp("DbOps.sln") is { } sln ? Path.GetDirectoryName(sln)! : throw new InvalidOperationException("DbOps.sln was not found above the test folder.");

    /// <summary>A file of the repository's examples folder, e.g. goals-tracker.sql.</summary>
    public static string Example(string name) => Path.Combine(RepoRoot, "examples", name);

    private static string? FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (Directory.Exists(candidate) || System.IO.File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
