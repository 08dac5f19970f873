using System.Globalization;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Integrity;
using DbOps.Core.Schema;
using DbOps.Core.Sql;

namespace DbOps.Core.RowFixes;

/// <summary>
/// The SQL a row fix is made of, every name quoted by the engine: the condition choosing the rows (from -Where, -Key
/// values or integrity findings), the SET list, and the match between the live table and an archived prior image.
/// Conditions name the table in full (no alias), so the same text works in the archive's read, the recheck and the
/// DELETE or UPDATE.
/// </summary>
internal sealed class RowConditions(IDatabaseEngine engine, TableSchema table, IReadOnlyList<string> key)
{
    /// <summary>The alias of the archived prior image when it is matched to the live table.</summary>
    public const string PriorAlias = "dbops_prior";

    public TableRef Table => table.Table;

    public IReadOnlyList<string> Key => key;

    /// <summary>A column of the fixed table, qualified with its full name.</summary>
    public string Column(string name) => $"{table.Table.ToQuotedName()}.{engine.QuoteIdentifier(name)}";

    private string Of(string alias, string name) => $"{alias}.{engine.QuoteIdentifier(name)}";

    /// <summary>The one condition choosing the rows: each source's condition, ORed; checked by the one expression rule.</summary>
    public string Choose(RowFixRequest request)
    {
        var parts = new List<string>();
        if (request.Where is { } where)
        {
            Require(where, "-Where");
            parts.Add(where);
        }
        if (request.KeyValues is { Count: > 0 } values)
        {
            parts.Add(KeyValues(values));
        }
        parts.AddRange((request.Findings ?? []).Select(f => FromFinding(f, request.Keep)));
        if (parts.Count == 0)
        {
            throw Invalid($"No rows of {table.Table} were chosen: give -Where, -Key, or pipe Test-DataIntegrity findings about the table.", null);
        }
        var condition = parts.Count == 1 ? parts[0] : string.Join(" OR ", parts.Select(p => $"({p})"));
        Require(condition, "The condition");
        return condition;
    }

    /// <summary>Throws RowConditionInvalid unless <paramref name="expression"/> passes <see cref="SqlExpression.Problem"/>.</summary>
    public void Require(string expression, string what)
    {
        if (SqlExpression.Problem(expression, engine) is { } why)
        {
            throw Invalid($"{what} '{expression}' cannot be used on {table.Table}: {why}. Nothing was written.", expression);
        }
    }

    /// <summary>-Key: the rows whose primary key is one of the values (an array per row for a composite key), as literals.</summary>
    private string KeyValues(IReadOnlyList<object?> values)
    {
        var rows = values.Select(v => v is object?[] parts && key.Count > 1 ? parts : [v]).ToList();
        if (rows.Any(r => r.Length != key.Count))
        {
            throw Invalid($"The key of {table.Table} is ({string.Join(", ", key)}): give -Key a value per row" +
                          (key.Count > 1 ? $", each an array of {key.Count} values." : "."), values);
        }
        if (key.Count == 1)
        {
            return $"{Column(key[0])} IN ({string.Join(", ", rows.Select(r => Literal(r[0])))})";
        }
        return string.Join(" OR ", rows.Select(r => "(" + string.Join(" AND ", key.Select((k, i) => $"{Column(k)} = {Literal(r[i])}")) + ")"));
    }

    private static string Literal(object? value) => value switch
    {
        string text => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'",
        Guid guid => $"'{guid}'",
        sbyte or byte or short or ushort or int or uint or long or ulong or decimal => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        _ => throw new DbOpsException(ErrorIds.RowConditionInvalid, ErrorKind.InvalidArgument,
            $"-Key takes whole numbers, decimals, text or GUIDs, not {(value is null ? "null" : value.GetType().Name)}. Nothing was written.", value),
    };

    /// <summary>The rows a finding is about: it knows them by its check and columns.</summary>
    private string FromFinding(IntegrityFinding finding, DuplicateKeep keep)
    {
        if (finding.TableRef != table.Table)
        {
            throw Invalid($"A finding about {finding.Table ?? "the database"} cannot choose rows of {table.Table}.", finding);
        }
        var columns = finding.Columns;
        switch (finding.Check)
        {
            case IntegrityCheck.OrphanedRows when finding.ReferencedTableRef is { } parent:
                var set = string.Join(" AND ", columns.Select(c => $"{Column(c)} IS NOT NULL"));
                var match = string.Join(" AND ", columns.Zip(finding.ReferencedColumns, (c, p) => $"{Of("dbops_parent", p)} = {Column(c)}"));
                return $"{set} AND NOT EXISTS (SELECT 1 FROM {parent.ToQuotedName()} AS dbops_parent WHERE {match})";
            case IntegrityCheck.DuplicateKeys:
                // A row goes when another row holds the same value and comes before it (First) or after it (Last) by key.
                return $"EXISTS (SELECT 1 FROM {table.Table.ToQuotedName()} AS dbops_other WHERE {SameValues(columns)} " +
                       $"AND {KeyOrder("dbops_other", keep == DuplicateKeep.First ? "<" : ">")})";
            case IntegrityCheck.NullValues:
                return $"{Column(columns[0])} IS NULL";
            case IntegrityCheck.CheckViolation when finding.SuggestedConstraint?.Expression is { } expression:
                return $"NOT ({expression})";
            default:
                throw Invalid($"A {finding.Check} finding does not name rows that a fix can choose; give -Where instead.", finding);
        }
    }

    private string SameValues(IReadOnlyList<string> columns) =>
        string.Join(" AND ", columns.Select(c => $"{Of("dbops_other", c)} = {Column(c)}"));

    /// <summary>The other row's key compared with this row's (a row value for a composite key).</summary>
    private string KeyOrder(string alias, string comparison) => key.Count == 1
        ? $"{Of(alias, key[0])} {comparison} {Column(key[0])}"
        : $"({string.Join(", ", key.Select(k => Of(alias, k)))}) {comparison} ({string.Join(", ", key.Select(Column))})";

    /// <summary>For duplicate findings: the rows of each repeated value that are not chosen, so stay.</summary>
    public string? Survivors(RowFixRequest request, string condition)
    {
        var duplicates = (request.Findings ?? []).Where(f => f.Check == IntegrityCheck.DuplicateKeys).ToList();
        if (duplicates.Count == 0)
        {
            return null;
        }
        var repeated = string.Join(" OR ", duplicates.Select(f =>
            $"EXISTS (SELECT 1 FROM {table.Table.ToQuotedName()} AS dbops_other WHERE {SameValues(f.Columns)} AND {KeyOrder("dbops_other", "<>")})"));
        return $"NOT ({condition}) AND ({repeated})";
    }

    /// <summary>The live rows whose key is in the archived prior image.</summary>
    public string MatchesPrior(TableRef prior) =>
        $"EXISTS (SELECT 1 FROM {prior.ToQuotedName()} AS {PriorAlias} WHERE {string.Join(" AND ", key.Select(k => $"{Of(PriorAlias, k)} = {Column(k)}"))})";

    /// <summary>The key columns as a select list.</summary>
    public string KeyList => string.Join(", ", key.Select(Column));

    /// <summary>The column of <see cref="BatchBoundsSql"/>'s table that numbers the batches from 0.</summary>
    private const string BatchColumn = "dbops_batch";

    /// <summary>
    /// Creates <paramref name="bounds"/>: the last key of each batch of <paramref name="size"/> rows of the prior image, in
    /// key order, numbered from 0 (the last batch takes the rest of the <paramref name="rows"/>).
    /// </summary>
    public string BatchBoundsSql(TableRef bounds, TableRef prior, int size, long rows)
    {
        var keys = string.Join(", ", key.Select(engine.QuoteIdentifier));
        return $"CREATE TEMP TABLE {engine.QuoteIdentifier(bounds.Name)} AS SELECT (dbops_n - 1) / {size} AS {BatchColumn}, {keys} " +
               $"FROM (SELECT {keys}, row_number() OVER (ORDER BY {keys}) AS dbops_n FROM {prior.ToQuotedName()}) AS dbops_numbered " +
               $"WHERE dbops_n % {size} = 0 OR dbops_n = {rows}";
    }

    /// <summary>
    /// The rows of <paramref name="of"/> in batch <paramref name="batch"/> (from 0) of <paramref name="count"/>: keys after the
    /// previous batch's last key, up to its own. The first batch has no lower bound and the last no upper one, so every
    /// row the condition chooses is in a batch (a row added since the archive makes its batch stale). Null for one batch.
    /// </summary>
    public string? BatchRange(TableRef of, TableRef bounds, int batch, int count)
    {
        var row = $"({string.Join(", ", key.Select(k => $"{of.ToQuotedName()}.{engine.QuoteIdentifier(k)}"))})";
        string Bound(int b) => $"(SELECT {string.Join(", ", key.Select(engine.QuoteIdentifier))} FROM {bounds.ToQuotedName()} WHERE {BatchColumn} = {b})";
        var parts = new List<string>();
        if (batch > 0)
        {
            parts.Add($"{row} > {Bound(batch - 1)}");
        }
        if (batch < count - 1)
        {
            parts.Add($"{row} <= {Bound(batch)}");
        }
        return parts.Count == 0 ? null : string.Join(" AND ", parts);
    }

    /// <summary>
    /// -Set: each column gets a read-only SQL expression (a string) or a value bound as a parameter (anything else;
    /// null is NULL). The key cannot change: it is how the archive finds the rows again.
    /// </summary>
    public (string Clause, Dictionary<string, object> Parameters, IReadOnlyList<string> Columns, IReadOnlyList<string> Expressions) Set(
        IReadOnlyDictionary<string, object?> set)
    {
        if (set.Count == 0)
        {
            throw Invalid("-Set names no column: give column = value pairs.", set);
        }
        var parameters = new Dictionary<string, object>();
        var assignments = new List<string>();
        var columns = new List<string>();
        var expressions = new List<string>();
        foreach (var (name, value) in set.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var column = table.Columns.FirstOrDefault(c => c.Name == name)
                ?? table.Columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase))
                ?? throw Invalid($"-Set names {name}, which is not a column of {table.Table}.", name);
            if (column.IsGenerated || key.Contains(column.Name))
            {
                throw Invalid($"-Set cannot change {column.Name} of {table.Table}: it is {(column.IsGenerated ? "generated" : "part of the primary key, which finds the rows again for an undo")}.", name);
            }
            string expression;
            switch (value)
            {
                case null:
                    expression = "NULL";
                    break;
                case string text:
                    Require(text, $"The -Set expression for {column.Name}");
                    expression = text;
                    break;
                default:
                    var parameter = "p" + parameters.Count.ToString(CultureInfo.InvariantCulture);
                    parameters[parameter] = value;
                    expression = "@" + parameter;
                    break;
            }
            assignments.Add($"{engine.QuoteIdentifier(column.Name)} = {expression}");
            columns.Add(column.Name);
            expressions.Add(expression);
        }
        return (string.Join(", ", assignments), parameters, columns, expressions);
    }

    private static DbOpsException Invalid(string message, object? target) =>
        new(ErrorIds.RowConditionInvalid, ErrorKind.InvalidArgument, message, target);
}
