using System.Data.Common;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Performance;

namespace DbOps.Core.Queries;

/// <summary>
/// Runs SQL a runbook writes itself (building a sample, a one-off fix, a check of its own) on a writable session,
/// exactly as written: several statements run in order, and only a transaction the SQL opens itself makes them
/// all-or-nothing. It gives scripts what they would otherwise load the module's own database drivers for.
/// </summary>
public static class DatabaseQuery
{
    /// <summary>Runs <paramref name="sql"/> and reads every row it returns.</summary>
    /// <param name="connection">The database.</param>
    /// <param name="sql">One statement or several. Values as @name placeholders (or $1, $2 on PostgreSQL with keys "1", "2").</param>
    /// <param name="parameters">Values by name (without the @), or null.</param>
    /// <param name="cancellationToken">Stops the statement.</param>
    /// <returns>
    /// The rows of every statement that returns rows, in order; each row's columns in the order selected, a repeated
    /// column name numbered (id, id1) and NULL as null.
    /// </returns>
    public static async Task<IReadOnlyList<IReadOnlyList<KeyValuePair<string, object?>>>> RunAsync(
        DbOpsConnection connection, string sql, IReadOnlyDictionary<string, object?>? parameters, CancellationToken cancellationToken)
    {
        var engine = DatabaseEngines.For(connection);
        await using var session = await engine.OpenWritableAsync(connection, cancellationToken);
        await using var command = QueryMeasurement.CreateCommand(engine.Tuning, session.Connection, null, sql, parameters);
        var rows = new List<IReadOnlyList<KeyValuePair<string, object?>>>();
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            do
            {
                var columns = ColumnNames(reader);
                while (await reader.ReadAsync(cancellationToken))
                {
                    var row = new KeyValuePair<string, object?>[columns.Length];
                    for (var i = 0; i < columns.Length; i++)
                    {
                        row[i] = new(columns[i], reader.IsDBNull(i) ? null : reader.GetValue(i));
                    }
                    rows.Add(row);
                }
            }
            while (await reader.NextResultAsync(cancellationToken));
        }
        catch (DbException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DbOpsException(ErrorIds.QueryFailed, ErrorKind.OperationFailed,
                $"The SQL failed on {connection}: {(e.SqlState is { Length: > 0 } state ? state + ": " : "")}{e.Message}",
                QueryMeasurement.Shorten(sql), e);
        }
        return rows;
    }

    private static string[] ColumnNames(DbDataReader reader)
    {
        var names = new string[reader.FieldCount];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < names.Length; i++)
        {
            var name = reader.GetName(i);
            var unique = name;
            for (var n = 1; !seen.Add(unique); n++)
            {
                unique = name + n;
            }
            names[i] = unique;
        }
        return names;
    }
}
