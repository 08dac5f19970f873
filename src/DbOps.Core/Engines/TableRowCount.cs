namespace DbOps.Core.Engines;

/// <summary>A table and its exact row count.</summary>
public sealed class TableRowCount
{
    /// <summary>Creates a count.</summary>
    public TableRowCount(string schema, string name, long rows)
    {
        Schema = schema;
        Name = name;
        Rows = rows;
    }

    /// <summary>The table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The table's name.</summary>
    public string Name { get; }

    /// <summary>The exact number of rows.</summary>
    public long Rows { get; }

    /// <summary>The table as schema.name (SQLite: name).</summary>
    public string Table => new TableRef(Schema, Name).ToString();

    /// <inheritdoc/>
    public override string ToString() => $"{Table}: {Rows}";
}
