namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's half of <see cref="ISchemaChangeDialect"/>.</summary>
internal sealed class PostgresSchemaChanges : ISchemaChangeDialect
{
    public static readonly PostgresSchemaChanges Instance = new();
}
