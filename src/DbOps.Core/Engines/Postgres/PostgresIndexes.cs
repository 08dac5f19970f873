using System.Data.Common;
using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Indexes;
using DbOps.Core.Progress;
using DbOps.Core.Schema;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's side of Add-SafeIndex and Find/Remove-UnusedIndex: the build probe, INVALID leftovers, scan counters.</summary>
internal static class PostgresIndexes
{
    /// <summary>Scans and size of every user index (usage counters, not catalog structure: that comes from the Schema layer).</summary>
    private const string IndexScansSql = """
        SELECT s.schemaname::text AS "Schema", s.indexrelname::text AS "Index", s.idx_scan AS "Scans",
               pg_catalog.pg_relation_size(s.indexrelid) AS "SizeBytes"
        FROM pg_catalog.pg_stat_user_indexes s
        """;

    /// <summary>
    /// The keys and predicate are evaluated on one live row in a read-only transaction (a write through a function
    /// fails there), then the index is created on an empty temporary copy of the table in a transaction that is rolled
    /// back: the server's own verdict on the method, the column types and IMMUTABLE functions.
    /// </summary>
    public static async Task<string> ProbeAsync(DbOpsConnection source, IndexDefinition index, CancellationToken cancellationToken)
    {
        var table = $"ONLY {index.Table.Table.ToQuotedName()}";
        var evaluated = index.KeySql.Where(k => k.StartsWith('(')).Concat(index.Where is null ? [] : [$"({index.Where})"]).ToList();
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
                throw index.Refused(ErrorIds.QueryWouldWrite, $"{e.MessageText}: evaluating it writes to the database");
            }
            catch (PostgresException e)
            {
                throw index.Refused(ErrorIds.InvalidIndexExpression, e.MessageText);
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
                index.CreateSql("CREATE INDEX", "dbops_index_probe_ix", "pg_temp.dbops_index_probe"),
                transaction: transaction, cancellationToken: cancellationToken));
            var definition = await connection.ExecuteScalarAsync<string>(new CommandDefinition(
                "SELECT pg_catalog.pg_get_indexdef('pg_temp.dbops_index_probe_ix'::regclass)", transaction: transaction, cancellationToken: cancellationToken));
            var types = (await connection.QueryAsync<string>(new CommandDefinition(
                "SELECT pg_catalog.format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute " +
                "WHERE attrelid = 'pg_temp.dbops_index_probe_ix'::regclass AND attnum BETWEEN 1 AND @keys ORDER BY attnum",
                new { keys = index.Keys.Count }, transaction: transaction, cancellationToken: cancellationToken))).ToList();
            if (index.Method == IndexMethod.BTree && types.IndexOf("jsonb") is var at and >= 0)
            {
                // A B-tree on jsonb only serves equality of whole documents; the queries people mean (@>, ?, ->>) need GIN.
                throw index.Refused(ErrorIds.IndexKindNotSupported,
                    $"{index.Keys[at]} is jsonb, and a B-tree on jsonb serves only whole-document equality. Use -Using gin for containment and key " +
                    $"lookups (@>, ?, ?|), or index one value as text with an expression such as ({index.Keys[at]} ->> 'key')");
            }
            return definition!;
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedObject or PostgresErrorCodes.FeatureNotSupported)
        {
            // 42704: the type has no operator class for the method; 0A000: the method lacks INCLUDE or several columns.
            throw index.Refused(ErrorIds.IndexKindNotSupported, e.MessageText);
        }
        catch (PostgresException e)
        {
            throw index.Refused(ErrorIds.InvalidIndexExpression, e.MessageText);
        }
        finally
        {
            await transaction.RollbackAsync(CancellationToken.None);
        }
    }

    /// <summary>A failed or cancelled concurrent build leaves an INVALID index behind; remove it on a fresh connection.</summary>
    public static async Task DropInvalidLeftoverAsync(DbOpsConnection source, IndexChangePlan plan, IOperationObserver observer)
    {
        var sql = IndexSql.Drop(PostgresTuning.Instance, plan.TableRef.Schema, plan.Index, ifExists: true);
        try
        {
            await using var session = await PostgresEngine.Instance.OpenWritableAsync(source, CancellationToken.None);
            var connection = session.Connection;
            // Only an INVALID index of that name on that table is ours to drop: the build may have failed on a name clash.
            var schema = await SchemaReader.ReadAsync(PostgresEngine.Instance, connection, CancellationToken.None);
            if (schema.Find(plan.TableRef)?.Indexes.Any(i => i.Name == plan.Index && !i.IsValid) != true)
            {
                return;
            }
            await connection.ExecuteAsync(new CommandDefinition(sql, commandTimeout: 0));
            observer.Verbose($"Cleaned up after the failed build: {sql}");
        }
        catch (Exception e) when (e is DbException or DbOpsException)
        {
            observer.Warning($"The failed build of {plan.Target} may have left an INVALID index, and dropping it failed ({e.Message}). Run: {sql}");
        }
    }

    public static async Task<IReadOnlyList<IndexScans>> ReadScansAsync(DbConnection connection, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<IndexScans>(new CommandDefinition(IndexScansSql, cancellationToken: cancellationToken))).ToList();
}
