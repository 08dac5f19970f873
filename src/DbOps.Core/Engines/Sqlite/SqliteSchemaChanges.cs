namespace DbOps.Core.Engines;

/// <summary>SQLite's half of <see cref="ISchemaChangeDialect"/>.</summary>
internal sealed class SqliteSchemaChanges : ISchemaChangeDialect
{
    public static readonly SqliteSchemaChanges Instance = new();
}
