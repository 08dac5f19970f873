namespace DbOps.Core.Engines;

/// <summary>SQLite's half of <see cref="IColumnDialect"/>.</summary>
internal sealed class SqliteColumns : IColumnDialect
{
    public static readonly SqliteColumns Instance = new();
}
