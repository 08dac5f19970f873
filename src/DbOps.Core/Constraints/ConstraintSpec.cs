using System.Collections;
using DbOps.Core.Errors;

namespace DbOps.Core.Constraints;

/// <summary>The kinds of constraint DbOps adds.</summary>
public enum ConstraintKind
{
    /// <summary>CHECK (expression).</summary>
    Check,
    /// <summary>UNIQUE (columns).</summary>
    Unique,
    /// <summary>NOT NULL on one column.</summary>
    NotNull,
    /// <summary>FOREIGN KEY (columns) REFERENCES table (columns).</summary>
    ForeignKey,
}

/// <summary>
/// A constraint to add, as data: what Test-DataIntegrity suggests and Add-SafeConstraint accepts, and what a
/// plan kept in a .psd1 file describes (see <see cref="FromDictionary"/>).
/// </summary>
public sealed class ConstraintSpec
{
    private ConstraintSpec(
        ConstraintKind kind, string table, IReadOnlyList<string> columns, string? expression,
        string? referencedTable, IReadOnlyList<string> referencedColumns, string? name)
    {
        if (string.IsNullOrWhiteSpace(table))
        {
            throw Invalid("A constraint needs the table it goes on.");
        }
        Kind = kind;
        Table = table;
        Columns = columns;
        Expression = expression;
        ReferencedTable = referencedTable;
        ReferencedColumns = referencedColumns;
        Name = string.IsNullOrWhiteSpace(name) ? null : name;
    }

    /// <summary>The kind of constraint.</summary>
    public ConstraintKind Kind { get; }

    /// <summary>The table it goes on, as typed (<c>t</c> or <c>schema.t</c>).</summary>
    public string Table { get; }

    /// <summary>The constrained columns (empty for a CHECK).</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>The CHECK expression, or null.</summary>
    public string? Expression { get; }

    /// <summary>The referenced table of a foreign key, or null.</summary>
    public string? ReferencedTable { get; }

    /// <summary>The referenced columns of a foreign key (empty otherwise).</summary>
    public IReadOnlyList<string> ReferencedColumns { get; }

    /// <summary>The constraint's name, or null to let DbOps choose one.</summary>
    public string? Name { get; }

    /// <summary>A CHECK constraint.</summary>
    public static ConstraintSpec Check(string table, string expression, string? name = null) =>
        string.IsNullOrWhiteSpace(expression)
            ? throw Invalid($"The CHECK constraint on {table} has no expression.")
            : new(ConstraintKind.Check, table, [], expression.Trim(), null, [], name);

    /// <summary>A UNIQUE constraint.</summary>
    public static ConstraintSpec Unique(string table, IReadOnlyList<string> columns, string? name = null) =>
        new(ConstraintKind.Unique, table, RequireColumns(table, columns), null, null, [], name);

    /// <summary>A NOT NULL constraint.</summary>
    public static ConstraintSpec NotNull(string table, string column, string? name = null) =>
        new(ConstraintKind.NotNull, table, RequireColumns(table, [column]), null, null, [], name);

    /// <summary>A FOREIGN KEY constraint.</summary>
    public static ConstraintSpec ForeignKey(
        string table, IReadOnlyList<string> columns, string referencedTable, IReadOnlyList<string> referencedColumns, string? name = null)
    {
        if (string.IsNullOrWhiteSpace(referencedTable))
        {
            throw Invalid($"The foreign key on {table} names no referenced table.");
        }
        var own = RequireColumns(table, columns);
        var referenced = RequireColumns(referencedTable, referencedColumns);
        if (own.Count != referenced.Count)
        {
            throw Invalid($"The foreign key on {table} pairs {own.Count} column(s) with {referenced.Count} in {referencedTable}.");
        }
        return new(ConstraintKind.ForeignKey, table, own, null, referencedTable, referenced, name);
    }

    /// <summary>
    /// Reads one entry of a plan: <c>@{ Table = 'goals'; Check = 'deadline &gt;= created_at' }</c>,
    /// <c>@{ Table = 't'; Unique = 'a','b' }</c>, <c>@{ Table = 't'; NotNull = 'c' }</c> or
    /// <c>@{ Table = 't'; ForeignKey = 'c'; References = 'p(id)' }</c>, each with an optional <c>Name</c>.
    /// Keys are case-insensitive; a list may be an array or a comma-separated string.
    /// </summary>
    /// <exception cref="DbOpsException"><see cref="ErrorIds.InvalidSpecification"/> when the entry is not exactly one constraint.</exception>
    public static ConstraintSpec FromDictionary(IDictionary entry)
    {
        var values = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry pair in entry)
        {
            values[pair.Key.ToString() ?? ""] = pair.Value;
        }
        var known = new[] { "Table", "Name", "Check", "Unique", "NotNull", "ForeignKey", "References" };
        if (values.Keys.FirstOrDefault(k => !known.Contains(k, StringComparer.OrdinalIgnoreCase)) is { } unknown)
        {
            throw Invalid($"A constraint entry has an unknown key '{unknown}'; the keys are {string.Join(", ", known)}.");
        }
        var table = Text(values, "Table") ?? throw Invalid("A constraint entry has no Table key.");
        var name = Text(values, "Name");
        var kinds = new[] { "Check", "Unique", "NotNull", "ForeignKey" }.Where(values.ContainsKey).ToList();
        if (kinds.Count != 1)
        {
            throw Invalid($"A constraint entry for {table} must have exactly one of Check, Unique, NotNull or ForeignKey.");
        }
        return kinds[0] switch
        {
            "Check" => Check(table, Text(values, "Check") ?? "", name),
            "Unique" => Unique(table, List(values["Unique"]), name),
            "NotNull" => NotNull(table, Text(values, "NotNull") ?? "", name),
            _ => ForeignKeyFromReference(table, List(values["ForeignKey"]), Text(values, "References"), name),
        };
    }

    /// <summary>
    /// A foreign key whose target is written <c>table(col1, col2)</c>, as Add-SafeConstraint's -References takes it.
    /// </summary>
    public static ConstraintSpec ForeignKeyFromReference(string table, IReadOnlyList<string> columns, string? references, string? name = null)
    {
        var text = references?.Trim() ?? "";
        var open = text.IndexOf('(');
        if (open <= 0 || !text.EndsWith(')'))
        {
            throw Invalid($"The foreign key on {table} needs References as 'table(column, ...)', not '{references}'.");
        }
        return ForeignKey(table, columns, text[..open].Trim(), List(text[(open + 1)..^1]), name);
    }

    /// <summary>The constraint as a person would write it, e.g. <c>goals: CHECK (deadline &gt;= created_at)</c>.</summary>
    public override string ToString() => Kind switch
    {
        ConstraintKind.Check => $"{Table}: CHECK ({Expression})",
        ConstraintKind.Unique => $"{Table}: UNIQUE ({string.Join(", ", Columns)})",
        ConstraintKind.NotNull => $"{Table}: NOT NULL ({Columns[0]})",
        _ => $"{Table}: FOREIGN KEY ({string.Join(", ", Columns)}) REFERENCES {ReferencedTable} ({string.Join(", ", ReferencedColumns)})",
    };

    private static IReadOnlyList<string> RequireColumns(string table, IReadOnlyList<string> columns)
    {
        var clean = columns.Select(c => c?.Trim() ?? "").ToList();
        return clean.Count == 0 || clean.Any(string.IsNullOrEmpty)
            ? throw Invalid($"A constraint on {table} names an empty column.")
            : clean;
    }

    private static string? Text(Dictionary<string, object?> values, string key) =>
        values.TryGetValue(key, out var value) ? Unwrap(value)?.ToString() : null;

    private static IReadOnlyList<string> List(object? value) => Unwrap(value) switch
    {
        null => [],
        string s => s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
        IEnumerable items => items.Cast<object?>().Select(i => Unwrap(i)?.ToString() ?? "").ToList(),
        var other => [other.ToString() ?? ""],
    };

    /// <summary>PowerShell hands values over wrapped; the wrapper's BaseObject property holds the value.</summary>
    private static object? Unwrap(object? value) =>
        value?.GetType().FullName == "System.Management.Automation.PSObject"
            ? value.GetType().GetProperty("BaseObject")?.GetValue(value)
            : value;

    private static DbOpsException Invalid(string message) =>
        new(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument, message);
}
