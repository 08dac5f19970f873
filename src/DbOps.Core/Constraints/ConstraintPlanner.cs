using System.Security.Cryptography;
using System.Text;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Engines;
using DbOps.Core.Schema;
using DbOps.Core.Sql;

namespace DbOps.Core.Constraints;

/// <summary>A spec checked against the catalog: real table and column names, the referenced key, the final name.</summary>
internal sealed record ResolvedConstraint(
    TableSchema Table, ConstraintKind Kind, IReadOnlyList<string> Columns, string? Expression,
    TableSchema? Parent, IReadOnlyList<string> ParentColumns, string Name);

/// <summary>
/// Works out, from the catalog alone, what adding a constraint means: which names are real, whether an equivalent
/// constraint exists, the preflight query, and the exact statements for each engine. It runs nothing.
/// </summary>
internal static class ConstraintPlanner
{
    public const int SampleSize = 10;

    /// <summary>PostgreSQL truncates longer identifiers; derived names are cut to fit instead.</summary>
    private const int MaxNameLength = 63;

    public static ResolvedConstraint Resolve(DatabaseSchema schema, ConstraintSpec spec)
    {
        var table = schema.Resolve(spec.Table);
        var columns = spec.Columns.Select(c => Column(table, c)).ToList();
        var same = DatabaseEngines.For(schema.Provider).Tuning.IdentifierComparer;
        if (columns.Distinct(same).Count() != columns.Count)
        {
            throw Invalid(spec, "a column is named twice");
        }
        string? expression = null;
        TableSchema? parent = null;
        IReadOnlyList<string> parentColumns = [];
        switch (spec.Kind)
        {
            case ConstraintKind.Check:
                expression = spec.Expression?.Trim();
                if (SqlExpression.Problem(expression, DatabaseEngines.For(schema.Provider)) is { } problem)
                {
                    throw new DbOpsException(ErrorIds.InvalidConstraintExpression, ErrorKind.InvalidArgument,
                        $"The CHECK expression for {table.Table} cannot be used: {problem}. Give one boolean SQL expression, e.g. 'deadline >= created_at'.",
                        spec);
                }
                break;
            case ConstraintKind.NotNull when columns.Count != 1:
                throw Invalid(spec, "NOT NULL takes exactly one column");
            case ConstraintKind.Unique when columns.Count == 0:
                throw Invalid(spec, "UNIQUE needs at least one column");
            case ConstraintKind.ForeignKey:
                if (columns.Count == 0 || string.IsNullOrWhiteSpace(spec.ReferencedTable))
                {
                    throw Invalid(spec, "FOREIGN KEY needs its columns and the referenced table");
                }
                parent = schema.Resolve(spec.ReferencedTable);
                parentColumns = spec.ReferencedColumns.Count == 0
                    ? parent.PrimaryKey?.Columns ?? throw Missing(table, columns, parent, [])
                    : spec.ReferencedColumns.Select(c => Column(parent, c)).ToList();
                if (parentColumns.Count != columns.Count)
                {
                    throw Invalid(spec, $"{columns.Count} referencing column(s) but {parentColumns.Count} referenced column(s)");
                }
                if (!UniqueKeys(parent).Any(k => SameSet(k.Columns, parentColumns, same)))
                {
                    throw Missing(table, columns, parent, parentColumns);
                }
                break;
        }
        var name = string.IsNullOrWhiteSpace(spec.Name) ? DefaultName(table.Table, spec.Kind, columns, expression) : spec.Name.Trim();
        return new ResolvedConstraint(table, spec.Kind, columns, expression, parent, parentColumns, name);
    }

    /// <summary>A plan for <paramref name="c"/> under its final name: its definition and preflight come from the constraint itself.</summary>
    public static ConstraintPlan Plan(DbOpsConnection connection, IDatabaseEngine provider, ResolvedConstraint c, string name, string method,
        IReadOnlyList<PlannedStep> steps, ConstraintStatus? outcome, bool presentButUnchecked = false)
    {
        var (preflight, listing) = ViolationQueries(c, provider);
        return new ConstraintPlan(connection, c.Table, c.Kind, name, Definition(c, provider), method, listing, steps)
        {
            Outcome = outcome,
            Columns = c.Columns,
            PreflightSql = preflight,
            PresentButUnchecked = presentButUnchecked,
        };
    }

    /// <summary>The constraint as SQL, for display and for the SQLite table definition.</summary>
    public static string Definition(ResolvedConstraint c, IDatabaseEngine provider) => c.Kind switch
    {
        ConstraintKind.Check => $"CHECK ({c.Expression})",
        ConstraintKind.Unique => $"UNIQUE ({List(provider, c.Columns)})",
        ConstraintKind.NotNull => $"{provider.QuoteIdentifier(c.Columns[0])} NOT NULL",
        _ => $"FOREIGN KEY ({List(provider, c.Columns)}) REFERENCES {provider.QualifiedName(c.Parent!.Table)} ({List(provider, c.ParentColumns)})",
    };

    /// <summary>
    /// The preflight: one set-based query returning the total number of violating rows and the keys of the first 10
    /// in key order. The violating keys are MATERIALIZED so the planner scans the table once with a set-based plan
    /// (e.g. a hash anti join for a foreign key) instead of walking the key index row by row to serve the LIMIT.
    /// </summary>
    public static (string Preflight, string Listing) ViolationQueries(ResolvedConstraint c, IDatabaseEngine provider)
    {
        var table = provider.QualifiedName(c.Table.Table);
        var keys = KeyColumns(c.Table, provider).Select(provider.QuoteIdentifier).ToList();
        var innerKeys = string.Join(", ", keys.Select(k => "c." + k));
        var outerKeys = string.Join(", ", keys.Select(k => c.Table.PrimaryKey is null ? provider.Tuning.RowKeyAsText(k) : k));
        var order = string.Join(", ", keys);
        var q = (string column) => "c." + provider.QuoteIdentifier(column);
        var allPresent = string.Join(" AND ", c.Columns.Select(col => $"{q(col)} IS NOT NULL"));
        string violating;
        string listing;
        switch (c.Kind)
        {
            case ConstraintKind.Unique:
                var partition = string.Join(", ", c.Columns.Select(q));
                // c.* leaves out rowid and ctid, so a table without a primary key names its row key.
                var rowKey = c.Table.PrimaryKey is null ? innerKeys + ", " : "";
                var ranked = $"SELECT {rowKey}c.*, row_number() OVER (PARTITION BY {partition} ORDER BY {innerKeys}) AS dbops_copy FROM {table} AS c WHERE {allPresent}";
                violating = $"SELECT {innerKeys} FROM ({ranked}) AS c WHERE c.dbops_copy > 1";
                listing = $"SELECT * FROM ({ranked}) AS c WHERE c.dbops_copy > 1 ORDER BY {innerKeys}";
                break;
            default:
                var where = c.Kind switch
                {
                    ConstraintKind.Check => $"NOT ({c.Expression})",
                    ConstraintKind.NotNull => $"{q(c.Columns[0])} IS NULL",
                    _ => $"{allPresent} AND NOT EXISTS (SELECT 1 FROM {provider.QualifiedName(c.Parent!.Table)} AS p WHERE " +
                         string.Join(" AND ", c.Columns.Zip(c.ParentColumns, (child, parent) => $"p.{provider.QuoteIdentifier(parent)} = {q(child)}")) + ")",
                };
                violating = $"SELECT {innerKeys} FROM {table} AS c WHERE {where}";
                listing = $"SELECT {provider.Tuning.ListingColumns(c.Table)} FROM {table} AS c WHERE {where} ORDER BY {innerKeys}";
                break;
        }
        return ($"WITH v AS MATERIALIZED ({violating}) SELECT (SELECT count(*) FROM v) AS dbops_total, {outerKeys} FROM v ORDER BY {order} LIMIT {SampleSize}",
                listing);
    }

    /// <summary>The columns that identify a row in samples: the primary key, else rowid (SQLite) or ctid (PostgreSQL).</summary>
    public static IReadOnlyList<string> KeyColumns(TableSchema table, IDatabaseEngine provider) =>
        table.PrimaryKey?.Columns is { Count: > 0 } pk ? pk : [provider.RowAddress(table)];

    public static IEnumerable<KeyInfo> UniqueKeys(TableSchema table) =>
        (table.PrimaryKey is { } pk ? [pk] : Array.Empty<KeyInfo>())
        .Concat(table.UniqueKeys)
        .Concat(table.Indexes.Where(i => i.IsUnique && i.IsValid && !i.IsPartial).Select(i => new KeyInfo(i.Name, i.Columns)));

    public static bool SameSet(IReadOnlyList<string> a, IReadOnlyList<string> b, StringComparer same) =>
        a.Count == b.Count && a.ToHashSet(same).SetEquals(b);

    public static bool SameList(IReadOnlyList<string> a, IReadOnlyList<string> b, StringComparer same) =>
        a.Count == b.Count && a.Zip(b).All(p => same.Equals(p.First, p.Second));

    public static string List(IDatabaseEngine provider, IEnumerable<string> columns) =>
        string.Join(", ", columns.Select(provider.QuoteIdentifier));

    /// <summary>
    /// PostgreSQL's own naming (table_col_key, table_col_fkey); a CHECK is named by a hash of its expression, so
    /// running the same plan twice finds the constraint it added the first time.
    /// </summary>
    public static string DefaultName(TableRef table, ConstraintKind kind, IReadOnlyList<string> columns, string? expression)
    {
        var name = kind switch
        {
            ConstraintKind.Check => $"{table.Name}_check_{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(SqlText.Loose(expression ?? ""))))[..8]}",
            ConstraintKind.Unique => $"{table.Name}_{string.Join("_", columns)}_key",
            ConstraintKind.NotNull => $"{table.Name}_{columns[0]}_not_null",
            _ => $"{table.Name}_{string.Join("_", columns)}_fkey",
        };
        return Encoding.UTF8.GetByteCount(name) <= MaxNameLength ? name : Shorten(name);
    }

    private static string Shorten(string name)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
        var keep = name;
        while (Encoding.UTF8.GetByteCount(keep) + 9 > MaxNameLength)
        {
            keep = keep[..^1];
        }
        return $"{keep}_{hash}";
    }

    private static string Column(TableSchema table, string name) => table.GetColumn(name.Trim()).Name;

    private static DbOpsException Invalid(ConstraintSpec spec, string why) =>
        new(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument, $"The constraint spec '{spec}' cannot be used: {why}.", spec);

    /// <summary>The name is taken by something that is not the constraint asked for.</summary>
    internal static DbOpsException NameTaken(TableSchema table, string name, string owner) =>
        new(ErrorIds.ConstraintNameTaken, ErrorKind.AlreadyExists,
            $"The name '{name}' is already used on {table.Table} by {owner}, which is not the constraint asked for. Choose another -Name.", name);

    private static DbOpsException Missing(TableSchema child, IReadOnlyList<string> columns, TableSchema parent, IReadOnlyList<string> parentColumns) =>
        new(ErrorIds.ReferencedKeyMissing, ErrorKind.InvalidState,
            $"{child.Table}({string.Join(", ", columns)}) cannot reference {parent.Table}" +
            (parentColumns.Count == 0 ? ": it has no primary key. " : $"({string.Join(", ", parentColumns)}): no primary key or unique constraint has exactly those columns. ") +
            "Add one first (Add-SafeConstraint -Unique), or reference a key it has.", parent.Table);
}
