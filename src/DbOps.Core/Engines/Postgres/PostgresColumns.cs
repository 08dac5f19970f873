namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's half of <see cref="IColumnDialect"/>.</summary>
internal sealed class PostgresColumns : IColumnDialect
{
    public static readonly PostgresColumns Instance = new();
}
