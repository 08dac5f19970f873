using DbOps.Core.Connections;

namespace DbOps.Core.Integrity;

/// <summary>A relationship stated by the caller: "child.col[,col]" must find a row at "parent.col[,col]".</summary>
/// <param name="Child">The referencing side, e.g. "activity_instances.session_id" or "public.t.a,b".</param>
/// <param name="Parent">The referenced side, e.g. "sessions.id".</param>
public sealed record RelationshipSpec(string Child, string Parent);

/// <summary>Columns of one table named by the caller (required columns, or one unique key).</summary>
/// <param name="Table">A table name as typed: "t" or "schema.t".</param>
/// <param name="Columns">The columns, in order.</param>
public sealed record ColumnSpec(string Table, IReadOnlyList<string> Columns);

/// <summary>A condition every row of a table must satisfy, as a CHECK constraint would state it.</summary>
/// <param name="Table">A table name as typed: "t" or "schema.t".</param>
/// <param name="Expression">One boolean SQL expression over the table's columns, e.g. "deadline >= created_at".</param>
public sealed record ConditionSpec(string Table, string Expression);

/// <summary>What Test-DataIntegrity should check.</summary>
public sealed class IntegrityRequest
{
    /// <summary>Creates a request for <paramref name="connection"/> with the default level (Standard).</summary>
    public IntegrityRequest(DbOpsConnection connection) => Connection = connection;

    /// <summary>The database.</summary>
    public DbOpsConnection Connection { get; }

    /// <summary>Tables to check ("t" or "schema.t"); empty means every table.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>How deep to look.</summary>
    public IntegrityLevel Level { get; init; } = IntegrityLevel.Standard;

    /// <summary>Only these kinds of check (a kind named here runs even if the level would leave it out); null: what the level includes.</summary>
    public IReadOnlyList<IntegrityCheck>? Checks { get; init; }

    /// <summary>Relationships to check for orphans besides the declared and inferred ones.</summary>
    public IReadOnlyList<RelationshipSpec> Relationships { get; init; } = [];

    /// <summary>Columns that must not hold NULL.</summary>
    public IReadOnlyList<ColumnSpec> RequiredColumns { get; init; } = [];

    /// <summary>Column sets that must be unique.</summary>
    public IReadOnlyList<ColumnSpec> UniqueKeys { get; init; } = [];

    /// <summary>Conditions every row must satisfy.</summary>
    public IReadOnlyList<ConditionSpec> Conditions { get; init; } = [];
}
