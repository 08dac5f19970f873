using Dapper;
using DbOps.Core.Integrity;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

/// <summary>StorageIntegrity on SQLite: its own checks (quick_check, or integrity_check and foreign_key_check at Full).</summary>
internal sealed class SqliteStorageChecks : IStorageChecks
{
    public static readonly SqliteStorageChecks Instance = new();

    /// <summary>The whole file at once when no table was named, else each named table.</summary>
    public IEnumerable<IntegrityProbe> Plan(IntegrityLevel level, IReadOnlyList<TableSchema> tables, bool wholeDatabase)
    {
        var full = level == IntegrityLevel.Full;
        if (full)
        {
            yield return new SqliteForeignKeyCheckProbe();
        }
        if (wholeDatabase)
        {
            yield return new SqliteCheckProbe(null, full);
        }
        else
        {
            foreach (var table in tables)
            {
                yield return new SqliteCheckProbe(table.Table, full);
            }
        }
    }

    /// <summary>SQLite PRAGMA quick_check / integrity_check, of the whole file or one table.</summary>
    private sealed class SqliteCheckProbe(TableRef? table, bool full)
        : IntegrityProbe(IntegrityCheck.StorageIntegrity, table, [], $"PRAGMA {(full ? "integrity_check" : "quick_check")}{(table is null ? "" : $" of {table}")}")
    {
        public override async Task<IReadOnlyList<IntegrityFinding>> RunAsync(ProbeContext context, CancellationToken cancellationToken)
        {
            var pragma = full ? "integrity_check" : "quick_check";
            var statement = Table is null ? $"PRAGMA {pragma}" : $"PRAGMA {pragma}({context.Sql.Quote(Table.Name)})";
            var messages = (await context.Db.QueryAsync<string>(new CommandDefinition(statement, transaction: context.Transaction,
                commandTimeout: 0, cancellationToken: cancellationToken))).ToList();
            if (messages is ["ok"])
            {
                return [];
            }
            return [new IntegrityFinding(context.Connection, Check, IntegritySeverity.Error, Table, [], messages.Count,
                messages.Take(IntegritySql.SampleSize).ToList(), [], statement,
                $"{pragma} reported {messages.Count} problem(s){(messages.Count >= 100 ? " (it stops at 100)" : "")}: {messages[0]}" +
                " Restore from a verified backup, or rebuild the damaged indexes with REINDEX.")];
        }
    }

    /// <summary>
    /// SQLite PRAGMA foreign_key_check at Full. The rows it lists are the Declared OrphanedRows findings (which come
    /// with keys and a query), so only what those cannot see is reported here: a foreign key SQLite cannot check at
    /// all ("foreign key mismatch": the parent columns are not a primary key or unique index), which also means
    /// enforcement with foreign_keys on would fail every write to the child.
    /// </summary>
    private sealed class SqliteForeignKeyCheckProbe() : IntegrityProbe(IntegrityCheck.StorageIntegrity, null, [], "PRAGMA foreign_key_check")
    {
        public override async Task<IReadOnlyList<IntegrityFinding>> RunAsync(ProbeContext context, CancellationToken cancellationToken)
        {
            try
            {
                await context.Db.ExecuteScalarAsync<long>(new CommandDefinition("SELECT count(*) FROM pragma_foreign_key_check",
                    transaction: context.Transaction, commandTimeout: 0, cancellationToken: cancellationToken));
                return [];
            }
            catch (SqliteException e) when (e.Message.Contains("foreign key mismatch", StringComparison.OrdinalIgnoreCase))
            {
                var message = SqliteInspection.ServerMessage(e);
                return [new IntegrityFinding(context.Connection, Check, IntegritySeverity.Error, null, [], 1, [message], [], "PRAGMA foreign_key_check",
                    $"PRAGMA foreign_key_check cannot check a declared foreign key ({message}): its parent columns are not a primary key or " +
                    "unique index, so with foreign_keys on every write to the child fails. Add the unique index or fix the foreign key.")];
            }
        }
    }
}
