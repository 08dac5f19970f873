using System.Data.Common;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Integrity;

/// <summary>What a probe runs against: one open read-only connection. PostgreSQL's transaction is begun with SQL, so <c>Transaction</c> stays null there too.</summary>
internal sealed record ProbeContext(DbOpsConnection Connection, IntegritySql Sql, DbConnection Db, DbTransaction? Transaction);

/// <summary>One check on one table (or the database): one set-based statement, never a round trip per row.</summary>
internal abstract class IntegrityProbe(IntegrityCheck check, TableRef? table, IReadOnlyList<string> columns, string description)
{
    public IntegrityCheck Check { get; } = check;

    public TableRef? Table { get; } = table;

    public IReadOnlyList<string> Columns { get; } = columns;

    /// <summary>What is checked, for progress and reports.</summary>
    public string Description { get; } = description;

    public abstract Task<IReadOnlyList<IntegrityFinding>> RunAsync(ProbeContext context, CancellationToken cancellationToken);
}

/// <summary>
/// A check whose offending rows one query can list: it counts them and samples their keys in one statement, and
/// reports a finding when there are any.
/// </summary>
internal abstract class RowProbe(IntegrityCheck check, TableRef table, IReadOnlyList<string> columns, string description, RowKey key, RowQuery query)
    : IntegrityProbe(check, table, columns, description)
{
    public RowKey Key { get; } = key;

    public RowQuery Query { get; } = query;

    public override async Task<IReadOnlyList<IntegrityFinding>> RunAsync(ProbeContext context, CancellationToken cancellationToken)
    {
        var (total, sample) = await IntegritySql.CountAndSampleAsync(context.Db, context.Transaction, Query.Probe, cancellationToken);
        return total == 0 ? [] : [Finding(context.Connection, total, sample)];
    }

    protected abstract IntegrityFinding Finding(DbOpsConnection connection, long count, IReadOnlyList<string> sample);
}

/// <summary>OrphanedRows: child rows with every referencing column set whose values match no parent row (MATCH SIMPLE).</summary>
internal sealed class OrphanProbe : RowProbe
{
    private readonly Relationship _relationship;

    private OrphanProbe(Relationship relationship, RowKey key, RowQuery query)
        : base(IntegrityCheck.OrphanedRows, relationship.Child, relationship.ChildColumns, Describe(relationship), key, query) =>
        _relationship = relationship;

    public static OrphanProbe Create(IntegritySql sql, TableSchema child, Relationship relationship)
    {
        var key = sql.KeyOf(child);
        var match = string.Join(" AND ", relationship.ChildColumns.Zip(relationship.ParentColumns,
            (c, p) => $"{sql.Column("p", p)} = {sql.Column("c", c)}"));
        var fromWhere = $"""
            FROM {sql.Table(relationship.Child)} AS c
            WHERE {sql.AllNotNull("c", relationship.ChildColumns)}
              AND NOT EXISTS (SELECT 1 FROM {sql.Table(relationship.Parent)} AS p WHERE {match})
            """;
        return new OrphanProbe(relationship, key, sql.Rows("c", key, relationship.ChildColumns, fromWhere));
    }

    private static string Describe(Relationship r) =>
        $"{r.Child}({string.Join(", ", r.ChildColumns)}) -> {r.Parent}({string.Join(", ", r.ParentColumns)}), {r.Source.ToString().ToLowerInvariant()}";

    protected override IntegrityFinding Finding(DbOpsConnection connection, long count, IReadOnlyList<string> sample)
    {
        var r = _relationship;
        var source = r.Source switch
        {
            RelationshipSource.Declared => $"foreign key {r.ConstraintName}",
            RelationshipSource.Inferred => "a relationship inferred from the column names; no foreign key is declared",
            _ => "the relationship you specified",
        };
        return new IntegrityFinding(connection, Check, r.Source == RelationshipSource.Inferred ? IntegritySeverity.Warning : IntegritySeverity.Error,
            r.Child, r.ChildColumns, count, sample, Key.Names, Query.Listing,
            $"{count} row(s) of {r.Child} reference {r.Parent}({string.Join(", ", r.ParentColumns)}) values that do not exist ({source}).",
            r.Source, r.Parent, r.ParentColumns, r.ConstraintName,
            ConstraintSpec.ForeignKey(r.Child.ToString(), r.ChildColumns, r.Parent.ToString(), r.ParentColumns, r.ConstraintName));
    }
}

/// <summary>NullValues: NULLs in a column the caller named as required.</summary>
internal sealed class NullValueProbe(TableRef table, string column, RowKey key, RowQuery query)
    : RowProbe(IntegrityCheck.NullValues, table, [column], $"{table}.{column} IS NULL", key, query)
{
    public static NullValueProbe Create(IntegritySql sql, TableSchema table, string column)
    {
        var key = sql.KeyOf(table);
        var fromWhere = $"FROM {sql.Table(table.Table)}\nWHERE {sql.Column(null, column)} IS NULL";
        return new NullValueProbe(table.Table, column, key, sql.Rows(null, key, [column], fromWhere));
    }

    protected override IntegrityFinding Finding(DbOpsConnection connection, long count, IReadOnlyList<string> sample) =>
        new(connection, Check, IntegritySeverity.Error, Table, Columns, count, sample, Key.Names, Query.Listing,
            $"{count} row(s) of {Table} hold NULL in required column {Columns[0]}.",
            suggestedConstraint: ConstraintSpec.NotNull(Table!.ToString(), Columns[0]));
}

/// <summary>
/// DuplicateKeys: rows repeating a value of a key that must be unique. The first row of each value (lowest key)
/// is kept; the rest are the offending rows. Rows with a NULL in the key are never duplicates, as for UNIQUE.
/// One statement, which reads the table twice: once to group, once to pick the rows of the repeated values.
/// </summary>
internal sealed class DuplicateKeyProbe(TableRef table, IReadOnlyList<string> columns, RowKey key, RowQuery query)
    : RowProbe(IntegrityCheck.DuplicateKeys, table, columns, $"{table}{Paren(columns)} unique", key, query)
{
    public static DuplicateKeyProbe Create(IntegritySql sql, TableSchema table, IReadOnlyList<string> columns)
    {
        var key = sql.KeyOf(table);
        var keys = sql.KeyList(null, key);
        var inner = string.Join(", ", [keys, .. columns.Where(c => !key.Names.Contains(c)).Select(c => sql.Column(null, c))]);
        var list = sql.ColumnList(null, columns);
        var tuple = columns.Count == 1 ? list : $"({list})";
        // The repeated values are found by grouping (a hash aggregate, as a hand-written check would), once: a
        // materialized CTE, so parallel workers do not each rebuild it. Only the rows holding them are then numbered,
        // so the whole table is never sorted.
        var with = $"""
            dbops_repeated AS MATERIALIZED (
                SELECT {list} FROM {sql.Table(table.Table)}
                WHERE {sql.AllNotNull(null, columns)}
                GROUP BY {list} HAVING count(*) > 1)
            """;
        var fromWhere = $"""
            FROM (SELECT {inner},
                         row_number() OVER (PARTITION BY {list} ORDER BY {keys}) AS dbops_rank
                  FROM {sql.Table(table.Table)}
                  WHERE {tuple} IN (SELECT {list} FROM dbops_repeated)) AS d
            WHERE d.dbops_rank > 1
            """;
        return new DuplicateKeyProbe(table.Table, columns, key, sql.Rows("d", key, columns, fromWhere, with));
    }

    private static string Paren(IReadOnlyList<string> columns) => $"({string.Join(", ", columns)})";

    protected override IntegrityFinding Finding(DbOpsConnection connection, long count, IReadOnlyList<string> sample) =>
        new(connection, Check, IntegritySeverity.Error, Table, Columns, count, sample, Key.Names, Query.Listing,
            $"{count} row(s) of {Table} repeat a {Paren(Columns)} value that an earlier row already holds.",
            suggestedConstraint: ConstraintSpec.Unique(Table!.ToString(), Columns));
}

/// <summary>CheckViolation: rows for which a condition is false (NULL passes, as in a CHECK constraint).</summary>
internal sealed class CheckViolationProbe(TableRef table, string expression, string? constraintName, IReadOnlyList<string> columns, RowKey key, RowQuery query)
    : RowProbe(IntegrityCheck.CheckViolation, table, columns, $"{table} CHECK ({expression})", key, query)
{
    public static CheckViolationProbe Create(IntegritySql sql, TableSchema table, string expression, string? constraintName)
    {
        var key = sql.KeyOf(table);
        var columns = table.Columns.Where(c => MentionsColumn(expression, c.Name)).Select(c => c.Name).ToList();
        var fromWhere = $"FROM {sql.Table(table.Table)}\nWHERE NOT ({expression})";
        return new CheckViolationProbe(table.Table, expression, constraintName, columns, key, sql.Rows(null, key, columns, fromWhere));
    }

    /// <summary>A rough guess at the columns an expression uses, only to show them: a whole-word match.</summary>
    private static bool MentionsColumn(string expression, string column) =>
        System.Text.RegularExpressions.Regex.IsMatch(expression, $@"(?<![\w""]){System.Text.RegularExpressions.Regex.Escape(column)}(?![\w""])|""{System.Text.RegularExpressions.Regex.Escape(column)}""",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    public string Expression { get; } = expression;

    /// <summary>True for a condition the caller gave (not a NOT VALID constraint of the catalog).</summary>
    public bool IsSpecified => constraintName is null;

    protected override IntegrityFinding Finding(DbOpsConnection connection, long count, IReadOnlyList<string> sample) =>
        new(connection, Check, IntegritySeverity.Error, Table, Columns, count, sample, Key.Names, Query.Listing,
            constraintName is null
                ? $"{count} row(s) of {Table} break the condition {Expression}."
                : $"{count} row(s) of {Table} break CHECK constraint {constraintName} ({Expression}), which is NOT VALID.",
            constraintName: constraintName,
            suggestedConstraint: ConstraintSpec.Check(Table!.ToString(), Expression, constraintName));
}

/// <summary>
/// NotNullCandidate: one scan of a table counts the non-NULL values of every nullable column; a column with none
/// missing (in a table with rows) is ready for NOT NULL. Info only.
/// </summary>
internal sealed class NotNullCandidateProbe(TableRef table, IReadOnlyList<string> columns, RowKey key, string sql, Func<string, string> listing)
    : IntegrityProbe(IntegrityCheck.NotNullCandidate, table, columns, $"{table}: nullable columns without NULLs")
{
    public static NotNullCandidateProbe Create(IntegritySql sql, TableSchema table, IReadOnlyList<string> columns)
    {
        var key = sql.KeyOf(table);
        var counts = string.Join(", ", columns.Select(c => $"count({sql.Column(null, c)})"));
        var statement = $"SELECT count(*) AS dbops_rows, {counts}\nFROM {sql.Table(table.Table)}";
        string Listing(string column) =>
            $"SELECT {sql.KeyList(null, key)}, {sql.Column(null, column)}\nFROM {sql.Table(table.Table)}\nWHERE {sql.Column(null, column)} IS NULL\nORDER BY {sql.KeyList(null, key)}";
        return new NotNullCandidateProbe(table.Table, columns, key, statement, Listing);
    }

    public override async Task<IReadOnlyList<IntegrityFinding>> RunAsync(ProbeContext context, CancellationToken cancellationToken)
    {
        await using var command = context.Db.CreateCommand();
        command.CommandText = sql;
        command.Transaction = context.Transaction;
        command.CommandTimeout = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var rows = Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture);
        var findings = new List<IntegrityFinding>();
        for (var i = 0; rows > 0 && i < Columns.Count; i++)
        {
            if (Convert.ToInt64(reader.GetValue(i + 1), System.Globalization.CultureInfo.InvariantCulture) == rows)
            {
                var column = Columns[i];
                findings.Add(new IntegrityFinding(context.Connection, Check, IntegritySeverity.Info, Table, [column], 0, [], key.Names,
                    listing(column), $"{Table}.{column} is nullable but none of its {rows} row(s) holds NULL: ready for NOT NULL.",
                    suggestedConstraint: ConstraintSpec.NotNull(Table!.ToString(), column)));
            }
        }
        return findings;
    }
}
