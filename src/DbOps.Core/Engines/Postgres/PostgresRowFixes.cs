using System.Data.Common;
using Dapper;

namespace DbOps.Core.Engines;

/// <summary>PostgreSQL's half of <see cref="IRowFixDialect"/>.</summary>
internal sealed class PostgresRowFixes : IRowFixDialect
{
    public static readonly PostgresRowFixes Instance = new();

    /// <summary>SHARE ROW EXCLUSIVE: no other session inserts, updates or deletes rows (or takes this lock) until the fix ends; reads go on.</summary>
    public IReadOnlyList<string> LockStatements(TableRef table, TimeSpan lockTimeout) =>
    [
        "BEGIN",
        $"SET LOCAL lock_timeout = '{Math.Max(1, (long)lockTimeout.TotalMilliseconds)}ms'",
        $"LOCK TABLE {table.ToQuotedName()} IN SHARE ROW EXCLUSIVE MODE",
    ];

    public async Task<IReadOnlyList<TableRef>> InheritorsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<(string Schema, string Name)>(new CommandDefinition("""
            SELECT n.nspname, c.relname FROM pg_catalog.pg_inherits i
            JOIN pg_catalog.pg_class p ON p.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
            JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE pn.nspname = @schema AND p.relname = @name AND p.relkind = 'r'
            ORDER BY 1, 2
            """, new { schema = table.Schema, name = table.Name }, cancellationToken: cancellationToken)))
        .Select(t => new TableRef(t.Schema, t.Name)).ToList();

    public async Task<DbTransaction> BeginLockedAsync(DbConnection connection, TableRef table, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            foreach (var sql in LockStatements(table, lockTimeout).Skip(1))
            {
                await connection.ExecuteAsync(new CommandDefinition(sql, transaction: transaction, cancellationToken: cancellationToken));
            }
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }

    /// <summary>SHARE ROW EXCLUSIVE on the referencing tables too: an INSERT there would otherwise land between the check and the COMMIT.</summary>
    public IReadOnlyList<string> LockReferencingStatements(IReadOnlyList<TableRef> referencing) =>
        referencing.Count == 0 ? [] : [$"LOCK TABLE {string.Join(", ", referencing.Select(t => t.ToQuotedName()))} IN SHARE ROW EXCLUSIVE MODE"];

    public async Task<DbTransaction> BeginScratchAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(cancellationToken);

    public TableRef PriorImageTable { get; } = new("pg_temp", "dbops_prior_image");

    /// <summary>CREATE TABLE AS keeps each column's type (typmod, domain, array) exactly; a rollback takes the table away too.</summary>
    public string CreatePriorImageTableSql(TableRef table, IReadOnlyList<string> columns) =>
        $"CREATE TEMP TABLE {TableRef.QuoteIdentifier(PriorImageTable.Name)} AS " +
        $"SELECT {string.Join(", ", columns.Select(TableRef.QuoteIdentifier))} FROM {table.ToQuotedName()} WITH NO DATA";

    /// <summary>Autovacuum never analyzes a temporary table: without ANALYZE the planner would not know the index pays.</summary>
    public IReadOnlyList<string> IndexPriorImageSql(IReadOnlyList<string> key) =>
    [
        $"CREATE INDEX ON {PriorImageTable.ToQuotedName()} ({string.Join(", ", key.Select(TableRef.QuoteIdentifier))})",
        $"ANALYZE {PriorImageTable.ToQuotedName()}",
    ];
}
