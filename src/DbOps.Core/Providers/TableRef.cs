namespace DbOps.Core.Providers;

/// <summary>A table's schema and name, unquoted. SQLite tables live in schema "main".</summary>
public sealed record TableRef(string Schema, string Name)
{
    /// <summary>schema.name, or just name for SQLite's main schema.</summary>
    public override string ToString() => Schema == SqliteProvider.MainSchema ? Name : $"{Schema}.{Name}";

    /// <summary>"schema"."name" with quotes doubled: the form name resolution reads back exactly, whatever the names hold.</summary>
    public string ToQuotedName() => $"\"{Schema.Replace("\"", "\"\"", StringComparison.Ordinal)}\".\"{Name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
