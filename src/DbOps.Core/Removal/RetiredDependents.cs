using System.Text.RegularExpressions;
using DbOps.Core.Archive;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.IO;

namespace DbOps.Core.Removal;

/// <summary>
/// Views, triggers and functions retired with a table (-IncludeDependent). Their CREATE statements are kept in
/// <c>&lt;base&gt;.dependents.sql</c> beside the archive's manifest, in the order they are created again (what an object
/// needs first), with <c>&lt;base&gt;.dependents.sql.sha256</c> (sha256sum's format) proving the file whole. The manifest is
/// sealed at export and is left alone: the dependents are a fact about the drop, not about the rows.
/// </summary>
internal static class RetiredDependents
{
    /// <summary>The dependents file of the archive whose manifest is <paramref name="manifestPath"/>.</summary>
    public static string PathFor(string manifestPath) =>
        (manifestPath.EndsWith(".manifest.json", StringComparison.Ordinal) ? manifestPath[..^".manifest.json".Length] : manifestPath) + ".dependents.sql";

    /// <summary>True when <paramref name="name"/> (as given to -IncludeDependent) names <paramref name="dependent"/>: bare, schema.name, or quoted.</summary>
    public static bool Names(string name, RetirableDependent dependent) =>
        name == dependent.Name.Name || name == dependent.Name.ToString() || name == dependent.Name.ToQuotedName()
        || name == TableRef.QuoteIdentifier(dependent.Name.Name);

    /// <summary>
    /// What is named, in the order it is created again: an object whose definition mentions another's name comes after it
    /// (a view on a view, a trigger after its function). Dropping runs this order backwards.
    /// </summary>
    public static IReadOnlyList<RetirableDependent> CreationOrder(IEnumerable<RetirableDependent> named)
    {
        var remaining = named.ToList();
        var ordered = new List<RetirableDependent>();
        while (remaining.Count > 0)
        {
            var next = remaining.FindIndex(d => !remaining.Any(other => other != d && Mentions(d.CreateSql, other.Name.Name)));
            next = Math.Max(0, next); // a cycle of mentions: keep the catalog's order
            ordered.Add(remaining[next]);
            remaining.RemoveAt(next);
        }
        return ordered;
    }

    private static bool Mentions(string sql, string name) =>
        Regex.IsMatch(sql, $"(?<![\\w$])\"?{Regex.Escape(name.Replace("\"", "\"\"", StringComparison.Ordinal))}\"?(?![\\w$])");

    /// <summary>
    /// Writes the dependents file and its checksum beside the archive (each atomically; an earlier pair is replaced), or
    /// removes an earlier pair when nothing is retired, so the files always say what the last drop took along. Returns the SHA-256.
    /// </summary>
    public static async Task<string?> SaveAsync(string manifestPath, TableRef table, IReadOnlyList<RetirableDependent> creationOrder, CancellationToken cancellationToken)
    {
        var path = PathFor(manifestPath);
        if (creationOrder.Count == 0)
        {
            Discard(manifestPath);
            return null;
        }
        var file = new ArchiveSchemaFile($"views, triggers and functions retired with {table}; Import-TableArchive creates them again after the table");
        foreach (var dependent in creationOrder)
        {
            file.Add(ArchiveSchemaFile.Dependent, dependent.Description, dependent.CreateSql);
        }
        ArtifactFiles.WriteAllTextAtomic(path, file.Serialize(), overwrite: true);
        var sha256 = await ArtifactFiles.Sha256Async(path, cancellationToken);
        ArtifactFiles.WriteAllTextAtomic(path + ".sha256", $"{sha256}  {Path.GetFileName(path)}\n", overwrite: true);
        return sha256;
    }

    /// <summary>Removes the pair (a drop that rolled back retired nothing).</summary>
    public static void Discard(string manifestPath)
    {
        var path = PathFor(manifestPath);
        ArtifactFiles.DeleteQuietly(path + ".sha256");
        ArtifactFiles.DeleteQuietly(path);
    }

    /// <summary>The retired dependents of an archive, in creation order, and the file's path; null when it has none.</summary>
    /// <exception cref="DbOpsException">ArchiveCorrupt: the file is there but its checksum file is missing or differs.</exception>
    public static async Task<(ArchiveSchemaFile File, string Path)?> LoadAsync(string manifestPath, CancellationToken cancellationToken)
    {
        var path = PathFor(manifestPath);
        if (!File.Exists(path))
        {
            return null;
        }
        var recorded = File.Exists(path + ".sha256") ? (await File.ReadAllTextAsync(path + ".sha256", cancellationToken)).Split(' ', 2)[0].Trim() : null;
        if (recorded is null || recorded != await ArtifactFiles.Sha256Async(path, cancellationToken))
        {
            throw new DbOpsException(ErrorIds.ArchiveCorrupt, ErrorKind.InvalidData,
                $"The dependents file '{path}' cannot be trusted: " + (recorded is null ? $"'{path}.sha256', which proves it whole, is missing"
                    : $"its SHA-256 differs from the one '{path}.sha256' records") +
                ". Nothing was imported. Restore both files from a copy of the archive, or move the dependents file away to import the table alone.", path);
        }
        return (ArchiveSchemaFile.Parse(await File.ReadAllTextAsync(path, cancellationToken)), path);
    }
}
