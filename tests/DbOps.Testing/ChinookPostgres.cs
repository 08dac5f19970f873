namespace DbOps.Testing;

public static class ChinookPostgres
{
    /// <summary>
    /// Creates a database holding the Chinook sample for PostgreSQL. The script drops, creates and connects
    /// to a database named chinook itself (psql's \c); its statements after that line run here in a fresh database.
    /// </summary>
    public static string CreateChinook(this PostgresCluster cluster)
    {
        var name = cluster.CreateDatabase("chinook");
        var lines = File.ReadAllLines(Datasets.File("chinook", "Chinook_PostgreSql.sql"));
        var connect = Array.FindIndex(lines, l => l.TrimStart().StartsWith(@"\c ", StringComparison.Ordinal));
        if (connect < 0)
        {
            throw new InvalidOperationException(@"Chinook_PostgreSql.sql no longer has its '\c chinook' line; adapt ChinookPostgres.");
        }
        var script = Path.Combine(Path.GetTempPath(), $"chinook-{Guid.NewGuid():N}.sql");
        File.WriteAllLines(script, lines[(connect + 1)..]);
        try
        {
            cluster.RunScript(name, script);
        }
        finally
        {
            File.Delete(script);
        }
        return name;
    }
}
