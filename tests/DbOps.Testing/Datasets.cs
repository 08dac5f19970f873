namespace DbOps.Testing;

/// <summary>The third-party sample databases in ../shared/datasets (Chinook, Pagila).</summary>
public static class Datasets
{
    public static string File(string dataset, string name)
    {
        var folder = Environment.GetEnvironmentVariable("DBOPS_DATASETS") ?? FindUp(Path.Combine("shared", "datasets"))
            ?? throw new InvalidOperationException("The sample datasets (shared/datasets) were not found above the test folder; set DBOPS_DATASETS.");
        return Path.Combine(folder, dataset, name);
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
