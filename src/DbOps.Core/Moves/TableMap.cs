using DbOps.Core.Connections;

namespace DbOps.Core.Moves;

/// <summary>One key column pair: the source's column and the target's column it matches.</summary>
public sealed record KeyPair(string Source, string Target);

/// <summary>
/// How the rows of a source line up with the rows of a target, shared by Compare-TableData and Copy-TableData. Each side
/// is a table or a read-only SELECT; rows pair up by <see cref="Keys"/>; values pair up by <see cref="Map"/>, by
/// <see cref="Expressions"/> and, for two tables, by columns with the same name on both sides.
/// </summary>
public sealed record TableMap
{
    /// <summary>The database that holds the source (and the target, unless <see cref="TargetDatabase"/> names another).</summary>
    public required DbOpsConnection Source { get; init; }

    /// <summary>The database that holds the target when it is another one (Compare-TableData only); null: the source's.</summary>
    public DbOpsConnection? TargetDatabase { get; init; }

    /// <summary>The source table ("t" or "schema.t"); or <see cref="SourceQuery"/>.</summary>
    public string? SourceTable { get; init; }

    /// <summary>A read-only SELECT whose rows are the source.</summary>
    public string? SourceQuery { get; init; }

    /// <summary>The target table; or <see cref="TargetQuery"/> (Compare-TableData only).</summary>
    public string? TargetTable { get; init; }

    /// <summary>A read-only SELECT whose rows are the target.</summary>
    public string? TargetQuery { get; init; }

    /// <summary>The key, column by column; names may differ on each side. Must be unique and never NULL on both sides.</summary>
    public required IReadOnlyList<KeyPair> Keys { get; init; }

    /// <summary>
    /// Source column to target column, or to a target-side SQL expression (Compare-TableData only), such as
    /// <c>analysis_results->>'score'</c>. A null value leaves a same-named column out.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Map { get; init; } = [];

    /// <summary>Target column to a source-side SQL expression that derives it (<c>status = CASE WHEN is_approved ... END</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Expressions { get; init; } = [];

    /// <summary>A condition on the source that limits it to a subset.</summary>
    public string? Where { get; init; }
}
