using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.Core.Constraints;

/// <summary>What Add-SafeConstraint did with one constraint.</summary>
public enum ConstraintStatus
{
    /// <summary>The constraint was added and validated against every row.</summary>
    Added,
    /// <summary>Rows violate the constraint; nothing was changed.</summary>
    Blocked,
    /// <summary>An equivalent constraint already exists; nothing was changed.</summary>
    AlreadyPresent,
}

/// <summary>The outcome of adding one constraint: identity, status, the violations found and the statements run.</summary>
public sealed class ConstraintResult
{
    internal ConstraintResult(ConstraintPlan plan, ConstraintStatus status, long violationCount, IReadOnlyList<string> sample,
        IReadOnlyList<string> statements, int lockWaitRetries, TimeSpan duration)
    {
        Provider = plan.Provider;
        Database = plan.Database;
        Schema = plan.Table.Schema;
        Table = plan.Table.ToString();
        Name = plan.Name;
        Kind = plan.Kind;
        Definition = plan.Definition;
        Status = status;
        ViolationCount = violationCount;
        Sample = ValueList.Of(sample);
        ViolationQuery = plan.ViolationQuery;
        Method = plan.Method;
        Statements = ValueList.Of(statements);
        LockWaitRetries = lockWaitRetries;
        Duration = duration;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The PostgreSQL database name or the SQLite file path.</summary>
    public string Database { get; }

    /// <summary>The table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The table, as schema.name (SQLite: name).</summary>
    public string Table { get; }

    /// <summary>The constraint's name (for NOT NULL: the name of the helper check used on PostgreSQL).</summary>
    public string Name { get; }

    /// <summary>CHECK, UNIQUE, NOT NULL or FOREIGN KEY.</summary>
    public ConstraintKind Kind { get; }

    /// <summary>The constraint as SQL, e.g. <c>CHECK (deadline &gt;= created_at)</c>.</summary>
    public string Definition { get; }

    /// <summary>Added, Blocked or AlreadyPresent.</summary>
    public ConstraintStatus Status { get; }

    /// <summary>How many rows violate the constraint (UNIQUE: rows beyond the first of each duplicate key).</summary>
    public long ViolationCount { get; }

    /// <summary>Up to 10 keys (primary key values; rowid or ctid without one) of violating rows, in key order.</summary>
    public IReadOnlyList<string> Sample { get; }

    /// <summary>A query that lists every violating row.</summary>
    public string ViolationQuery { get; }

    /// <summary>How the constraint goes on, e.g. NotValidThenValidate, ConcurrentUniqueIndex, TableRebuild.</summary>
    public string Method { get; }

    /// <summary>The statements run, in order (empty when nothing was run).</summary>
    public IReadOnlyList<string> Statements { get; }

    /// <summary>How many times a statement gave up waiting for a lock (lock_timeout) and was retried.</summary>
    public int LockWaitRetries { get; }

    /// <summary>Wall time of the whole operation, preflight included.</summary>
    public TimeSpan Duration { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Table} {Name}: {Status}";
}
