namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's half of <see cref="IDatabaseLifecycle"/>.</summary>
internal sealed class PostgresDatabases : IDatabaseLifecycle
{
    public static readonly PostgresDatabases Instance = new();
}
