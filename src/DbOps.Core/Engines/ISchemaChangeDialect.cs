using System.Data.Common;

namespace DbOps.Core.Engines;

/// <summary>Find-DeprecatedColumn, Rename-Table and dependents retired with a table: the catalog reads and DDL. (issue 17)</summary>
internal interface ISchemaChangeDialect
{
    /// <summary>The longest name the engine keeps whole, in UTF-8 bytes (PostgreSQL cuts longer ones silently); null for no limit.</summary>
    int? MaxNameBytes { get; }

    /// <summary>What already holds <paramref name="name"/> in the table's schema ("table", "view", "index", ...), or null when the name is free.</summary>
    Task<string?> NameHolderAsync(DbConnection connection, TableRef name, CancellationToken cancellationToken);

    /// <summary>
    /// The statements that rename <paramref name="table"/> to <paramref name="newName"/> and the objects named after it,
    /// in the order they run inside the caller's transaction, and the objects that keep a name holding the old one.
    /// </summary>
    Task<RenameSteps> RenameStepsAsync(DbConnection connection, TableRef table, string newName, CancellationToken cancellationToken);

    /// <summary>
    /// The statements, run after the rename, that leave a view under <paramref name="table"/>'s old name which reads (and
    /// where it can, writes) the table under <paramref name="newName"/>; asked before the rename, while the table has its old name.
    /// </summary>
    Task<IReadOnlyList<string>> CompatibilityViewAsync(DbConnection connection, TableRef table, string newName, CancellationToken cancellationToken);

    /// <summary>True when <paramref name="view"/> is the compatibility view DbOps left for <paramref name="table"/> (so an undo may drop it).</summary>
    Task<bool> IsCompatibilityViewAsync(DbConnection connection, TableRef view, TableRef table, CancellationToken cancellationToken);

    /// <summary>Drops a view.</summary>
    string DropViewSql(TableRef view);

    /// <summary>
    /// The views, triggers and functions among <paramref name="dependents"/> (the words <see cref="IRemovalDialect.DependentsAsync"/>
    /// gave) that can be retired with <paramref name="table"/>: each with its CREATE statement (no owner in it) and its DROP.
    /// PostgreSQL adds the triggers on other tables that call a retirable function, since the function cannot go without them.
    /// </summary>
    Task<IReadOnlyList<RetirableDependent>> RetirableDependentsAsync(DbConnection connection, TableRef table, IReadOnlyList<string> dependents,
        CancellationToken cancellationToken);
}

/// <summary>A view, trigger or function that can be dropped with the table it needs, and created again after it.</summary>
/// <param name="Name">Its name (a trigger's or function's own name, in its schema).</param>
/// <param name="Description">The words the refusal uses for it ("view public.v", "trigger t on orders", ...).</param>
/// <param name="CreateSql">The statement that creates it again.</param>
/// <param name="DropSql">The statement that drops it (never CASCADE).</param>
internal sealed record RetirableDependent(TableRef Name, string Description, string CreateSql, string DropSql);

/// <summary>A rename's DDL and what it leaves under old names.</summary>
/// <param name="Statements">The statements, the table's rename first.</param>
/// <param name="Renamed">Objects renamed with the table, as "old -> new".</param>
/// <param name="Kept">Objects whose names hold the table's old name and keep them, each with the reason.</param>
internal sealed record RenameSteps(IReadOnlyList<string> Statements, IReadOnlyList<string> Renamed, IReadOnlyList<string> Kept);
