namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's half of <see cref="IRowFixDialect"/>.</summary>
internal sealed class PostgresRowFixes : IRowFixDialect
{
    public static readonly PostgresRowFixes Instance = new();
}
