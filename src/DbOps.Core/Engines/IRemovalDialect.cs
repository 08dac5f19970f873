using System.Data.Common;
using DbOps.Core.Schema;

namespace DbOps.Core.Engines;

/// <summary>What Remove-DeprecatedTable says to one engine: the statements that lock a table, and the catalog of what needs it.</summary>
internal interface IRemovalDialect
{
    /// <summary>Whether -DropInboundForeignKeys can drop other tables' foreign keys first (SQLite cannot drop a constraint).</summary>
    bool CanDropForeignKeys { get; }

    /// <summary>The statements that open the removal's transaction and lock the table, waiting at most <paramref name="lockTimeout"/>.</summary>
    IReadOnlyList<string> LockStatements(TableRef table, TimeSpan lockTimeout);

    /// <summary>Drops another table's foreign key (only where <see cref="CanDropForeignKeys"/>).</summary>
    string DropForeignKeySql(ForeignKeyInfo foreignKey);

    /// <summary>What needs the table besides foreign keys (views, functions, triggers elsewhere, ...), in words; asked under the lock.</summary>
    Task<IReadOnlyList<string>> DependentsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken);
}

/// <summary>The refusals DbOps explains in its own words.</summary>
internal enum RefusalKind
{
    /// <summary>A lock was not granted in time.</summary>
    LockNotGranted,

    /// <summary>The role may not do this.</summary>
    InsufficientPrivilege,

    /// <summary>Other objects still need what was to be dropped.</summary>
    DependentObjects,
}

/// <summary>A statement the engine refused, and why.</summary>
/// <param name="Kind">Which refusal.</param>
/// <param name="Reason">The engine's words, to quote in the message.</param>
internal sealed record DatabaseRefusal(RefusalKind Kind, string Reason);
