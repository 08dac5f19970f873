using System.Data.Common;
using DbOps.Core.Snapshots;

namespace DbOps.Core.Engines;

/// <summary>What a snapshot needs beyond the Schema layer: triggers, row-level security, views, sequences, sizes.</summary>
internal interface ISnapshotCatalog
{
    /// <summary>Starts the one read transaction the whole snapshot is read in, so every count and definition comes from the same moment.</summary>
    string BeginReadSql { get; }

    Task<ILookup<TableRef, TriggerSnapshot>> TriggersAsync(DbConnection connection, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<TableRef, (bool Enabled, bool Forced)>> RowLevelSecurityAsync(DbConnection connection, CancellationToken cancellationToken);

    Task<ILookup<TableRef, PolicySnapshot>> PoliciesAsync(DbConnection connection, CancellationToken cancellationToken);

    Task<IReadOnlyList<ViewSnapshot>> ViewsAsync(DbConnection connection, CancellationToken cancellationToken);

    Task<IReadOnlyList<SequenceSnapshot>> SequencesAsync(DbConnection connection, CancellationToken cancellationToken);

    Task<long?> SizeAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken);

    /// <summary>The catalog's row estimate; null when the engine has none (the caller then counts).</summary>
    Task<long?> EstimateRowsAsync(DbConnection connection, TableRef table, CancellationToken cancellationToken);
}
