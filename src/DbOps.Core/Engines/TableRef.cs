namespace DbOps.Core.Engines;

/// <summary>A table's schema and name, unquoted. SQLite tables live in schema "main".</summary>
public sealed record TableRef(string Schema, string Name)
{
    /// <summary>schema.name, or just name for SQLite's main schema.</summary>
    public override string ToString() => Schema == SqliteEngine.MainSchema ? Name : $"{Schema}.{Name}";

    /// <summary>
    /// "schema"."name": the form SQL on both engines and name resolution read back exactly, whatever the names hold.
    /// </summary>
    public string ToQuotedName() => $"{QuoteIdentifier(Schema)}.{QuoteIdentifier(Name)}";

    /// <summary>An identifier in double quotes, inner quotes doubled (SQL standard; PostgreSQL and SQLite alike).</summary>
    public static string QuoteIdentifier(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
