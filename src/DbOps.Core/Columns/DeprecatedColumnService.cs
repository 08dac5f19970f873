using System.Data.Common;
using System.Globalization;
using System.Text.RegularExpressions;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Schema;
using DbOps.Core.Usage;

namespace DbOps.Core.Columns;

/// <summary>
/// Finds columns that look deprecated, with the evidence: values that carry nothing (all NULL, or one value in every
/// row), a comment saying so, a name matching -Pattern; and what still uses or needs them: code, recorded queries,
/// dependent objects. Read-only.
/// </summary>
public static class DeprecatedColumnService
{
    /// <summary>Words in a comment that retire a column.</summary>
    private static readonly Regex DeprecationMark = new(@"\b(deprecated|obsolete|unused|legacy|no longer used|do not use|don't use)\b",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>Examines the chosen columns (by default every column outside the key of every user table) and returns one verdict per column.</summary>
    /// <exception cref="DbOpsException">TableNotFound, ColumnNotFound or ColumnIsKey for a -Table or -Column named without wildcards; FileNotFound for -CodePath.</exception>
    public static async Task<IReadOnlyList<ColumnDeprecation>> FindAsync(DeprecatedColumnRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var source = request.Source;
        var engine = DatabaseEngines.For(source.Provider);
        var activity = $"Finding deprecated columns in {source}";
        observer.Progress(new OperationProgress(activity, "Reading the catalog", 0));
        await using var session = await engine.OpenReadOnlyAsync(source, cancellationToken);
        var connection = session.Connection;
        var schema = await SchemaReader.ReadAsync(engine, connection, cancellationToken);
        var candidates = Candidates(schema, request);
        var patterns = (request.Patterns ?? []).Select(Wildcard).ToList();

        var statements = await engine.Columns.RecordedStatementsAsync(connection, cancellationToken);
        // The application's statements only: DDL, COPY (pg_dump), catalog queries and DbOps's own counts are not use.
        var applicationTexts = statements.Texts.Where(t => Performance.StatementClassifier.Classify(t) == Performance.StatementKind.Application).ToList();
        CodeReferences? code = null;
        if (request.CodePaths is { Count: > 0 } paths)
        {
            observer.Progress(new OperationProgress(activity, $"Searching {string.Join(", ", paths)} for column names", 5));
            var names = candidates.SelectMany(c => c.Columns.Select(col => col.Name)).ToList();
            code = await Task.Run(() => CodeReferences.Search(paths, names, cancellationToken), cancellationToken);
            observer.Verbose($"Searched {code.FilesSearched} files under {string.Join(", ", paths)} for {names.Distinct().Count()} column names.");
        }

        var results = new List<ColumnDeprecation>();
        for (var i = 0; i < candidates.Count; i++)
        {
            var (table, columns) = candidates[i];
            observer.Progress(new OperationProgress(activity, $"Examining {table.Table}", 10 + 90 * i / Math.Max(1, candidates.Count)));
            var statistics = request.UseStatistics ? await engine.Columns.StatisticsAsync(connection, table.Table, cancellationToken) : null;
            var counted = statistics is null ? await CountAsync(engine, connection, table.Table, columns, cancellationToken) : null;
            var keyless = ColumnArchive.KeyOf(table) is null;
            foreach (var column in columns)
            {
                var values = counted?[column.Name] ?? FromStatistics(statistics!, column.Name);
                var dependents = (await engine.Columns.DependentsAsync(connection, table, column.Name, cancellationToken)).Select(d => d.Description).ToList();
                var queries = statements.Note is not null && statements.Texts.Count == 0 ? (int?)null
                    : applicationTexts.Count(t => t.Contains(column.Name, StringComparison.OrdinalIgnoreCase)
                                                  && TypedNames.Mentions(t, column.Name) && TypedNames.Mentions(t, table.Table.Name));
                var (references, files) = code?.For(column.Name) ?? (0, []);
                results.Add(Decide(source, table, column, values, patterns.Any(p => p.IsMatch(column.Name)), code is null ? null : references, files,
                    code?.FilesSearched ?? 0, queries, statements.Note, dependents, keyless, request.UseStatistics));
            }
        }
        return results;
    }

    /// <summary>What the values say: rows, non-NULL values, a constant; <see cref="Why"/> when they could not be read.</summary>
    private sealed record Values(long? Rows, long? NonNull, bool AllNull, bool Constant, string? Value, bool Estimated, TimeSpan? Age, string Why);

    private static ColumnDeprecation Decide(Connections.DbOpsConnection source, TableSchema table, ColumnInfo column, Values values, bool matchesPattern,
        int? references, IReadOnlyList<string> files, int filesSearched, int? queries, string? queriesNote, IReadOnlyList<string> dependents,
        bool keyless, bool askedForStatistics)
    {
        var provider = source.Provider;
        var marked = column.Comment is { } comment && DeprecationMark.IsMatch(comment);
        var evidence = new List<string> { values.Why };
        if (askedForStatistics && !values.Estimated && provider == Connections.DatabaseProvider.SQLite)
        {
            evidence.Add("SQLite keeps no column statistics, so the values were counted");
        }
        evidence.Add(provider == Connections.DatabaseProvider.SQLite ? "SQLite keeps no column comments"
            : column.Comment is null ? "no comment" : $"comment '{column.Comment}'{(marked ? " marks it deprecated" : "")}");
        if (matchesPattern)
        {
            evidence.Add("its name matches -Pattern");
        }
        evidence.Add(references is not { } count ? "code not searched (no -CodePath)"
            : count == 0 ? $"no code references to '{column.Name}' in {filesSearched} files searched"
            : $"{count} code references to '{column.Name}' (any table's column of that name) in {files.Count} files: {string.Join(", ", files.Take(5))}{(files.Count > 5 ? ", ..." : "")}");
        evidence.Add(queries is not { } q ? queriesNote! : $"{q} recorded queries name {column.Name} and {table.Table.Name}{(queriesNote is null ? "" : $"; {queriesNote}")}");
        evidence.Add(dependents.Count == 0 ? "no dependents" : $"dependents: {string.Join(", ", dependents)}");
        if (keyless)
        {
            evidence.Add($"{table.Table} has no key that addresses its rows for good: Remove-DeprecatedColumn would refuse (NoUsableKey) until it has one");
        }

        var signs = new List<string>();
        if (values.AllNull)
        {
            signs.Add("every value is NULL");
        }
        if (values.Constant)
        {
            signs.Add($"every row holds the same value {values.Value}");
        }
        if (marked)
        {
            signs.Add("its comment marks it deprecated");
        }
        if (matchesPattern)
        {
            signs.Add("its name matches -Pattern");
        }
        var uses = new List<string>();
        if (references > 0)
        {
            uses.Add($"code names it ({references} references in {files.Count} files)");
        }
        if (queries > 0)
        {
            uses.Add($"{queries} recorded queries name it");
        }
        if (dependents.Count > 0)
        {
            uses.Add($"other objects need it ({string.Join(", ", dependents.Take(3))}{(dependents.Count > 3 ? ", ..." : "")}; Remove-DeprecatedColumn -Dependent can name them)");
        }
        var (verdict, reason) = (signs.Count, uses.Count) switch
        {
            (0, _) => (ColumnVerdict.Active, "nothing marks it deprecated (its values, comment and name)"),
            (_, > 0) => (ColumnVerdict.InUse, $"{string.Join(", ", signs)}, but {string.Join(", ", uses)}"),
            _ => (ColumnVerdict.Deprecated, $"{string.Join(", ", signs)}, and nothing uses or needs it{(references is null ? " (code was not searched: no -CodePath)" : "")}"),
        };
        return new ColumnDeprecation(source, table.Table, column.Name)
        {
            DataType = column.DataType,
            Verdict = verdict,
            Reason = reason,
            Evidence = ValueList.Of(evidence),
            Rows = values.Rows,
            NonNullValues = values.NonNull,
            AllNull = values.AllNull,
            Constant = values.Constant,
            ConstantValue = values.Constant ? values.Value : null,
            FromStatistics = values.Estimated,
            StatisticsAge = values.Age,
            Comment = column.Comment,
            CommentMarksDeprecated = marked,
            MatchesPattern = matchesPattern,
            CodeReferences = references,
            CodeFiles = ValueList.Of(files),
            QueryReferences = queries,
            Dependents = ValueList.Of(dependents),
        };
    }

    /// <summary>One scan of the table for all its candidate columns.</summary>
    private static async Task<Dictionary<string, Values>> CountAsync(IDatabaseEngine engine, DbConnection connection, TableRef table,
        IReadOnlyList<ColumnInfo> columns, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = Connections.DbOpsTraffic.Marker + engine.Columns.ValueSummarySql(table, columns.Select(c => c.Name).ToList());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var rows = Convert.ToInt64(reader.GetValue(0), CultureInfo.InvariantCulture);
        var result = new Dictionary<string, Values>();
        for (var i = 0; i < columns.Count; i++)
        {
            var nonNull = Convert.ToInt64(reader.GetValue(1 + 3 * i), CultureInfo.InvariantCulture);
            var same = Convert.ToBoolean(reader.GetValue(2 + 3 * i), CultureInfo.InvariantCulture);
            var value = reader.IsDBNull(3 + 3 * i) ? null : Shorten(Convert.ToString(reader.GetValue(3 + 3 * i), CultureInfo.InvariantCulture)!);
            var n = rows.ToString("N0", CultureInfo.InvariantCulture);
            var (allNull, constant) = (rows > 0 && nonNull == 0, rows >= 2 && nonNull == rows && same);
            var why = rows == 0 ? "the table holds no rows"
                : allNull ? $"all {n} rows are NULL (counted)"
                : constant ? $"all {n} rows hold the same value {value} (counted)"
                : $"{nonNull.ToString("N0", CultureInfo.InvariantCulture)} of {n} rows hold a value{(same && nonNull == rows ? "" : same ? $", all {value}, the rest NULL" : ", not all the same")} (counted)";
            result[columns[i].Name] = new Values(rows, nonNull, allNull, constant, value, false, null, why);
        }
        return result;
    }

    /// <summary>The planner's figures for one column: NULL share 1 is all NULL; share 0 with one distinct value is a constant.</summary>
    private static Values FromStatistics(TableColumnStatistics statistics, string column)
    {
        var age = statistics.Age is { } a ? $"statistics from {statistics.AnalyzedAt:u}, {StatisticsWindow.Describe(a)} old" : "";
        if (statistics.AnalyzedAt is null)
        {
            return new Values(null, null, false, false, null, true, null,
                "the table was never analysed, so its statistics say nothing: run ANALYZE, or leave out -UseStatistics to count");
        }
        if (statistics.Columns.FirstOrDefault(c => c.Column == column) is not { } s)
        {
            return new Values(statistics.Rows, null, false, false, null, true, statistics.Age,
                statistics.Rows == 0 ? $"the table holds no rows ({age})" : $"no statistics for the column ({age}; added since?): run ANALYZE, or leave out -UseStatistics to count");
        }
        var rows = statistics.Rows;
        var distinct = s.Distinct < 0 ? -s.Distinct * rows : s.Distinct;
        var (allNull, constant) = (s.NullFraction >= 1, s.NullFraction == 0 && Math.Round(distinct) == 1 && rows >= 2);
        var value = constant && s.CommonValues is { } common ? Shorten(common) : null;
        var why = allNull ? $"all about {rows:N0} rows are NULL ({age})"
            : constant ? $"all about {rows:N0} rows hold one value {value} ({age})"
            : $"{100 * s.NullFraction:0.#}% NULL, about {Math.Round(distinct):N0} distinct values in about {rows:N0} rows ({age})";
        return new Values(rows, (long)Math.Round(rows * (1 - s.NullFraction)), allNull, constant, value, true, statistics.Age, why);
    }

    /// <summary>
    /// The tables and columns to examine. A name without wildcards must exist (and a column so named must lie outside
    /// the key somewhere); key and generated columns are never candidates.
    /// </summary>
    private static List<(TableSchema Table, IReadOnlyList<ColumnInfo> Columns)> Candidates(DatabaseSchema schema, DeprecatedColumnRequest request)
    {
        var tables = request.Tables is { Count: > 0 } named
            ? named.SelectMany(n => IsWildcard(n)
                    ? schema.Tables.Where(t => Wildcard(n).IsMatch(t.Table.Name) || Wildcard(n).IsMatch($"{t.Table.Schema}.{t.Table.Name}"))
                    : [schema.Resolve(n)]).Distinct().ToList()
            : schema.Tables.ToList();
        var columnPatterns = request.Columns ?? [];
        var result = tables
            .Select(t => (Table: t, Columns: (IReadOnlyList<ColumnInfo>)t.Columns
                .Where(c => !c.IsGenerated && !KeyColumns(t).Contains(c.Name))
                .Where(c => columnPatterns.Count == 0 || columnPatterns.Any(p => Wildcard(p).IsMatch(c.Name)))
                .ToList()))
            .Where(x => x.Columns.Count > 0)
            .ToList();
        foreach (var name in columnPatterns.Where(p => !IsWildcard(p)))
        {
            if (result.Any(x => x.Columns.Any(c => Wildcard(name).IsMatch(c.Name))))
            {
                continue;
            }
            if (tables.FirstOrDefault(t => t.FindColumn(name) is not null) is { } keyed)
            {
                throw new DbOpsException(ErrorIds.ColumnIsKey, ErrorKind.InvalidArgument,
                    $"{name} of {keyed.Table} is part of its key (or a generated column): key columns are never candidates, as Remove-DeprecatedColumn keeps the key to put values back.", name);
            }
            throw new DbOpsException(ErrorIds.ColumnNotFound, ErrorKind.NotFound,
                $"No {(request.Tables is { Count: > 0 } ? "chosen " : "")}table has a column '{name}'. Check the spelling, or use wildcards (*, ?) to look for columns that may be absent.", name);
        }
        return result;
    }

    /// <summary>The primary key and the key a column archive would use.</summary>
    private static HashSet<string> KeyColumns(TableSchema table) =>
        new((table.PrimaryKey?.Columns ?? []).Concat(ColumnArchive.KeyOf(table) ?? []), StringComparer.Ordinal);

    private static bool IsWildcard(string pattern) => pattern.IndexOfAny(['*', '?']) >= 0;

    private static Regex Wildcard(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + @"\z", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    private static string Shorten(string value) => value.Length <= 60 ? value : value[..57] + "...";
}
