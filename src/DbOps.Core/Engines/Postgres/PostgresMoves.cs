namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's half of <see cref="IMoveDialect"/>.</summary>
internal sealed class PostgresMoves : IMoveDialect
{
    public static readonly PostgresMoves Instance = new();
}
