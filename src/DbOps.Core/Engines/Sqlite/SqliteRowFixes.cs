using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

/// <summary>SQLite's half of <see cref="IRowFixDialect"/>.</summary>
internal sealed class SqliteRowFixes : IRowFixDialect
{
    public static readonly SqliteRowFixes Instance = new();

    /// <summary>SQLite has no table inheritance.</summary>
    public Task<IReadOnlyList<TableRef>> InheritorsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<TableRef>>([]);

    /// <summary>BEGIN IMMEDIATE takes the database's write lock, waiting up to the busy timeout; readers go on.</summary>
    public IReadOnlyList<string> LockStatements(TableRef table, TimeSpan lockTimeout) =>
    [
        $"PRAGMA busy_timeout = {Math.Max(1, (long)lockTimeout.TotalMilliseconds)}",
        "BEGIN IMMEDIATE",
    ];

    public async Task<DbTransaction> BeginLockedAsync(DbConnection connection, TableRef table, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(LockStatements(table, lockTimeout)[0], cancellationToken: cancellationToken));
        return ((SqliteConnection)connection).BeginTransaction(deferred: false);
    }

    /// <summary>None: BEGIN IMMEDIATE already keeps every other writer off the whole database.</summary>
    public IReadOnlyList<string> LockReferencingStatements(IReadOnlyList<TableRef> referencing) => [];

    /// <summary>A deferred transaction: writing only the temp schema, it never takes the database's write lock.</summary>
    public Task<DbTransaction> BeginScratchAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: true));

    public TableRef PriorImageTable { get; } = new("temp", "dbops_prior_image");

    /// <summary>
    /// The columns' declared types become their affinities, which give the archived values the storage classes they had.
    /// The temp schema is rolled back with the transaction too.
    /// </summary>
    public string CreatePriorImageTableSql(TableRef table, IReadOnlyList<string> columns) =>
        $"CREATE TEMP TABLE {TableRef.QuoteIdentifier(PriorImageTable.Name)} AS " +
        $"SELECT {string.Join(", ", columns.Select(TableRef.QuoteIdentifier))} FROM {table.ToQuotedName()} WHERE 0";

    public IReadOnlyList<string> IndexPriorImageSql(IReadOnlyList<string> key) =>
        [$"CREATE INDEX {TableRef.QuoteIdentifier(PriorImageTable.Schema)}.\"dbops_prior_image_key\" ON {TableRef.QuoteIdentifier(PriorImageTable.Name)} " +
         $"({string.Join(", ", key.Select(TableRef.QuoteIdentifier))})"];
}
