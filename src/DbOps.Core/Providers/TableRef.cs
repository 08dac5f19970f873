namespace DbOps.Core.Providers;

/// <summary>A table's schema and name, unquoted. SQLite tables live in schema "main".</summary>
public sealed record TableRef(string Schema, string Name)
{
    /// <summary>schema.name, or just name for SQLite's main schema.</summary>
    public override string ToString() => Schema == SqliteProvider.MainSchema ? Name : $"{Schema}.{Name}";
}
