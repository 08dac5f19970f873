namespace DbOps.Core.Engines;

/// <summary>SQLite's half of <see cref="IMoveDialect"/>.</summary>
internal sealed class SqliteMoves : IMoveDialect
{
    public static readonly SqliteMoves Instance = new();
}
