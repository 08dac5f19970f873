namespace DbOps.Core.Engines;

/// <summary>SQLite's half of <see cref="IRowFixDialect"/>.</summary>
internal sealed class SqliteRowFixes : IRowFixDialect
{
    public static readonly SqliteRowFixes Instance = new();
}
