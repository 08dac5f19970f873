using System.Data.Common;
using System.Text.RegularExpressions;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Errors;
using DbOps.Core.Engines;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;
using Npgsql;

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
    /// one expression (the same check as a CHECK constraint's) and is put in parentheses.
    /// </summary>
    public static IndexDefinition Resolve(TableSchema table, DatabaseProvider provider, IReadOnlyList<string> keys, IndexMethod method,
                                          IReadOnlyList<string> include, string? where)
    {
        if (keys.Count == 0)
        {
            throw new DbOpsException(ErrorIds.ColumnNotFound, ErrorKind.InvalidArgument, $"No columns were given for the index on {table.Table}.", table.Table);
        }
        if (provider == DatabaseProvider.SQLite && (method != IndexMethod.BTree || include.Count > 0))
        {
            throw new DbOpsException(ErrorIds.IndexKindNotSupported, ErrorKind.InvalidArgument,
                $"SQLite builds B-tree indexes only, without INCLUDE columns; {table.Table} cannot have " +
                $"{(method != IndexMethod.BTree ? $"a {MethodName(method)} index" : "INCLUDE columns")}. Leave out -Using and -Include " +
                "(SQLite does support expressions and -Where).", table.Table);
        }
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
                Check(table, provider, key, "index expression");
                names.Add(key);
                sql.Add($"({key})");
            }
        }
        var includes = include.Select(c => table.GetColumn(SqlText.Unquote(c.Trim())).Name).ToList();
        var predicate = string.IsNullOrWhiteSpace(where) ? null : where.Trim();
        if (predicate is not null)
        {
            Check(table, provider, predicate, "partial-index predicate (-Where)");
        }
        return new IndexDefinition(table, names, sql, method, includes, predicate);
    }

    /// <summary>The CREATE INDEX statement (CONCURRENTLY on PostgreSQL; SQLite names the table unqualified).</summary>
    public string CreateSql(DatabaseProvider provider, string name) => CreateSql(provider, name,
        provider == DatabaseProvider.PostgreSQL ? $"{Quote(Table.Table.Schema)}.{Quote(Table.Table.Name)}" : Quote(Table.Table.Name), concurrently: true);

    private string CreateSql(DatabaseProvider provider, string name, string on, bool concurrently) =>
        $"CREATE INDEX {(concurrently && provider == DatabaseProvider.PostgreSQL ? "CONCURRENTLY " : "")}{Quote(name)} ON {on}"
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
    public async Task<string> ProbeAsync(DbOpsConnection source, CancellationToken cancellationToken)
    {
        return source.Provider == DatabaseProvider.PostgreSQL
            ? await ProbePostgresAsync(source, cancellationToken)
            : await ProbeSqliteAsync(source, cancellationToken);
    }

    private async Task<string> ProbeSqliteAsync(DbOpsConnection source, CancellationToken cancellationToken)
    {
        var sql = CreateSql(DatabaseProvider.SQLite, "dbops_index_probe");
        await using var session = await SqliteEngine.Instance.OpenReadOnlyAsync(source, cancellationToken);
        var connection = session.Connection;
        try
        {
            await connection.ExecuteAsync(new CommandDefinition("EXPLAIN " + sql, cancellationToken: cancellationToken));
        }
        catch (SqliteException e)
        {
            throw Refused(ErrorIds.InvalidIndexExpression, e.Message);
        }
        return sql;
    }

    private async Task<string> ProbePostgresAsync(DbOpsConnection source, CancellationToken cancellationToken)
    {
        var table = $"ONLY {Quote(Table.Table.Schema)}.{Quote(Table.Table.Name)}";
        var evaluated = KeySql.Where(k => k.StartsWith('(')).Concat(Where is null ? [] : [$"({Where})"]).ToList();
        if (evaluated.Count > 0)
        {
            await using var readerSession = await PostgresEngine.Instance.OpenReadOnlyAsync(source, cancellationToken);
            var reader = readerSession.Connection;
            try
            {
                await reader.ExecuteAsync(new CommandDefinition($"SELECT {string.Join(", ", evaluated)} FROM {table} LIMIT 1", cancellationToken: cancellationToken));
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ReadOnlySqlTransaction)
            {
                throw Refused(ErrorIds.QueryWouldWrite, $"{e.MessageText}: evaluating it writes to the database");
            }
            catch (PostgresException e)
            {
                throw Refused(ErrorIds.InvalidIndexExpression, e.MessageText);
            }
        }
        await using var session = await PostgresEngine.Instance.OpenWritableAsync(source, cancellationToken);
        var connection = session.Connection;
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            // LIKE copies the column names and types only; the copy is empty, so the build is instant and reads nothing.
            await connection.ExecuteAsync(new CommandDefinition(
                $"SET LOCAL lock_timeout = '5s'; CREATE TEMPORARY TABLE dbops_index_probe (LIKE {table[5..]}) ON COMMIT DROP; " +
                CreateSql(DatabaseProvider.PostgreSQL, "dbops_index_probe_ix", "pg_temp.dbops_index_probe", concurrently: false),
                transaction: transaction, cancellationToken: cancellationToken));
            var definition = await connection.ExecuteScalarAsync<string>(new CommandDefinition(
                "SELECT pg_catalog.pg_get_indexdef('pg_temp.dbops_index_probe_ix'::regclass)", transaction: transaction, cancellationToken: cancellationToken));
            var types = (await connection.QueryAsync<string>(new CommandDefinition(
                "SELECT pg_catalog.format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute " +
                "WHERE attrelid = 'pg_temp.dbops_index_probe_ix'::regclass AND attnum BETWEEN 1 AND @keys ORDER BY attnum",
                new { keys = Keys.Count }, transaction: transaction, cancellationToken: cancellationToken))).ToList();
            if (Method == IndexMethod.BTree && types.IndexOf("jsonb") is var at and >= 0)
            {
                // A B-tree on jsonb only serves equality of whole documents; the queries people mean (@>, ?, ->>) need GIN.
                throw Refused(ErrorIds.IndexKindNotSupported,
                    $"{Keys[at]} is jsonb, and a B-tree on jsonb serves only whole-document equality. Use -Using gin for containment and key " +
                    $"lookups (@>, ?, ?|), or index one value as text with an expression such as ({Keys[at]} ->> 'key')");
            }
            return definition!;
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedObject or PostgresErrorCodes.FeatureNotSupported)
        {
            // 42704: the type has no operator class for the method; 0A000: the method lacks INCLUDE or several columns.
            throw Refused(ErrorIds.IndexKindNotSupported, e.MessageText);
        }
        catch (PostgresException e)
        {
            throw Refused(ErrorIds.InvalidIndexExpression, e.MessageText);
        }
        finally
        {
            await transaction.RollbackAsync(CancellationToken.None);
        }
    }

    private DbOpsException Refused(string id, string why) => new(id, ErrorKind.InvalidArgument,
        $"A {MethodName(Method)} index on {Table.Table} ({string.Join(", ", Keys)}){(Where is null ? "" : $" WHERE {Where}")} cannot be built: {why}. " +
        "Nothing was changed; correct the columns, expressions, -Using or -Where and run Add-SafeIndex again.", Table.Table);

    private static void Check(TableSchema table, DatabaseProvider provider, string expression, string what)
    {
        // SQLite has neither escape strings nor dollar quoting, so a '$' or '\' inside a string literal (a JSON path
        // such as '$.status') cannot end it there: only the text outside literals is checked for them.
        var outside = provider == DatabaseProvider.SQLite
            ? string.Concat(SqlText.Tokens(expression).Select(t => expression.Substring(t.Start, t.Length))
                .Select(text => text.Length >= 2 && text[0] == '\'' && text[^1] == '\'' ? "''" : text))
            : expression;
        if (SqlText.ExpressionProblem(outside) is { } problem)
        {
            throw new DbOpsException(ErrorIds.InvalidIndexExpression, ErrorKind.InvalidArgument,
                $"The {what} for {table.Table} cannot be used: {problem}. Give one SQL expression, e.g. \"lower(email)\" or \"deleted_at IS NULL\".",
                expression);
        }
    }

    private static string Quote(string identifier) => IndexSql.Quote(identifier);
}
