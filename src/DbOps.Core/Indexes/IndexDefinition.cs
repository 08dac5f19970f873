using System.Text.RegularExpressions;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Engines;
using DbOps.Core.Schema;
using DbOps.Core.Sql;

namespace DbOps.Core.Indexes;

/// <summary>The index access method (PostgreSQL's USING). SQLite builds B-trees only.</summary>
public enum IndexMethod
{
    /// <summary>B-tree: equality, ranges, ordering. The default, and the only kind SQLite has.</summary>
    BTree,
    /// <summary>GIN: containment and key lookups in jsonb, arrays and full-text vectors.</summary>
    Gin,
    /// <summary>GiST: ranges, geometry, nearest-neighbour and exclusion.</summary>
    Gist,
    /// <summary>BRIN: block ranges of large, naturally ordered tables (timestamps, serial keys).</summary>
    Brin,
    /// <summary>Hash: equality on one column.</summary>
    Hash,
    /// <summary>SP-GiST: partitioned search trees (points, text prefixes, inet).</summary>
    SpGist,
}

/// <summary>
/// One index as the caller asked for it, checked against the live table: key columns and expressions, the access
/// method, INCLUDE columns and a partial-index predicate, with the statement that builds it.
/// </summary>
internal sealed record IndexDefinition(TableSchema Table, IReadOnlyList<string> Keys, IReadOnlyList<string> KeySql, IndexMethod Method,
                                       IReadOnlyList<string> Include, string? Where)
{
    /// <summary>True for a B-tree on plain columns over the whole table: the kind a relationship lookup uses.</summary>
    public bool IsPlain => Method == IndexMethod.BTree && Include.Count == 0 && Where is null && !HasExpression;

    public bool HasExpression => KeySql.Any(k => k.StartsWith('('));

    /// <summary>The keys as they go into a suggested name: a column as it is, an expression by its words (lower(email) gives lower_email).</summary>
    public IEnumerable<string> NameParts => Keys.Select((k, i) => KeySql[i].StartsWith('(') ? Regex.Replace(k, "[^A-Za-z0-9_]+", "_").Trim('_').ToLowerInvariant() : k);

    public static string MethodName(IndexMethod method) => method.ToString().ToLowerInvariant();

    /// <summary>A column name as a person types it: a bare word or one quoted identifier.</summary>
    private static readonly Regex Name = new("""^([A-Za-z_][A-Za-z0-9_$]*|"([^"]|"")+")$""", RegexOptions.CultureInvariant);

    /// <summary>
    /// Resolves every key: a column of the table (by its name, bare or quoted), else an expression, which must be
    /// one expression (<see cref="SqlExpression"/>, as for a CHECK constraint) and is put in parentheses.
    /// </summary>
    public static IndexDefinition Resolve(TableSchema table, IDatabaseEngine engine, IReadOnlyList<string> keys, IndexMethod method,
                                          IReadOnlyList<string> include, string? where)
    {
        if (keys.Count == 0)
        {
            throw new DbOpsException(ErrorIds.ColumnNotFound, ErrorKind.InvalidArgument, $"No columns were given for the index on {table.Table}.", table.Table);
        }
        engine.Tuning.RequireIndexKind(table, method, include);
        var names = new List<string>();
        var sql = new List<string>();
        foreach (var key in keys.Select(k => k.Trim()))
        {
            if (table.FindColumn(key) is { } column || (Name.IsMatch(key) && (column = table.GetColumn(SqlText.Unquote(key))) is not null))
            {
                names.Add(column.Name);
                sql.Add(Quote(column.Name));
            }
            else
            {
                Check(table, engine, key, "index expression");
                names.Add(key);
                sql.Add($"({key})");
            }
        }
        var includes = include.Select(c => table.GetColumn(SqlText.Unquote(c.Trim())).Name).ToList();
        var predicate = string.IsNullOrWhiteSpace(where) ? null : where.Trim();
        if (predicate is not null)
        {
            Check(table, engine, predicate, "partial-index predicate (-Where)");
        }
        return new IndexDefinition(table, names, sql, method, includes, predicate);
    }

    /// <summary>The CREATE INDEX statement (CONCURRENTLY on PostgreSQL; SQLite names the table unqualified).</summary>
    public string CreateSql(IDatabaseEngine engine, string name) => CreateSql(engine.Tuning.CreateIndexCommand, name, engine.QualifiedName(Table.Table));

    /// <param name="command">CREATE INDEX, with CONCURRENTLY or not.</param>
    /// <param name="name">The index's name, unquoted.</param>
    /// <param name="on">The table, quoted.</param>
    internal string CreateSql(string command, string name, string on) =>
        $"{command} {Quote(name)} ON {on}"
        + (Method == IndexMethod.BTree ? "" : $" USING {MethodName(Method)}")
        + $" ({string.Join(", ", KeySql)})"
        + (Include.Count > 0 ? $" INCLUDE ({string.Join(", ", Include.Select(Quote))})" : "")
        + (Where is null ? "" : $" WHERE {Where}");

    /// <summary>
    /// Asks the server whether it can build this index, without building it or changing anything, and returns the
    /// definition as the server would store it (for spotting an existing identical index). PostgreSQL: the keys and
    /// predicate are evaluated on one live row in a read-only transaction (a write through a function fails there),
    /// then the index is created on an empty temporary copy of the table in a transaction that is rolled back (the
    /// server's own verdict on the method, the column types and IMMUTABLE functions). SQLite: EXPLAIN compiles the
    /// statement on a read-only connection without running it.
    /// </summary>
    public Task<string> ProbeAsync(DbOpsConnection source, CancellationToken cancellationToken) =>
        DatabaseEngines.For(source).Tuning.ProbeIndexAsync(source, this, cancellationToken);

    /// <summary>The server cannot build the index: <paramref name="why"/>.</summary>
    internal DbOpsException Refused(string id, string why) => new(id, ErrorKind.InvalidArgument,
        $"A {MethodName(Method)} index on {Table.Table} ({string.Join(", ", Keys)}){(Where is null ? "" : $" WHERE {Where}")} cannot be built: {why}. " +
        "Nothing was changed; correct the columns, expressions, -Using or -Where and run Add-SafeIndex again.", Table.Table);

    private static void Check(TableSchema table, IDatabaseEngine engine, string expression, string what)
    {
        if (SqlExpression.Problem(expression, engine) is { } problem)
        {
            throw new DbOpsException(ErrorIds.InvalidIndexExpression, ErrorKind.InvalidArgument,
                $"The {what} for {table.Table} cannot be used: {problem}. Give one SQL expression, e.g. \"lower(email)\" or \"deleted_at IS NULL\".",
                expression);
        }
    }

    private static string Quote(string identifier) => IndexSql.Quote(identifier);
}
