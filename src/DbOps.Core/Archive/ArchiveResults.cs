using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.Core.Archive;

/// <summary>An archive of one table that Export-TableArchive wrote, as its manifest records it.</summary>
public sealed class TableArchive
{
    internal TableArchive(ArchiveManifest manifest, string manifestPath, string dataPath, string schemaPath, ArchiveCheck? verification,
                          TimeSpan duration, DbOpsConnection? source)
    {
        Provider = manifest.Provider;
        Database = manifest.Database;
        Server = manifest.Server;
        Schema = manifest.Schema;
        Table = manifest.Table;
        Columns = ValueList.Of(manifest.Columns);
        RowCount = manifest.RowCount;
        Checksum = manifest.Checksum;
        Format = manifest.Format;
        Compressed = manifest.Compressed;
        ManifestPath = manifestPath;
        DataPath = dataPath;
        SchemaPath = schemaPath;
        SizeBytes = manifest.Data.SizeBytes;
        CreatedAt = manifest.CreatedAt;
        Verified = verification?.Verified ?? false;
        VerifyErrorId = verification?.ErrorId;
        VerifyReason = verification?.Reason;
        Duration = duration;
        Source = source;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The database the table was archived from (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>host:port of the PostgreSQL server; null for SQLite.</summary>
    public string? Server { get; }

    /// <summary>The table's schema ("main" for SQLite).</summary>
    public string Schema { get; }

    /// <summary>The table's name.</summary>
    public string Table { get; }

    /// <summary>schema.name (SQLite: name).</summary>
    public string QualifiedName => new TableRef(Schema, Table).ToString();

    /// <summary>The archived columns, in order, with their types.</summary>
    public IReadOnlyList<ArchiveColumn> Columns { get; }

    /// <summary>Rows in the archive (counted while writing it, in the same snapshot as the data).</summary>
    public long RowCount { get; }

    /// <summary>The order-independent content checksum, recomputable from the live table.</summary>
    public string Checksum { get; }

    /// <summary>Csv or JsonLines.</summary>
    public ArchiveFormat Format { get; }

    /// <summary>True when the data file is gzip-compressed.</summary>
    public bool Compressed { get; }

    /// <summary>The manifest, written last.</summary>
    public string ManifestPath { get; }

    /// <summary>The data file.</summary>
    public string DataPath { get; }

    /// <summary>The DDL that recreates the table.</summary>
    public string SchemaPath { get; }

    /// <summary>The data file's size in bytes.</summary>
    public long SizeBytes { get; }

    /// <summary>When the export started (UTC).</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>True when -Verify loaded the archive into a scratch table and found the recorded count and checksum.</summary>
    public bool Verified { get; }

    /// <summary>Archived, Verified, or VerificationFailed.</summary>
    public string Status => Verified ? "Verified" : VerifyErrorId is null ? "Archived" : "VerificationFailed";

    /// <summary>Why -Verify failed (ArchiveCorrupt, ArchiveVerificationFailed, InsufficientPrivilege, ...); null otherwise.</summary>
    public string? VerifyErrorId { get; }

    /// <summary>What -Verify checked or what failed; null without -Verify.</summary>
    public string? VerifyReason { get; }

    /// <summary>How long the export took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>The connection the table was archived from, for the next cmdlet in a pipeline.</summary>
    internal DbOpsConnection? Source { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{QualifiedName}: {Status} ({RowCount} rows)";
}

/// <summary>A table that Import-TableArchive loaded from an archive.</summary>
public sealed class ArchiveImportResult
{
    internal ArchiveImportResult(DatabaseProvider provider, string database, TableRef target, TableRef source, TableContent content,
                                 bool created, IReadOnlyList<string> skipped, string manifestPath, TimeSpan duration)
    {
        Provider = provider;
        Database = database;
        Schema = target.Schema;
        Table = target.Name;
        SourceTable = source.ToString();
        RowCount = content.Rows;
        Checksum = content.Checksum;
        Created = created;
        Skipped = ValueList.Of(skipped);
        ManifestPath = manifestPath;
        Duration = duration;
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The target database (name, or SQLite path).</summary>
    public string Database { get; }

    /// <summary>The loaded table's schema.</summary>
    public string Schema { get; }

    /// <summary>The loaded table's name.</summary>
    public string Table { get; }

    /// <summary>The table the archive was taken from.</summary>
    public string SourceTable { get; }

    /// <summary>Rows loaded (equal to the manifest's count, or the import would have failed).</summary>
    public long RowCount { get; }

    /// <summary>The checksum recomputed from the loaded table; equal to the manifest's.</summary>
    public string Checksum { get; }

    /// <summary>Imported: the count and checksum of the loaded table match the manifest.</summary>
    public string Status => "Imported";

    /// <summary>True when the table was created from the archive's schema; false when an existing empty table was filled.</summary>
    public bool Created { get; }

    /// <summary>Schema objects that could not be recreated in the target (e.g. a foreign key to a table it lacks), with why.</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>Views, triggers and functions retired with the table by Remove-DeprecatedTable -IncludeDependent and created again after it.</summary>
    public IReadOnlyList<string> RecreatedDependents { get; init; } = ValueList.Of<string>([]);

    /// <summary>The archive's manifest.</summary>
    public string ManifestPath { get; }

    /// <summary>How long the import took.</summary>
    public TimeSpan Duration { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{new TableRef(Schema, Table)}: {Status} ({RowCount} rows)";
}

/// <summary>The outcome of loading an archive into a scratch table.</summary>
internal sealed record ArchiveCheck(bool Verified, string? ErrorId, string Reason);
