using DbOps.Core.Connections;
using DbOps.Core.Integrity;

namespace DbOps.Core.RowFixes;

/// <summary>What a row fix does to the rows it chose.</summary>
public enum RowFixAction
{
    /// <summary>Remove-TableRow: delete them.</summary>
    Remove,

    /// <summary>Update-TableRow: set columns of them.</summary>
    Update,
}

/// <summary>Which row of a group of duplicates stays when a DuplicateKeys finding is fixed.</summary>
public enum DuplicateKeep
{
    /// <summary>The row with the lowest key (the one Test-DataIntegrity counts as the original).</summary>
    First,

    /// <summary>The row with the highest key.</summary>
    Last,
}

/// <summary>
/// One row fix on one table: the rows come from <paramref name="Where"/>, from <paramref name="KeyValues"/>, or from
/// <paramref name="Findings"/> of Test-DataIntegrity about that table (any together: a row chosen by any of them).
/// </summary>
/// <param name="Source">The database.</param>
/// <param name="Action">Remove or Update.</param>
/// <param name="Table">"name" or "schema.name"; may be null when findings name the table.</param>
/// <param name="ArchiveFolder">Where the archive of the rows' prior image is written (each fix in a folder of its own).</param>
/// <param name="Where">A read-only condition choosing the rows.</param>
/// <param name="KeyValues">Primary key values of the rows; an array per row for a composite key.</param>
/// <param name="Findings">OrphanedRows, DuplicateKeys, NullValues or CheckViolation findings about the table.</param>
/// <param name="Set">For Update: column = value (a string is a read-only SQL expression, anything else a parameter).</param>
/// <param name="Keep">For DuplicateKeys findings: which row of each group stays.</param>
/// <param name="LockTimeout">How long to wait for the table's write lock.</param>
/// <param name="JournalPath">The operations journal; null for the default one.</param>
/// <param name="BatchSize">
/// Archived rows per batch, each batch its own transaction, in key order; the same fix run again resumes an unfinished
/// one. Null: every row in one transaction.
/// </param>
/// <param name="Pause">With <paramref name="BatchSize"/>: how long to wait between batches, so other writers get the table.</param>
public sealed record RowFixRequest(
    DbOpsConnection Source, RowFixAction Action, string? Table, string ArchiveFolder, string? Where = null,
    IReadOnlyList<object?>? KeyValues = null, IReadOnlyList<IntegrityFinding>? Findings = null,
    IReadOnlyDictionary<string, object?>? Set = null, DuplicateKeep Keep = DuplicateKeep.First, TimeSpan? LockTimeout = null,
    string? JournalPath = null, int? BatchSize = null, TimeSpan Pause = default)
{
    /// <summary>The lock wait when none is given.</summary>
    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromSeconds(5);
}
