using System.Data.Common;
using System.Globalization;
using DbOps.Core.Errors;

namespace DbOps.Core.Moves;

/// <summary>Runs the statements of a move and turns key values into the text samples show.</summary>
internal static class MoveSql
{
    public static async Task<List<T>> ReadAsync<T>(DbConnection connection, DbTransaction? transaction, string sql,
        IReadOnlyList<object?>? parameters, Func<DbDataReader, T> row, CancellationToken cancellationToken, int limit = int.MaxValue)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (rows.Count < limit && await reader.ReadAsync(cancellationToken))
        {
            rows.Add(row(reader));
        }
        return rows;
    }

    public static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, IReadOnlyList<object?>? parameters, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A command whose @p0, @p1, ... are <paramref name="parameters"/>.</summary>
    private static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, IReadOnlyList<object?>? parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.CommandTimeout = 0;
        for (var i = 0; i < (parameters?.Count ?? 0); i++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = Parameter(i);
            parameter.Value = parameters![i] ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    public static string Parameter(int i) => "@p" + i.ToString(CultureInfo.InvariantCulture);

    /// <summary>The first <paramref name="count"/> columns as key values.</summary>
    public static object[] KeyValues(DbDataReader reader, int count) => Enumerable.Range(0, count).Select(reader.GetValue).ToArray();

    /// <summary>A key as samples show it: the value, or (a, b) for a composite key.</summary>
    public static string KeyText(IReadOnlyList<object> values) => values.Count == 1
        ? Text(values[0])
        : "(" + string.Join(", ", values.Select(Text)) + ")";

    private static string Text(object value) => value switch
    {
        DBNull => "NULL",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        byte[] b => Convert.ToHexString(b),
        _ => value.ToString() ?? "",
    };

    /// <summary>
    /// Refuses a side whose key holds NULL or repeats (with samples of the repeats), so every row pairs with at most one
    /// row on the other side. A table with a unique key on exactly those NOT NULL columns needs no scan for it.
    /// </summary>
    public static async Task RequireUsableKeyAsync(MapSide side, string what, DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var keys = Enumerable.Range(0, side.KeyCount).Select(i => MapSide.Key(i)).ToList();
        if (side.Table is { } table && side.KeyColumns.All(k => table.FindColumn(k) is { IsNullable: false }) && table.HasUniqueKeyOn(side.KeyColumns.ToList()))
        {
            return;
        }
        var nulls = await ReadAsync(connection, transaction,
            $"SELECT count(*) FROM ({side.Select()}) AS \"r\" WHERE {string.Join(" OR ", keys.Select(k => k + " IS NULL"))}", null,
            r => Convert.ToInt64(r.GetValue(0), CultureInfo.InvariantCulture), cancellationToken);
        if (nulls[0] > 0)
        {
            throw new DbOpsException(ErrorIds.MoveKeyNull, ErrorKind.InvalidData,
                $"{nulls[0]} row(s) of the {what} ({side.Name}) have a NULL key, so they cannot be matched; narrow the {what} (-Where) or fix those rows first.", side.Name);
        }
        var duplicates = await ReadAsync(connection, transaction,
            $"SELECT {string.Join(", ", keys)}, count(*) FROM ({side.Select()}) AS \"r\" GROUP BY {string.Join(", ", keys)} HAVING count(*) > 1 ORDER BY {string.Join(", ", keys)}",
            null, r => $"{KeyText(KeyValues(r, side.KeyCount))} x{r.GetValue(side.KeyCount)}", cancellationToken, limit: 10);
        if (duplicates.Count > 0)
        {
            throw new DbOpsException(ErrorIds.MoveKeyNotUnique, ErrorKind.InvalidData,
                $"The key is not unique in the {what} ({side.Name}): {string.Join(", ", duplicates)}{(duplicates.Count == 10 ? ", ..." : "")}. " +
                "Give a key that identifies one row on each side (a composite key: -Key a,b).", side.Name);
        }
    }
}
