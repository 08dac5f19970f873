using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using DbOps.Core.Schema;

namespace DbOps.Core.Snapshots;

/// <summary>What Get-DatabaseSnapshot was asked to capture.</summary>
/// <param name="Source">The database.</param>
/// <param name="Estimate">Use the catalog's row estimates instead of exact counts (PostgreSQL; SQLite always counts).</param>
/// <param name="Checksum">Also compute each table's content checksum, as Export-TableArchive records it (reads every row).</param>
public sealed record SnapshotRequest(DbOpsConnection Source, bool Estimate = false, bool Checksum = false);

/// <summary>Takes, saves and reads database snapshots.</summary>
public static class SnapshotService
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>
    /// Captures the database read-only and consistently: PostgreSQL inside one REPEATABLE READ READ ONLY
    /// transaction, SQLite inside one read transaction on a read-only connection, so every count and
    /// definition comes from the same moment.
    /// </summary>
    public static async Task<DatabaseSnapshot> CaptureAsync(SnapshotRequest request, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var source = request.Source;
        var provider = DatabaseEngines.For(source);
        var catalog = provider.Snapshots;
        await using var session = await provider.OpenReadOnlyAsync(source, cancellationToken);
        var connection = session.Connection;
        await connection.ExecuteAsync(new CommandDefinition(catalog.BeginReadSql, commandType: System.Data.CommandType.Text, cancellationToken: cancellationToken));
        try
        {
            var takenAt = DateTimeOffset.UtcNow;
            var schema = await SchemaReader.ReadAsync(provider, connection, cancellationToken);
            var triggers = await catalog.TriggersAsync(connection, cancellationToken);
            var security = await catalog.RowLevelSecurityAsync(connection, cancellationToken);
            var policies = await catalog.PoliciesAsync(connection, cancellationToken);
            // Every definition is read before the first checksum, which changes the session's output settings.
            var views = await catalog.ViewsAsync(connection, cancellationToken);
            var sequences = await catalog.SequencesAsync(connection, cancellationToken);

            var tables = new List<TableSnapshot>(schema.Tables.Count);
            var estimated = false;
            foreach (var (table, index) in schema.Tables.Select((t, i) => (t, i)))
            {
                observer.Progress(new OperationProgress($"Snapshot of {source}", $"Table {table.Table} ({index + 1} of {schema.Tables.Count})",
                    100 * index / Math.Max(1, schema.Tables.Count)));
                long? rows = request.Estimate ? await catalog.EstimateRowsAsync(connection, table.Table, cancellationToken) : null;
                estimated |= rows is not null;
                string? checksum = null;
                IReadOnlyDictionary<string, long> nonNull = new Dictionary<string, long>();
                if (request.Checksum)
                {
                    // The checksum reads every row, so it also gives the exact count.
                    var content = await TableChecksum.ComputeAsync(
                        provider, connection, null, table.Table, TableChecksum.StoredColumns(table).Select(c => c.Name).ToList(), cancellationToken);
                    checksum = content.Checksum;
                    rows ??= content.Rows;
                    nonNull = await NonNullCountsAsync(provider, connection, table, cancellationToken);
                }
                rows ??= await provider.CountRowsAsync(connection, table.Table, cancellationToken);
                var size = await catalog.SizeAsync(connection, table.Table, cancellationToken);
                var (rls, forced) = security.TryGetValue(table.Table, out var state) ? state : (false, false);
                tables.Add(new TableSnapshot(
                    table.Table.Schema, table.Table.Name, rows.Value,
                    size,
                    checksum,
                    table.Columns.Select(c => new ColumnSnapshot(c.Name, c.DataType, c.IsNullable, c.Default,
                        nonNull.TryGetValue(c.Name, out var values) ? values : null)).ToList(),
                    table.Indexes.Select(i => new IndexSnapshot(i.Name, i.Definition, i.IsUnique, i.IsValid)).ToList(),
                    Constraints(table),
                    triggers[table.Table].ToList(),
                    rls, forced,
                    policies[table.Table].ToList(),
                    table.CreateSql));
            }
            return new DatabaseSnapshot
            {
                TakenAt = takenAt,
                Provider = source.Provider,
                Server = source.Server,
                Database = source.Database,
                ServerVersion = source.ServerVersion,
                Estimated = estimated,
                Tables = tables,
                Views = views,
                Sequences = sequences,
            };
        }
        finally
        {
            // Dapper takes a lone word for a stored procedure's name unless told otherwise.
            await connection.ExecuteAsync(new CommandDefinition("ROLLBACK", commandType: System.Data.CommandType.Text));
        }
    }

    /// <summary>Writes the snapshot as JSON (atomically); an existing file is replaced only with <paramref name="overwrite"/>.</summary>
    public static void Save(DatabaseSnapshot snapshot, string path, bool overwrite) =>
        snapshot.Path = ArtifactFiles.SaveUserFile(path, JsonSerializer.Serialize(snapshot, Options), overwrite, "snapshot");

    /// <summary>Reads a snapshot saved by <see cref="Save"/>.</summary>
    public static DatabaseSnapshot Load(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new DbOpsException(ErrorIds.FileNotFound, ErrorKind.NotFound,
                $"The snapshot file '{full}' does not exist. Save one with Get-DatabaseSnapshot -Database <db> -Path <file>.", full);
        }
        DatabaseSnapshot? snapshot;
        try
        {
            snapshot = JsonSerializer.Deserialize<DatabaseSnapshot>(File.ReadAllText(full), Options);
        }
        catch (JsonException e)
        {
            throw Invalid(full, $"it is not a DbOps snapshot ({e.Message})", e);
        }
        if (snapshot is null || snapshot.Tables is null)
        {
            throw Invalid(full, "it is empty", null);
        }
        if (snapshot.FormatVersion > DatabaseSnapshot.CurrentFormatVersion)
        {
            throw Invalid(full, $"it was written by a newer DbOps (format {snapshot.FormatVersion}); update DbOps", null);
        }
        snapshot.Path = full;
        return snapshot;
    }

    /// <summary>The table's constraints as SQL text, comparable across snapshots.</summary>
    private static List<ConstraintSnapshot> Constraints(TableSchema table)
    {
        static string Columns(IEnumerable<string> columns) => string.Join(", ", columns);
        var constraints = new List<ConstraintSnapshot>();
        if (table.PrimaryKey is { } pk)
        {
            constraints.Add(new(pk.Name, "PrimaryKey", $"PRIMARY KEY ({Columns(pk.Columns)})", true));
        }
        constraints.AddRange(table.UniqueKeys.Select(u => new ConstraintSnapshot(u.Name, "Unique", $"UNIQUE ({Columns(u.Columns)})", true)));
        constraints.AddRange(table.ForeignKeys.Select(f => new ConstraintSnapshot(f.Name, "ForeignKey",
            $"FOREIGN KEY ({Columns(f.Columns)}) REFERENCES {f.ReferencedTable} ({Columns(f.ReferencedColumns)}) ON DELETE {f.OnDelete} ON UPDATE {f.OnUpdate}",
            f.IsValidated)));
        constraints.AddRange(table.Checks.Select(c => new ConstraintSnapshot(c.Name, "Check", $"CHECK ({c.Expression})", c.IsValidated)));
        return constraints;
    }

    private static DbOpsException Invalid(string path, string why, Exception? inner) =>
        new(ErrorIds.SnapshotInvalid, ErrorKind.InvalidData, $"The snapshot file '{path}' cannot be read: {why}.", path, inner);

    /// <summary>
    /// How many rows hold a value in each stored column, in one scan: what a dropped column took with it (issue 17). Only
    /// with -Checksum, which reads every row anyway.
    /// </summary>
    private static async Task<IReadOnlyDictionary<string, long>> NonNullCountsAsync(IDatabaseEngine engine, System.Data.Common.DbConnection connection,
        Schema.TableSchema table, CancellationToken cancellationToken)
    {
        var columns = TableChecksum.StoredColumns(table).Select(c => c.Name).ToList();
        if (columns.Count == 0)
        {
            return new Dictionary<string, long>();
        }
        var sql = $"SELECT {string.Join(", ", columns.Select(c => $"count({engine.QuoteIdentifier(c)})"))} FROM {engine.QualifiedName(table.Table)}";
        var row = (IDictionary<string, object>)await Dapper.SqlMapper.QuerySingleAsync(connection, new Dapper.CommandDefinition(sql, cancellationToken: cancellationToken));
        return columns.Zip(row.Values).ToDictionary(p => p.First, p => Convert.ToInt64(p.Second, System.Globalization.CultureInfo.InvariantCulture));
    }
}
