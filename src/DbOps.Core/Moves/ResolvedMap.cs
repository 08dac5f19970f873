using System.Data.Common;
using System.Globalization;
using System.Text.RegularExpressions;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Schema;
using DbOps.Core.Sql;

namespace DbOps.Core.Moves;

/// <summary>
/// One pair of values the map lines up: SQL that reads it on the source side and on the target side. Each side's SQL
/// is evaluated against that side's rows alone, so an unqualified name can never silently mean the other side's column.
/// </summary>
/// <param name="Name">The target column (or the target expression) it is known by in results.</param>
/// <param name="SourceSql">Source-side SQL: a quoted source column or a source-side expression.</param>
/// <param name="TargetSql">Target-side SQL: a quoted target column or a target-side expression.</param>
/// <param name="TargetColumn">The target column it fills, or null for a target-side expression.</param>
internal sealed record MappedValue(string Name, string SourceSql, string TargetSql, string? TargetColumn);

/// <summary>One side of a map: the rows it reads, as a SELECT whose columns are the keys k0.. and the values v0...</summary>
internal sealed class MapSide(IDatabaseEngine engine, string name, string from, TableSchema? table, IReadOnlyList<string> keyColumns,
    IReadOnlyList<string> keys, IReadOnlyList<string> values, string? where)
{
    /// <summary>The key's column names on this side.</summary>
    public IReadOnlyList<string> KeyColumns { get; } = keyColumns;

    public IDatabaseEngine Engine { get; } = engine;

    /// <summary>The table's name, or "query" for a SELECT.</summary>
    public string Name { get; } = name;

    /// <summary>The table when the side is one.</summary>
    public TableSchema? Table { get; } = table;

    /// <summary>The types the engine reports for k0.. then v0.. (filled by the probe).</summary>
    public IReadOnlyList<string> Types { get; set; } = [];

    public int KeyCount => keys.Count;

    public int ValueCount => values.Count;

    /// <summary>The side's rows as "k0", "k1", ..., "v0", ...; <paramref name="condition"/> (over those names) narrows them.</summary>
    public string Select(string? condition = null)
    {
        var columns = keys.Select((k, i) => $"{k} AS {Key(i)}").Concat(values.Select((v, i) => $"{v} AS {Value(i)}"));
        var rows = $"SELECT {string.Join(", ", columns)} FROM {from} AS {Quote("src")}{(where is null ? "" : $" WHERE ({where})")}";
        return condition is null ? rows : $"SELECT * FROM ({rows}) AS {Quote("r")} WHERE {condition}";
    }

    /// <summary>The quoted name of key <paramref name="i"/>, optionally qualified with an alias.</summary>
    public static string Key(int i, string? alias = null) => (alias is null ? "" : alias + ".") + Quote("k" + i.ToString(CultureInfo.InvariantCulture));

    public static string Value(int i, string? alias = null) => (alias is null ? "" : alias + ".") + Quote("v" + i.ToString(CultureInfo.InvariantCulture));

    /// <summary>Key or value <paramref name="i"/> of <paramref name="alias"/> as it is compared.</summary>
    public string ComparableKey(int i, string alias) => Engine.Moves.Comparable(Key(i, alias), Types[i]);

    public string ComparableValue(int i, string alias) => Engine.Moves.Comparable(Value(i, alias), Types[KeyCount + i]);

    private static string Quote(string name) => TableRef.QuoteIdentifier(name);
}

/// <summary>A <see cref="TableMap"/> checked against both databases: names resolved and quoted, expressions checked, types probed.</summary>
internal sealed class ResolvedMap
{
    public required MapSide Source { get; init; }

    public required MapSide Target { get; init; }

    /// <summary>The key pairs, by target column name.</summary>
    public required IReadOnlyList<MappedValue> Keys { get; init; }

    public required IReadOnlyList<MappedValue> Values { get; init; }

    /// <summary>For a copy: NOT NULL target columns without a default that nothing fills (rows can be updated, not inserted).</summary>
    public IReadOnlyList<string> Unfilled { get; init; } = [];

    private static readonly Regex PlainName = new("^[A-Za-z_][A-Za-z0-9_]*$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Resolves <paramref name="map"/> on an open connection to its database. <paramref name="forCopy"/> asks for what a
    /// copy needs besides: a target table, target columns (not expressions), and the NOT NULL target columns left unfilled.
    /// </summary>
    public static async Task<ResolvedMap> ResolveAsync(TableMap map, DbConnection connection, bool forCopy, CancellationToken cancellationToken,
        DbConnection? targetConnection = null)
    {
        var engine = DatabaseEngines.For(map.Source);
        var targetEngine = map.TargetDatabase is null ? engine : DatabaseEngines.For(map.TargetDatabase);
        targetConnection ??= connection;
        RequireOneOf(map.SourceTable, map.SourceQuery, "-Source", "-SourceQuery");
        RequireOneOf(map.TargetTable, map.TargetQuery, "-Target", "-TargetQuery");
        if (forCopy && map.TargetTable is null)
        {
            throw Invalid("Copy-TableData writes to a table: give -Target, not -TargetQuery.");
        }
        if (forCopy && map.TargetDatabase is not null)
        {
            throw Invalid("Copy-TableData copies within one database: the target table must be in the source's database.");
        }
        if (map.Keys.Count == 0 || map.Keys.Any(k => string.IsNullOrWhiteSpace(k.Source) || string.IsNullOrWhiteSpace(k.Target)))
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                "-Key names no column: give the key columns (-Key id, -Key a,b) or pairs whose names differ (-Key @{ legacy_id = 'id' }).");
        }
        CheckExpression(map.Where, "-Where", engine);
        CheckQuery(map.SourceQuery, "-SourceQuery", engine);
        CheckQuery(map.TargetQuery, "-TargetQuery", targetEngine);
        foreach (var (column, expression) in map.Expressions)
        {
            CheckExpression(expression, $"-Expression {column}", engine);
        }

        var sourceTable = map.SourceTable is null ? null : (await SchemaReader.ReadAsync(engine, connection, cancellationToken)).Resolve(map.SourceTable);
        var targetTable = map.TargetTable is null ? null : (await SchemaReader.ReadAsync(targetEngine, targetConnection, cancellationToken)).Resolve(map.TargetTable);
        if (map.TargetDatabase is null && sourceTable is not null && targetTable is not null && sourceTable.Table == targetTable.Table)
        {
            throw new DbOpsException(ErrorIds.MoveSameTable, ErrorKind.InvalidArgument,
                $"The source and the target are the same table ({sourceTable.Table}); name the table the rows move to with -Target.", sourceTable.Table.ToString());
        }
        var sourceColumns = sourceTable?.Columns.Select(c => c.Name).ToList() ?? await QueryColumnsAsync(connection, map.SourceQuery!, cancellationToken);
        var targetColumns = targetTable?.Columns.Select(c => c.Name).ToList() ?? await QueryColumnsAsync(targetConnection, map.TargetQuery!, cancellationToken);
        var names = engine.Tuning.IdentifierComparer;
        string SourceColumn(string name, string what) => sourceColumns.FirstOrDefault(c => names.Equals(c, name))
            ?? throw NotFound(name, what, map.SourceTable ?? "the source query", sourceColumns);
        string? TargetColumn(string name) => targetColumns.FirstOrDefault(c => targetEngine.Tuning.IdentifierComparer.Equals(c, name));
        string RequireTargetColumn(string name, string what) => TargetColumn(name) ?? throw NotFound(name, what, map.TargetTable ?? "the target query", targetColumns);

        var keys = map.Keys.Select(k => (Source: SourceColumn(k.Source, "key"), Target: RequireTargetColumn(k.Target, "key")))
            .Select(k => new MappedValue(k.Target, engine.QuoteIdentifier(k.Source), engine.QuoteIdentifier(k.Target), k.Target)).ToList();
        var values = new List<MappedValue>();
        var taken = new HashSet<string>(keys.Select(k => k.Name), names);
        var mappedSources = new HashSet<string>(map.Keys.Select(k => k.Source), names);
        foreach (var (sourceName, targetText) in map.Map)
        {
            var column = SourceColumn(sourceName, "mapped");
            mappedSources.Add(column);
            if (string.IsNullOrWhiteSpace(targetText))
            {
                continue; // left out
            }
            if (TargetColumn(targetText) is { } targetColumn)
            {
                values.Add(new MappedValue(targetColumn, engine.QuoteIdentifier(column), engine.QuoteIdentifier(targetColumn), targetColumn));
            }
            else if (PlainName.IsMatch(targetText) || forCopy)
            {
                throw NotFound(targetText, $"mapped ({sourceName} ->)", map.TargetTable ?? "the target query", targetColumns);
            }
            else
            {
                CheckExpression(targetText, $"-Map {sourceName}", targetEngine);
                values.Add(new MappedValue(targetText, engine.QuoteIdentifier(column), $"({targetText})", null));
            }
        }
        foreach (var (targetName, expression) in map.Expressions)
        {
            var column = RequireTargetColumn(targetName, "-Expression");
            values.Add(new MappedValue(column, $"({expression})", engine.QuoteIdentifier(column), column));
        }
        if (map.Map.Count == 0 || sourceTable is not null && targetTable is not null)
        {
            // Columns with one name on both sides pair up unless the map sends them elsewhere or leaves them out.
            foreach (var column in sourceColumns.Where(c => !mappedSources.Contains(c)))
            {
                if (TargetColumn(column) is { } targetColumn && !values.Any(v => names.Equals(v.TargetColumn, targetColumn)) && !taken.Contains(targetColumn))
                {
                    values.Add(new MappedValue(targetColumn, engine.QuoteIdentifier(column), engine.QuoteIdentifier(targetColumn), targetColumn));
                }
            }
        }
        var duplicate = keys.Concat(values).Where(v => v.TargetColumn is not null).GroupBy(v => v.TargetColumn!, names).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"Target column {duplicate.Key} is filled twice (by the key, -Map or -Expression); map it once.", duplicate.Key);
        }

        var resolved = new ResolvedMap
        {
            Source = new MapSide(engine, sourceTable?.Table.ToString() ?? "query", From(engine, sourceTable, map.SourceQuery), sourceTable,
                map.Keys.Select(k => SourceColumn(k.Source, "key")).ToList(),
                keys.Select(k => k.SourceSql).ToList(), values.Select(v => v.SourceSql).ToList(), map.Where),
            Target = new MapSide(targetEngine, targetTable?.Table.ToString() ?? "query", From(targetEngine, targetTable, map.TargetQuery), targetTable, keys.Select(k => k.Name).ToList(),
                keys.Select(k => k.TargetSql).ToList(), values.Select(v => v.TargetSql).ToList(), null),
            Keys = keys,
            Values = values,
            Unfilled = forCopy ? UnfilledColumns(targetTable!, keys.Concat(values).Select(v => v.TargetColumn!).ToHashSet(names)) : [],
        };
        resolved.Source.Types = await ProbeAsync(resolved.Source, connection, "source", cancellationToken);
        resolved.Target.Types = await ProbeAsync(resolved.Target, targetConnection, "target", cancellationToken);
        return resolved;
    }

    private static string From(IDatabaseEngine engine, TableSchema? table, string? query) =>
        table is not null ? engine.QualifiedName(table.Table) : $"({query})";

    /// <summary>Runs the side's SELECT for no rows: the server checks every name and expression, and reports each column's type.</summary>
    private static async Task<IReadOnlyList<string>> ProbeAsync(MapSide side, DbConnection connection, string what, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = side.Select() + " LIMIT 0";
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return Enumerable.Range(0, reader.FieldCount).Select(i => TypeName(reader, i)).ToList();
        }
        catch (DbException e) when (!cancellationToken.IsCancellationRequested)
        {
            var id = side.Engine.Moves.ProbeProblem(e) switch
            {
                MapProblem.UnknownColumn => ErrorIds.ColumnNotFound,
                MapProblem.IncomparableTypes => ErrorIds.MoveTypesIncomparable,
                _ => ErrorIds.MoveExpressionInvalid,
            };
            throw new DbOpsException(id, ErrorKind.InvalidArgument,
                $"The {what} side of the map cannot be read ({side.Engine.Tuning.ServerMessage(e)}); check the names, -Where and expressions.", side.Name, e);
        }
    }

    private static string TypeName(DbDataReader reader, int i)
    {
        try
        {
            return reader.GetDataTypeName(i);
        }
        catch (InvalidOperationException)
        {
            return ""; // SQLite: an expression with no declared type and no row to look at
        }
    }

    private static async Task<List<string>> QueryColumnsAsync(DbConnection connection, string query, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM ({query}) AS q LIMIT 0";
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            return Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
        }
        catch (DbException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DbOpsException(ErrorIds.MoveExpressionInvalid, ErrorKind.InvalidArgument, $"The query '{query}' cannot be read: {e.Message}", query, e);
        }
    }

    /// <summary>NOT NULL target columns without a default that the map leaves unfilled: a copy can update rows, but not insert them.</summary>
    private static List<string> UnfilledColumns(TableSchema target, HashSet<string> filled) =>
        target.Columns.Where(c => !c.IsNullable && c.Default is null && c.Identity is null && !c.IsGenerated && !filled.Contains(c.Name)).Select(c => c.Name).ToList();

    private static void RequireOneOf(string? table, string? query, string tableParameter, string queryParameter)
    {
        if ((table is null) == (query is null))
        {
            throw Invalid($"Give either {tableParameter} or {queryParameter}, not both or neither.");
        }
    }

    private static void CheckQuery(string? query, string parameter, IDatabaseEngine engine)
    {
        if (query is null)
        {
            return;
        }
        var first = SqlText.Tokens(query, engine.Tuning.QuotesNamesWithBrackets).FirstOrDefault(t => t.Kind != SqlText.TokenKind.Space);
        var word = query.Substring(first.Start, first.Length);
        if (!(word.Equals("SELECT", StringComparison.OrdinalIgnoreCase) || word.Equals("WITH", StringComparison.OrdinalIgnoreCase) || word.Equals("VALUES", StringComparison.OrdinalIgnoreCase)))
        {
            throw new DbOpsException(ErrorIds.MoveExpressionInvalid, ErrorKind.InvalidArgument,
                $"{parameter} must be one read-only SELECT (it starts with '{word}').", query);
        }
        CheckExpression(query, parameter, engine);
    }

    private static void CheckExpression(string? expression, string parameter, IDatabaseEngine engine)
    {
        if (expression is not null && SqlExpression.Problem(expression, engine) is { } problem)
        {
            throw new DbOpsException(ErrorIds.MoveExpressionInvalid, ErrorKind.InvalidArgument,
                $"{parameter} cannot be used: {problem}. It must be one read-only SQL expression or SELECT; nothing was read or written.", expression);
        }
    }

    private static DbOpsException NotFound(string name, string what, string where, IReadOnlyList<string> columns) =>
        new(ErrorIds.ColumnNotFound, ErrorKind.NotFound,
            $"The {what} column '{name}' is not a column of {where} (its columns: {string.Join(", ", columns)}).", name);

    private static DbOpsException Invalid(string message) => new(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument, message);
}
