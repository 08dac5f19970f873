using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using DbOps.Core.Archive;
using DbOps.Core.IO;

namespace DbOps.Core.RowFixes;

/// <summary>
/// What a row fix left at the archived keys (no rows after a removal; the new values' count and checksum after an
/// update), written beside the rows archive just before the fix commits. An undo puts the prior image back only over
/// exactly that: anything else means the rows changed since. A fix in batches rewrites it before each batch commits, and
/// so does each batch of Copy-TableData -OnConflict Update that overwrites rows.
/// </summary>
internal sealed record RowFixAfterImage(RowFixAction Action, long Rows, string Checksum)
{
    private const string Suffix = ".after.json";

    /// <summary>For a fix in batches: how far it got. Null (and not written) for a fix in one transaction.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RowFixBatches? Batches { get; init; }

    /// <summary>
    /// For Copy-TableData's record, whose batches of source rows are not counted in advance: false while they run, true once
    /// the last has committed (the copy is finished and no later run goes on with its prior image). Null for a row fix.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Finished { get; init; }

    public static string PathFor(string manifestPath) => manifestPath[..^ArchiveManifest.Suffix.Length] + Suffix;

    public static void Write(string manifestPath, RowFixAction action, TableContent after) => Write(manifestPath, new RowFixAfterImage(action, after.Rows, after.Checksum));

    public static void Write(string manifestPath, RowFixAfterImage record) =>
        ArtifactFiles.WriteAllTextAtomic(PathFor(manifestPath), JsonSerializer.Serialize(record), overwrite: true);

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

    /// <summary>
    /// The contents the archived keys may hold while this fix is what last changed them: what it left, or, when the
    /// last batch it counts never committed, what was there before that batch.
    /// </summary>
    public bool Left(TableContent now) => now == Content || (Batches?.Before is { } before && now == before);

    /// <summary>This record after one more batch: its rows went from <paramref name="prior"/> to <paramref name="after"/>.</summary>
    public RowFixAfterImage AfterBatch(TableContent prior, TableContent after) => this with
    {
        Rows = Rows - prior.Rows + after.Rows,
        Checksum = $"{TableChecksum.Algorithm}:{unchecked(Sum(Checksum) - Sum(prior.Checksum) + Sum(after.Checksum)):x32}",
        Batches = Batches! with { Done = Batches.Done + 1, Before = Content },
    };

    /// <summary>A content checksum's sum of row hashes (<see cref="TableChecksum"/>): sums of disjoint rows add up.</summary>
    private static UInt128 Sum(string checksum) =>
        UInt128.Parse(checksum.AsSpan(TableChecksum.Algorithm.Length + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
}

/// <summary>How far a fix in batches got.</summary>
/// <param name="Size">Archived rows per batch (the last batch takes the rest); for a copy, source rows per batch (its first batch's,
/// when sized by time: only a row fix reads it back).</param>
/// <param name="Count">How many batches the archived rows make (0 for a copy, see <see cref="RowFixAfterImage.Finished"/>).</param>
/// <param name="Done">The batches the record's content counts as changed (the last of them may not have committed).</param>
/// <param name="Request">What the fix does (statement, condition, values), so only the same fix run again resumes it.</param>
/// <param name="Before">The content at the archived keys before the last counted batch; null before the first.</param>
internal sealed record RowFixBatches(int Size, int Count, int Done, string Request, TableContent? Before)
{
    /// <summary>The archived rows in the first <paramref name="batches"/> batches.</summary>
    public long RowsIn(int batches, long total) => Math.Min(total, (long)Size * batches);
}
