using System.Text.Json;
using System.Text.Json.Serialization;
using DbOps.Core.Connections;
using DbOps.Core.Errors;

namespace DbOps.Core.Backup;

/// <summary>
/// The JSON file written beside each backup, last, once the backup is complete. It records what the
/// BackupResult says, so a backup can be verified or restored later from the file alone. Never a password.
/// </summary>
internal sealed record BackupManifest
{
    public const string Suffix = ".manifest.json";
    public const int CurrentFormatVersion = 1;

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public string DbOpsVersion { get; init; } = typeof(BackupManifest).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
    public required DatabaseProvider Provider { get; init; }
    public required string Database { get; init; }
    public string? Server { get; init; }
    public string? User { get; init; }
    public required string ServerVersion { get; init; }
    public required string Format { get; init; }
    public required string ToolVersion { get; init; }
    /// <summary>The backup file's name, relative to the manifest, so a folder can be moved as a whole.</summary>
    public required string File { get; init; }
    public required long SizeBytes { get; init; }
    public required string Sha256 { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required IReadOnlyList<ManifestTable> Tables { get; init; }
    public DateTimeOffset? VerifiedAt { get; init; }

    /// <summary>PostgreSQL: the source's encoding and locale, so Restore-Database -Create makes a database that stores and sorts text alike. Absent from older manifests.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Encoding { get; init; }

    /// <inheritdoc cref="Encoding"/>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Collate { get; init; }

    /// <inheritdoc cref="Encoding"/>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Ctype { get; init; }

    /// <summary>The source's encoding and locale, when the manifest records them.</summary>
    [JsonIgnore]
    public Engines.DatabaseLocale? Locale => Encoding is null || Collate is null || Ctype is null ? null : new(Encoding, Collate, Ctype);

    /// <summary>The manifest's tables as references to look up.</summary>
    [JsonIgnore]
    public IEnumerable<Engines.TableRef> TableRefs => Tables.Select(t => new Engines.TableRef(t.Schema, t.Name));

    public static string PathFor(string backupPath) => backupPath + Suffix;

    public string Serialize() => JsonSerializer.Serialize(this, Options);

    /// <summary>Reads a manifest given either its own path or the backup file's path.</summary>
    public static (BackupManifest Manifest, string ManifestPath, string BackupPath) Load(string path)
    {
        var manifestPath = path.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase) ? path : PathFor(path);
        if (!System.IO.File.Exists(manifestPath))
        {
            var which = System.IO.File.Exists(path) ? $"The backup '{path}' has no manifest beside it ('{manifestPath}')"
                                                    : $"'{path}' does not exist";
            throw new DbOpsException(System.IO.File.Exists(path) ? ErrorIds.ManifestInvalid : ErrorIds.FileNotFound, ErrorKind.NotFound,
                $"{which}. Give the path of a backup written by Backup-Database, or its .manifest.json.", path);
        }
        BackupManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<BackupManifest>(System.IO.File.ReadAllText(manifestPath), Options);
        }
        catch (JsonException e)
        {
            throw new DbOpsException(ErrorIds.ManifestInvalid, ErrorKind.InvalidData,
                $"The manifest '{manifestPath}' is not valid: {e.Message} It may be damaged; take a new backup.", manifestPath, e);
        }
        if (manifest is null || manifest.FormatVersion > CurrentFormatVersion)
        {
            throw new DbOpsException(ErrorIds.ManifestInvalid, ErrorKind.InvalidData,
                $"The manifest '{manifestPath}' is empty or from a newer DbOps (format {manifest?.FormatVersion}). Update DbOps.", manifestPath);
        }
        var backupPath = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(manifestPath))!, manifest.File);
        return (manifest, manifestPath, backupPath);
    }
}

internal sealed record ManifestTable(string Schema, string Name, long Rows);
