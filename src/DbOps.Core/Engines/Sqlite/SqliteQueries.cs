using System.Data.Common;
using DbOps.Core.Performance;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

/// <summary>SQLite's side of Measure-QueryPerformance: classifying a statement and reading EXPLAIN QUERY PLAN.</summary>
internal static class SqliteQueries
{
    /// <summary>
    /// SQLite's own answer (sqlite3_stmt_readonly) on a read-only connection; one statement only, because
    /// a second one would run unmeasured and unclassified.
    /// </summary>
    public static async Task<bool> ModifiesAsync(QueryMeasurementRequest request, CancellationToken cancellationToken)
    {
        var query = request.Query;
        await using var session = await SqliteEngine.Instance.OpenReadOnlyAsync(request.Connection, cancellationToken);
        var connection = (SqliteConnection)session.Connection;
        var rc = SQLitePCL.raw.sqlite3_prepare_v2(connection.Handle, query, out var statement, out var tail);
        using (statement)
        {
            if (rc != SQLitePCL.raw.SQLITE_OK)
            {
                throw new SqliteException(SQLitePCL.raw.sqlite3_errmsg(connection.Handle).utf8_to_string(), rc);
            }
            if (statement.IsInvalid || HasAnotherStatement(connection, tail))
            {
                throw QueryMeasurement.MoreThanOneStatement(query);
            }
            return SQLitePCL.raw.sqlite3_stmt_readonly(statement) == 0;
        }
    }

    /// <summary>True when the text after the first statement holds another one (not just blanks, semicolons or comments).</summary>
    private static bool HasAnotherStatement(SqliteConnection connection, string tail)
    {
        while (!string.IsNullOrWhiteSpace(tail))
        {
            if (SQLitePCL.raw.sqlite3_prepare_v2(connection.Handle, tail, out var next, out var rest) != SQLitePCL.raw.SQLITE_OK)
            {
                return true;
            }
            using (next)
            {
                if (!next.IsInvalid)
                {
                    return true;
                }
            }
            if (rest.Length >= tail.Length)
            {
                return false;
            }
            tail = rest;
        }
        return false;
    }

    public static async Task<QueryPlanSummary> ExplainQueryPlanAsync(DbConnection connection, DbTransaction? transaction, QueryMeasurementRequest request,
        Action<string> progress, CancellationToken cancellationToken)
    {
        progress("EXPLAIN QUERY PLAN");
        await using var explain = QueryMeasurement.CreateCommand(
            SqliteTuning.Instance, connection, transaction, "EXPLAIN QUERY PLAN " + request.Query, request.Parameters);
        var planRows = new List<SqlitePlanReader.Row>();
        await using (var reader = await explain.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                planRows.Add(new SqlitePlanReader.Row(reader.GetInt64(0), reader.GetInt64(1), reader.GetString(3)));
            }
        }
        return await SqlitePlanReader.SummariseAsync(planRows, request.Query, connection, cancellationToken);
    }
}
