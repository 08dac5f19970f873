using System.Globalization;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Constraints;

/// <summary>What one step of a plan is, which decides how it is run and retried.</summary>
internal enum StepKind
{
    /// <summary>A setting or a plain statement; run once.</summary>
    Setting,
    /// <summary>DDL that takes a strong lock for a moment: run under lock_timeout, retried with backoff.</summary>
    Locking,
    /// <summary>VALIDATE CONSTRAINT: scans the table under a lock that lets writers through.</summary>
    Validate,
    /// <summary>CREATE/DROP INDEX CONCURRENTLY: outside any transaction; a failed attempt leaves an INVALID index.</summary>
    Concurrent,
    /// <summary>A query whose answer decides whether the plan goes on (SQLite rebuild checks).</summary>
    Check,
}

/// <summary>What a SQLite rebuild step is for, so the executor knows which answers to check.</summary>
internal enum RebuildRole { None, Begin, Commit, SchemaUnchanged, Preflight, CountBefore, CountAfter, ForeignKeyCheckBefore, ForeignKeyCheckAfter, ReadSequence, RestoreSequence, IntegrityCheck, WithTableName }

/// <summary>
/// One statement of a plan; PostgreSQL: the statement that undoes it once it ran; SQLite: its role in the rebuild and
/// the answer expected from it.
/// </summary>
internal sealed record PlannedStep(string Sql, StepKind Kind, string? Undo = null, RebuildRole Role = RebuildRole.None, string? Expected = null);

/// <summary>
/// What Add-SafeConstraint will do for one constraint, worked out without changing anything: the resolved table
/// and name, the preflight's violations, and the exact statements in order. Under -WhatIf it is all that runs.
/// </summary>
public sealed class ConstraintPlan
{
    internal ConstraintPlan(DbOpsConnection connection, TableSchema table, ConstraintKind kind, string name, string definition,
        string method, string violationQuery, IReadOnlyList<PlannedStep> steps)
    {
        Connection = connection;
        TableSchema = table;
        Kind = kind;
        Name = name;
        Definition = definition;
        Method = method;
        ViolationQuery = violationQuery;
        Steps = steps;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider => Connection.Provider;

    /// <summary>The PostgreSQL database name or the SQLite file path.</summary>
    public string Database => Connection.Database;

    /// <summary>The table the constraint goes on.</summary>
    public TableRef Table => TableSchema.Table;

    /// <summary>CHECK, UNIQUE, NOT NULL or FOREIGN KEY.</summary>
    public ConstraintKind Kind { get; }

    /// <summary>The constraint's name, given or derived from the table and columns.</summary>
    public string Name { get; }

    /// <summary>The constraint as SQL.</summary>
    public string Definition { get; }

    /// <summary>How the constraint goes on (NotValidThenValidate, ConcurrentUniqueIndex, ValidatedCheckThenSetNotNull, TableRebuild).</summary>
    public string Method { get; }

    /// <summary>A query listing every row that violates the constraint.</summary>
    public string ViolationQuery { get; }

    /// <summary>AlreadyPresent or Blocked when the preflight settled it; null when the statements are to be run.</summary>
    public ConstraintStatus? Outcome { get; internal set; }

    /// <summary>Rows violating the constraint, found by the preflight.</summary>
    public long ViolationCount { get; internal set; }

    /// <summary>Keys of up to 10 violating rows.</summary>
    public IReadOnlyList<string> Sample { get; internal set; } = [];

    /// <summary>The statements that would run, in order (empty when there is nothing to do).</summary>
    public IReadOnlyList<string> Statements => Outcome is null ? Steps.Select(s => s.Sql).ToList() : [];

    /// <summary>
    /// One line for -Confirm and the head of -WhatIf (the statements follow it): what goes on which table, how, and
    /// in how many statements; or, for a plan the preflight settled, that it is Blocked (with the count and first
    /// keys) or already present.
    /// </summary>
    public string Summary => Outcome switch
    {
        ConstraintStatus.Blocked =>
            $"Blocked: {ViolationCount.ToString("N0", CultureInfo.InvariantCulture)} row(s) of {Table} violate {Definition}; nothing would change. " +
            $"First keys: {string.Join(", ", Sample)}.",
        ConstraintStatus.AlreadyPresent => $"Already present: {Definition} on {Table} as {Name}; nothing to do.",
        _ => $"Add {Definition} to {Table} as {Name} ({Method}, {Steps.Count} statements; no row violates it).",
    };

    internal DbOpsConnection Connection { get; }

    /// <summary>The constrained columns (the referencing ones of a foreign key); none for CHECK.</summary>
    internal IReadOnlyList<string> Columns { get; init; } = [];

    internal TableSchema TableSchema { get; }

    internal IReadOnlyList<PlannedStep> Steps { get; set; }

    /// <summary>The preflight query: the total number of violations and the keys of the first 10.</summary>
    internal string PreflightSql { get; set; } = "";

        internal TimeSpan PlanningTime { get; set; }

    /// <summary>
    /// The equivalent constraint is declared but the engine never checked the existing rows against it (SQLite
    /// foreign keys): it counts as present only when the preflight finds no violating row.
    /// </summary>
    internal bool PresentButUnchecked { get; init; }

    /// <summary>The result for a plan that settled without running anything.</summary>
    internal ConstraintResult Settled() =>
        new(this, Outcome ?? throw new InvalidOperationException("The plan has statements to run."), ViolationCount, Sample, [], 0, PlanningTime);
}
