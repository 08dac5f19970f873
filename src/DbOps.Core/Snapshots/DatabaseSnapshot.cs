using System.Text.Json.Serialization;
using DbOps.Core.Connections;

namespace DbOps.Core.Snapshots;

/// <summary>
/// What a database held at one moment: every user table with its exact row count (or an estimate, when asked),
/// size, optional content checksum, columns, indexes, constraints, triggers and row-level security, plus views
/// and sequences. Saved as JSON, it is the "before" that proves a cleanup lost nothing.
/// </summary>
public sealed class DatabaseSnapshot
{
    /// <summary>The JSON layout's version; a newer one is refused when read.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>The JSON layout's version.</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;

    /// <summary>The DbOps version that took the snapshot.</summary>
    public string DbOpsVersion { get; init; } = typeof(DatabaseSnapshot).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>When the snapshot was taken (UTC).</summary>
    public required DateTimeOffset TakenAt { get; init; }

    /// <summary>PostgreSQL or SQLite.</summary>
    public required DatabaseProvider Provider { get; init; }

    /// <summary>host:port of the PostgreSQL server; null for SQLite.</summary>
    public string? Server { get; init; }

    /// <summary>The PostgreSQL database name or the SQLite file's full path.</summary>
    public required string Database { get; init; }

    /// <summary>The server or SQLite library version.</summary>
    public required string ServerVersion { get; init; }

    /// <summary>True when row counts are catalog estimates (-Estimate) rather than exact counts.</summary>
    public bool Estimated { get; init; }

    /// <summary>Tables ordered by schema and name.</summary>
    public required IReadOnlyList<TableSnapshot> Tables { get; init; }

    /// <summary>Views and materialized views.</summary>
    public IReadOnlyList<ViewSnapshot> Views { get; init; } = [];

    /// <summary>PostgreSQL sequences.</summary>
    public IReadOnlyList<SequenceSnapshot> Sequences { get; init; } = [];

    /// <summary>The number of tables.</summary>
    [JsonIgnore]
    public int TableCount => Tables.Count;

    /// <summary>All tables' rows together.</summary>
    [JsonIgnore]
    public long TotalRows => Tables.Sum(t => t.Rows);

    /// <summary>The file the snapshot was saved to or read from, if any.</summary>
    [JsonIgnore]
    public string? Path { get; internal set; }

    /// <summary>"PostgreSQL host:port/db at 2026-11-23 10:00:00Z" or "SQLite /path at ...".</summary>
    public override string ToString() =>
        $"{Provider} {(Server is null ? "" : Server + "/")}{Database} at {TakenAt:u}";
}

/// <summary>One table in a snapshot.</summary>
/// <param name="Schema">The table's schema (SQLite: main).</param>
/// <param name="Name">The table's name.</param>
/// <param name="Rows">Exact row count, or the catalog's estimate when the snapshot is estimated.</param>
/// <param name="SizeBytes">Size on disk with indexes and TOAST, when the engine reports it.</param>
/// <param name="Checksum">The order-independent content checksum (with -Checksum), as table archives record it.</param>
/// <param name="Columns">Columns in order.</param>
/// <param name="Indexes">Indexes.</param>
/// <param name="Constraints">Primary key, unique, foreign key and check constraints.</param>
/// <param name="Triggers">Triggers (PostgreSQL: not the internal ones that enforce foreign keys).</param>
/// <param name="RowLevelSecurity">PostgreSQL: row-level security enabled.</param>
/// <param name="ForceRowLevelSecurity">PostgreSQL: row-level security applies to the owner too.</param>
/// <param name="Policies">PostgreSQL row-level security policies.</param>
/// <param name="Definition">SQLite: the CREATE TABLE statement (SQLite keeps CHECK constraints only there).</param>
public sealed record TableSnapshot(
    string Schema, string Name, long Rows, long? SizeBytes, string? Checksum,
    IReadOnlyList<ColumnSnapshot> Columns, IReadOnlyList<IndexSnapshot> Indexes, IReadOnlyList<ConstraintSnapshot> Constraints,
    IReadOnlyList<TriggerSnapshot> Triggers, bool RowLevelSecurity, bool ForceRowLevelSecurity,
    IReadOnlyList<PolicySnapshot> Policies, string? Definition)
{
    /// <summary>schema.name, or name alone for SQLite's main schema (as <see cref="Engines.TableRef"/> shows it).</summary>
    public override string ToString() => new Engines.TableRef(Schema, Name).ToString();
}

/// <summary>A column: its type, nullability and default.</summary>
/// <param name="Name">Column name.</param>
/// <param name="DataType">Declared type.</param>
/// <param name="IsNullable">False for NOT NULL.</param>
/// <param name="Default">Default expression, if any.</param>
/// <param name="NonNull">With -Checksum: how many rows hold a value in it (stored columns only); null when not counted.</param>
public sealed record ColumnSnapshot(string Name, string DataType, bool IsNullable, string? Default,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] long? NonNull = null);

/// <summary>An index and the statement that creates it.</summary>
/// <param name="Name">Index name.</param>
/// <param name="Definition">CREATE INDEX statement (empty for SQLite's automatic indexes).</param>
/// <param name="IsUnique">True for a unique index.</param>
/// <param name="IsValid">False for a PostgreSQL index left INVALID.</param>
public sealed record IndexSnapshot(string Name, string Definition, bool IsUnique, bool IsValid);

/// <summary>A constraint with its definition and validation state.</summary>
/// <param name="Name">Constraint name.</param>
/// <param name="Kind">PrimaryKey, Unique, ForeignKey or Check.</param>
/// <param name="Definition">The constraint as SQL, e.g. <c>FOREIGN KEY (a) REFERENCES public.p (id)</c>.</param>
/// <param name="IsValidated">False for a constraint added NOT VALID (SQLite foreign keys are never validated).</param>
public sealed record ConstraintSnapshot(string Name, string Kind, string Definition, bool IsValidated);

/// <summary>A trigger.</summary>
/// <param name="Name">Trigger name.</param>
/// <param name="Definition">The CREATE TRIGGER statement.</param>
/// <param name="Enabled">False when the trigger is disabled (PostgreSQL).</param>
public sealed record TriggerSnapshot(string Name, string Definition, bool Enabled);

/// <summary>A PostgreSQL row-level security policy.</summary>
/// <param name="Name">Policy name.</param>
/// <param name="Command">ALL, SELECT, INSERT, UPDATE or DELETE.</param>
/// <param name="Permissive">PERMISSIVE or RESTRICTIVE.</param>
/// <param name="Roles">Roles the policy applies to.</param>
/// <param name="Using">The USING expression.</param>
/// <param name="WithCheck">The WITH CHECK expression.</param>
public sealed record PolicySnapshot(string Name, string Command, string Permissive, IReadOnlyList<string> Roles, string? Using, string? WithCheck);

/// <summary>A view or materialized view.</summary>
/// <param name="Schema">Schema (SQLite: main).</param>
/// <param name="Name">View name.</param>
/// <param name="Kind">View or MaterializedView.</param>
/// <param name="Definition">The view's query.</param>
public sealed record ViewSnapshot(string Schema, string Name, string Kind, string Definition);

/// <summary>A PostgreSQL sequence.</summary>
/// <param name="Schema">Schema.</param>
/// <param name="Name">Sequence name.</param>
/// <param name="OwnedBy">The column that owns it (table.column), if any.</param>
public sealed record SequenceSnapshot(string Schema, string Name, string? OwnedBy);
