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

    private static string? FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
