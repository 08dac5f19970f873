using DbOps.Core.Connections;
using DbOps.Core.Constraints;
using DbOps.Core.Schema;

namespace DbOps.Core.Integrity;

/// <summary>The kinds of check Test-DataIntegrity runs; a finding's <see cref="IntegrityFinding.Check"/>.</summary>
public enum IntegrityCheck
{
    /// <summary>Child rows whose reference has no parent row (declared, inferred or specified relationships).</summary>
    OrphanedRows,
    /// <summary>NULLs in columns named as required.</summary>
    NullValues,
    /// <summary>Nullable columns that hold no NULL at all: ready for NOT NULL.</summary>
    NotNullCandidate,
    /// <summary>Rows repeating a value of a key named as unique.</summary>
    DuplicateKeys,
    /// <summary>Rows violating a CHECK constraint left NOT VALID, or a condition given by the caller.</summary>
    CheckViolation,
    /// <summary>Storage-level checks: SQLite quick_check/integrity_check and foreign_key_check, PostgreSQL amcheck.</summary>
    StorageIntegrity,
}

/// <summary>How serious a finding is.</summary>
public enum IntegritySeverity
{
    /// <summary>For information (e.g. a column ready for NOT NULL).</summary>
    Info,
    /// <summary>Probably a problem, but resting on a guess (an inferred relationship) or a check that could not run fully.</summary>
    Warning,
    /// <summary>Data that breaks a declared or stated rule.</summary>
    Error,
}

/// <summary>How deep Test-DataIntegrity looks; each level documents the locks it takes (docs/cmdlets/Test-DataIntegrity.md).</summary>
public enum IntegrityLevel
{
    /// <summary>Stated rules, declared foreign keys that cannot be trusted, NOT VALID checks, SQLite quick_check.</summary>
    Quick,
    /// <summary>Quick plus every declared foreign key and the relationships inferred from names.</summary>
    Standard,
    /// <summary>Standard plus NOT NULL candidates, SQLite integrity_check and PostgreSQL amcheck.</summary>
    Full,
}

/// <summary>One problem Test-DataIntegrity found: what, where, how many rows, which ones, and how to see them all.</summary>
public sealed class IntegrityFinding
{
    internal IntegrityFinding(
        DbOpsConnection connection, IntegrityCheck check, IntegritySeverity severity, Engines.TableRef? table,
        IReadOnlyList<string> columns, long count, IReadOnlyList<string> sample, IReadOnlyList<string> sampleKeyColumns,
        string? query, string message, RelationshipSource? relationship = null, Engines.TableRef? referencedTable = null,
        IReadOnlyList<string>? referencedColumns = null, string? constraintName = null, ConstraintSpec? suggestedConstraint = null)
    {
        Source = connection;
        Provider = connection.Provider;
        Database = connection.Database;
        Schema = table?.Schema;
        Table = table?.ToString();
        TableRef = table;
        ReferencedTableRef = referencedTable;
        Check = check;
        Severity = severity;
        Columns = ValueList.Of(columns);
        Count = count;
        Sample = ValueList.Of(sample);
        SampleKeyColumns = ValueList.Of(sampleKeyColumns);
        Query = query;
        Message = message;
        Relationship = relationship;
        ReferencedTable = referencedTable?.ToString();
        ReferencedColumns = ValueList.Of(referencedColumns ?? []);
        ConstraintName = constraintName;
        SuggestedConstraint = suggestedConstraint;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The connection it was found on, so Add-SafeConstraint can add the suggested constraint there.</summary>
    public DbOpsConnection Source { get; }

    /// <summary>The PostgreSQL database name, or the SQLite file's full path.</summary>
    public string Database { get; }

    /// <summary>The table's schema ("main" for SQLite); null for database-wide findings.</summary>
    public string? Schema { get; }

    /// <summary>The table as schema.name (SQLite: name); null for database-wide findings.</summary>
    public string? Table { get; }

    /// <summary>Which check found it.</summary>
    public IntegrityCheck Check { get; }

    /// <summary>Error, Warning or Info.</summary>
    public IntegritySeverity Severity { get; }

    /// <summary>The columns involved (the referencing columns of an orphan, the key of a duplicate, ...).</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Rows affected (for duplicates: rows repeating a value already held by an earlier row).</summary>
    public long Count { get; }

    /// <summary>Up to 10 offending rows, by their key (<see cref="SampleKeyColumns"/>), lowest first; composite keys as "(a, b)".</summary>
    public IReadOnlyList<string> Sample { get; }

    /// <summary>The columns the sample keys are values of: the primary key, else a unique key, else rowid (SQLite) or ctid (PostgreSQL).</summary>
    public IReadOnlyList<string> SampleKeyColumns { get; }

    /// <summary>The SQL a person can run to list every offending row (read-only; it returns <see cref="Count"/> rows).</summary>
    public string? Query { get; }

    /// <summary>What was found, in words.</summary>
    public string Message { get; }

    /// <summary>For orphans: whether the relationship was declared, inferred from names, or specified by the caller.</summary>
    public RelationshipSource? Relationship { get; }

    /// <summary>For orphans: the parent table.</summary>
    public string? ReferencedTable { get; }

    /// <summary>For orphans: the parent's columns.</summary>
    public IReadOnlyList<string> ReferencedColumns { get; }

    /// <summary>The existing constraint the rows break (declared foreign key, NOT VALID check), if any.</summary>
    public string? ConstraintName { get; }

    /// <summary>A constraint that would keep this from happening again, for Add-SafeConstraint once the data is clean.</summary>
    public ConstraintSpec? SuggestedConstraint { get; }

    /// <summary>The table, for the row fixes a finding is piped into.</summary>
    internal Engines.TableRef? TableRef { get; }

    /// <summary>For orphans: the parent table.</summary>
    internal Engines.TableRef? ReferencedTableRef { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Severity} {Check} {Table}: {Message}";
}
