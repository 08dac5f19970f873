namespace DbOps.Core.Engines;

/// <summary>SQLite's half of <see cref="IDatabaseLifecycle"/>.</summary>
internal sealed class SqliteDatabases : IDatabaseLifecycle
{
    public static readonly SqliteDatabases Instance = new();
}
