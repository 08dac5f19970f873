namespace DbOps.Testing;

/// <summary>
/// Keeps test runs out of the user's own operations journal: every test process (and the pwsh processes it
/// starts) records into one throw-away file unless DBOPS_JOURNAL is already set.
/// </summary>
public static class TestJournal
{
    public const string Variable = "DBOPS_JOURNAL";

    public static void Isolate()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable)))
        {
            var path = Path.Combine(Path.GetTempPath(), $"dbops-test-journal-{Environment.ProcessId}-{Guid.NewGuid():N}.jsonl");
            Environment.SetEnvironmentVariable(Variable, path);
        }
    }
}
