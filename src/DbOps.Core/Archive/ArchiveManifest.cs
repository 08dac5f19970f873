using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Engines;

namespace DbOps.Core.Archive;

/// <summary>The data file's layout.</summary>
public enum ArchiveFormat
{
    /// <summary>RFC 4180 CSV without a header line (the columns are in the manifest). PostgreSQL: exactly COPY's CSV.</summary>
    Csv,
    /// <summary>One JSON object per line, keyed by column name.</summary>
    JsonLines,
}

/// <summary>One archived column: its name and type as the source declared them.</summary>
/// <param name="Name">The column name.</param>
/// <param name="Type">PostgreSQL: format_type text (e.g. numeric(10,2), public.mpaa_rating[]); SQLite: the declared type.</param>
/// <param name="Nullable">False when the column is NOT NULL.</param>
public sealed record ArchiveColumn(string Name, string Type, bool Nullable)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Type}";
}

/// <summary>What part of a table an archive holds.</summary>
public enum ArchiveScope
{
    /// <summary>Every row and stored column (the default; manifests leave the scope out).</summary>
    Table,

    /// <summary>Some rows, every stored column: the prior image of rows a fix changes (Remove-TableRow, Update-TableRow).</summary>
    Rows,

    /// <summary>Every row, the key plus some columns: the values of a retired column (Remove-DeprecatedColumn).</summary>
    Columns,
}

/// <summary>The part of a table a partial archive takes.</summary>
/// <param name="Scope">Rows or Columns.</param>
/// <param name="Key">The key columns that address rows in the live table.</param>
/// <param name="Where">For Rows: the read-only condition choosing the rows.</param>
/// <param name="Columns">For Columns: the columns archived with the key.</param>
public sealed record ArchiveSelection(ArchiveScope Scope, IReadOnlyList<string> Key, string? Where = null, IReadOnlyList<string>? Columns = null);

/// <summary>A file of the archive with its size and SHA-256.</summary>
internal sealed record ArchiveFile(string Name, long SizeBytes, string Sha256);

/// <summary>
/// The JSON file written last beside an archive's data and schema files, in the style of a backup manifest. It
/// names the files (relative, so the folder can move), their SHA-256, the columns, the row count and content
/// checksum, and the source's identity (never a password). <see cref="Seal"/> is the SHA-256 of the manifest
/// itself without the seal, so a hand-edited manifest is detected as ArchiveCorrupt.
/// </summary>
internal sealed record ArchiveManifest
{
    public const string Suffix = ".manifest.json";
    public const string Kind = "DbOps.TableArchive";
    public const int CurrentFormatVersion = 1;

    /// <summary>The format of a partial archive (a whole table's stays <see cref="CurrentFormatVersion"/>).</summary>
    public const int PartialFormatVersion = 2;

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string Type { get; init; } = Kind;
    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public string DbOpsVersion { get; init; } = typeof(ArchiveManifest).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
    public required DatabaseProvider Provider { get; init; }
    public required string Database { get; init; }
    public string? Server { get; init; }
    public string? User { get; init; }
    public required string ServerVersion { get; init; }
    public required string Schema { get; init; }
    public required string Table { get; init; }
    public required IReadOnlyList<ArchiveColumn> Columns { get; init; }
    public required ArchiveFormat Format { get; init; }
    public required bool Compressed { get; init; }
    public required long RowCount { get; init; }
    public required string Checksum { get; init; }
    public required ArchiveFile Data { get; init; }
    public required ArchiveFile SchemaFile { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? VerifiedAt { get; init; }

    // A partial archive (issues 17 and 18) says what part of the table it holds. The fields are left out when null,
    // so a whole-table manifest serializes, and seals, exactly as before; a partial one is written as format 2, which
    // an older DbOps refuses instead of mistaking it for a whole table.

    /// <summary>Null for a whole table; <see cref="ArchiveScope.Rows"/> or <see cref="ArchiveScope.Columns"/> for a part.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ArchiveScope? Scope { get; init; }

    /// <summary>The key columns that address the archived rows in the live table (partial archives).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Key { get; init; }

    /// <summary>The condition that chose the rows of a <see cref="ArchiveScope.Rows"/> archive.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Where { get; init; }
    public string? Seal { get; init; }

    [JsonIgnore]
    public TableRef TableRef => new(Schema, Table);

    [JsonIgnore]
    public IReadOnlyList<string> ColumnNames => Columns.Select(c => c.Name).ToList();

    public static string PathFor(string folder, string baseName) => Path.Combine(folder, baseName + Suffix);

    /// <summary>The manifest as JSON, sealed.</summary>
    public string Serialize() => JsonSerializer.Serialize(this with { Seal = ComputeSeal() }, Options);

    private string ComputeSeal() =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(this with { Seal = null }, Options))));

    /// <summary>Reads and checks a manifest: well-formed, ours, not newer than this DbOps, and its seal intact.</summary>
    public static (ArchiveManifest Manifest, string ManifestPath, string Folder) Load(string path)
    {
        var manifestPath = Path.GetFullPath(path);
        if (!File.Exists(manifestPath))
        {
            throw new DbOpsException(ErrorIds.FileNotFound, ErrorKind.NotFound,
                $"The archive manifest '{manifestPath}' does not exist. Give the .manifest.json that Export-TableArchive wrote.", manifestPath);
        }
        ArchiveManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ArchiveManifest>(File.ReadAllText(manifestPath), Options);
        }
        catch (JsonException e)
        {
            throw Corrupt(manifestPath, $"it is not a valid archive manifest ({e.Message})", e);
        }
        if (manifest is null || manifest.Type != Kind)
        {
            throw Corrupt(manifestPath, "it is not an archive manifest written by Export-TableArchive");
        }
        if (manifest.FormatVersion > PartialFormatVersion)
        {
            throw new DbOpsException(ErrorIds.ManifestInvalid, ErrorKind.InvalidData,
                $"The archive manifest '{manifestPath}' is from a newer DbOps (format {manifest.FormatVersion}). Update DbOps.", manifestPath);
        }
        if (manifest.Seal is null || manifest.Seal != manifest.ComputeSeal())
        {
            throw Corrupt(manifestPath, "it was changed after Export-TableArchive wrote it (its seal does not match its contents)");
        }
        return (manifest, manifestPath, Path.GetDirectoryName(manifestPath)!);
    }

    public static DbOpsException Corrupt(string path, string why, Exception? inner = null) =>
        new(ErrorIds.ArchiveCorrupt, ErrorKind.InvalidData,
            $"The archive '{path}' cannot be trusted: {why}. Export the table again, or use another copy of the archive.", path, inner);
}
