using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Engines;

namespace DbOps.Core.Schema;

/// <summary>Where a parent-child relationship comes from.</summary>
public enum RelationshipSource
{
    /// <summary>A foreign key declared in the catalog.</summary>
    Declared,
    /// <summary>Inferred from column naming (<c>customer_id</c> → <c>customer.customer_id</c> or <c>customers.id</c>).</summary>
    Inferred,
    /// <summary>Given by the caller.</summary>
    Specified,
}

/// <summary>A child table's columns that refer to a parent table's key.</summary>
/// <param name="Child">The referencing table.</param>
/// <param name="ChildColumns">Referencing columns in order.</param>
/// <param name="Parent">The referenced table.</param>
/// <param name="ParentColumns">Referenced columns, matched by position.</param>
/// <param name="Source">Declared, inferred or specified.</param>
/// <param name="ConstraintName">The foreign key's name when declared.</param>
public sealed record Relationship(
    TableRef Child, IReadOnlyList<string> ChildColumns, TableRef Parent, IReadOnlyList<string> ParentColumns,
    RelationshipSource Source, string? ConstraintName)
{
    /// <summary><c>child(cols) -> parent(cols)</c>.</summary>
    public override string ToString() =>
        $"{Child}({string.Join(", ", ChildColumns)}) -> {Parent}({string.Join(", ", ParentColumns)})";
}

/// <summary>
/// The relationships of a schema: declared foreign keys, and those a legacy schema only implies through
/// its column names. Every command that reasons about relationships (integrity checks, missing indexes,
/// documentation) uses these rules, so they agree with one another.
/// </summary>
internal static class RelationshipInference
{
    private static readonly string[] IdSuffixes = ["_id", "Id", "ID"];

    /// <summary>Every declared foreign key as a relationship.</summary>
    public static IReadOnlyList<Relationship> Declared(DatabaseSchema schema) =>
        schema.Tables.SelectMany(t => t.ForeignKeys)
            .Select(fk => new Relationship(fk.Table, fk.Columns, fk.ReferencedTable, fk.ReferencedColumns, RelationshipSource.Declared, fk.Name))
            .ToList();

    /// <summary>
    /// Relationships implied by naming, for single columns that no declared foreign key covers: a column
    /// <c>stem_id</c> (or <c>stemId</c>) refers to a table named <c>stem</c> or its plural whose key column
    /// is <c>stem_id</c> (the same name) or <c>id</c>. The parent column must be a primary or unique key
    /// and of a compatible type, so a coincidental name does not make a relationship.
    /// </summary>
    public static IReadOnlyList<Relationship> Infer(DatabaseSchema schema)
    {
        var declared = schema.Tables.SelectMany(t => t.ForeignKeys)
            .Where(fk => fk.Columns.Count == 1)
            .Select(fk => (fk.Table, Column: fk.Columns[0].ToLowerInvariant()))
            .ToHashSet();
        var inferred = new List<Relationship>();
        foreach (var child in schema.Tables)
        {
            foreach (var column in child.Columns)
            {
                if (Stem(column.Name) is not { } stem || declared.Contains((child.Table, column.Name.ToLowerInvariant())))
                {
                    continue;
                }
                if (FindParent(schema, child, column, stem) is { } parent)
                {
                    inferred.Add(new Relationship(child.Table, [column.Name], parent.Table.Table, [parent.Column.Name], RelationshipSource.Inferred, null));
                }
            }
        }
        return inferred;
    }

    /// <summary>Declared relationships followed by inferred ones.</summary>
    public static IReadOnlyList<Relationship> All(DatabaseSchema schema) => [.. Declared(schema), .. Infer(schema)];

    /// <summary>
    /// Parses a caller's relationship: <paramref name="child"/> as <c>table.column</c>, <c>schema.table.column</c>,
    /// <c>table.col1,col2</c> or <c>table(col1, col2)</c>, and <paramref name="parent"/> the same way.
    /// </summary>
    /// <exception cref="DbOpsException">
    /// <see cref="ErrorIds.InvalidRelationship"/> for malformed text or mismatched column counts;
    /// <see cref="ErrorIds.TableNotFound"/> or <see cref="ErrorIds.ColumnNotFound"/> for unknown names.
    /// </exception>
    public static Relationship ParseSpecified(DatabaseSchema schema, string child, string parent)
    {
        var (childTable, childColumns) = ParseEnd(schema, child);
        var (parentTable, parentColumns) = ParseEnd(schema, parent);
        if (childColumns.Count != parentColumns.Count)
        {
            throw Invalid($"'{child}' = '{parent}' pairs {childColumns.Count} column(s) with {parentColumns.Count}; give the same number on both sides.");
        }
        return new Relationship(childTable, childColumns, parentTable, parentColumns, RelationshipSource.Specified, null);
    }

    private static (TableRef Table, IReadOnlyList<string> Columns) ParseEnd(DatabaseSchema schema, string text)
    {
        text = text.Trim();
        string tablePart, columnPart;
        if (text.EndsWith(')') && text.IndexOf('(') is var open and > 0)
        {
            tablePart = text[..open];
            columnPart = text[(open + 1)..^1];
        }
        else if (text.LastIndexOf('.') is var dot and > 0 && dot < text.Length - 1)
        {
            // The columns follow the last dot that is not inside a column list: "s.t.a,b" → "s.t" and "a,b".
            var comma = text.IndexOf(',');
            dot = comma < 0 ? dot : text.LastIndexOf('.', comma);
            if (dot <= 0)
            {
                throw Invalid($"'{text}' is not a relationship end; write table.column, table.col1,col2 or table(col1, col2).");
            }
            tablePart = text[..dot];
            columnPart = text[(dot + 1)..];
        }
        else
        {
            throw Invalid($"'{text}' is not a relationship end; write table.column, table.col1,col2 or table(col1, col2).");
        }
        var columns = columnPart.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (columns.Length == 0)
        {
            throw Invalid($"'{text}' names no column.");
        }
        var table = schema.Resolve(tablePart.Trim());
        return (table.Table, columns.Select(c => table.GetColumn(c.Trim('"')).Name).ToList());
    }

    private static DbOpsException Invalid(string message) =>
        new(ErrorIds.InvalidRelationship, ErrorKind.InvalidArgument, message);

    /// <summary>The referenced entity's name: <c>customer_id</c> and <c>CustomerId</c> → <c>customer</c>/<c>Customer</c>.</summary>
    private static string? Stem(string column)
    {
        foreach (var suffix in IdSuffixes)
        {
            if (column.Length > suffix.Length && column.EndsWith(suffix, StringComparison.Ordinal))
            {
                return column[..^suffix.Length].TrimEnd('_');
            }
        }
        return null;
    }

    private static (TableSchema Table, ColumnInfo Column)? FindParent(DatabaseSchema schema, TableSchema child, ColumnInfo column, string stem)
    {
        var names = PluralForms(stem);
        // Same schema first, then the rest in catalog order.
        var candidates = schema.Tables
            .Where(t => names.Contains(t.Table.Name, StringComparer.OrdinalIgnoreCase))
            .OrderBy(t => t.Table.Schema == child.Table.Schema ? 0 : 1);
        foreach (var parent in candidates)
        {
            foreach (var keyName in new[] { column.Name, "id" })
            {
                if (parent.FindColumn(keyName) is not { } key
                    || (parent.Table == child.Table && string.Equals(key.Name, column.Name, StringComparison.OrdinalIgnoreCase))
                    || !parent.HasUniqueKeyOn([key.Name])
                    || TypeFamily(key.DataType) != TypeFamily(column.DataType))
                {
                    continue;
                }
                return (parent, key);
            }
        }
        return null;
    }

    private static string[] PluralForms(string stem) =>
        stem.EndsWith('y') && stem.Length > 1 && !"aeiou".Contains(char.ToLowerInvariant(stem[^2]))
            ? [stem, stem + "s", stem[..^1] + "ies"]
            : [stem, stem + "s", stem + "es"];

    /// <summary>Coarse type families: a relationship needs comparable values, not identical declarations.</summary>
    private static string TypeFamily(string dataType)
    {
        var type = dataType.ToLowerInvariant();
        if (type.Contains("int") || type is "serial" or "bigserial" or "smallserial" || type.StartsWith("numeric") || type.StartsWith("decimal"))
        {
            return "number";
        }
        if (type.Contains("char") || type.Contains("text") || type.Contains("clob") || type is "" or "name" or "citext")
        {
            return "text";
        }
        return type;
    }
}
