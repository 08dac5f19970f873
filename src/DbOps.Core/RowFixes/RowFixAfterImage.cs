using System.Text.Json;
using DbOps.Core.Archive;
using DbOps.Core.IO;

namespace DbOps.Core.RowFixes;

/// <summary>
/// What a row fix left at the archived keys (no rows after a removal; the new values' count and checksum after an
/// update), written beside the rows archive just before the fix commits. An undo puts the prior image back only over
/// exactly that: anything else means the rows changed since.
/// </summary>
internal sealed record RowFixAfterImage(RowFixAction Action, long Rows, string Checksum)
{
    private const string Suffix = ".after.json";

    public static string PathFor(string manifestPath) => manifestPath[..^ArchiveManifest.Suffix.Length] + Suffix;

    public static void Write(string manifestPath, RowFixAction action, TableContent after) =>
        ArtifactFiles.WriteAllTextAtomic(PathFor(manifestPath), JsonSerializer.Serialize(new RowFixAfterImage(action, after.Rows, after.Checksum)), overwrite: true);

    /// <summary>The record, or null when there is none (the fix never reached its COMMIT) or it cannot be read.</summary>
    public static RowFixAfterImage? Read(string manifestPath)
    {
        try
        {
            return JsonSerializer.Deserialize<RowFixAfterImage>(File.ReadAllText(PathFor(manifestPath)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public TableContent Content => new(Rows, Checksum);
}
