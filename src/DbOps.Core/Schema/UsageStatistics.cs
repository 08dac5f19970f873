namespace DbOps.Core.Schema;

/// <summary>
/// The period PostgreSQL's usage counters (scans, tuple writes) cover, which is what makes "no scans" evidence.
/// </summary>
/// <param name="Since">When counting started: the last statistics reset, or the server start when that is unknown.</param>
/// <param name="Age">How long the counters have been counting, at the time they were read.</param>
/// <param name="Source">Where <paramref name="Since"/> comes from, in words for evidence.</param>
public sealed record StatisticsWindow(DateTimeOffset? Since, TimeSpan? Age, string Source)
{
    /// <summary>True when the counters are at least <paramref name="minimumAge"/> old.</summary>
    public bool Covers(TimeSpan minimumAge) => Age is { } age && age >= minimumAge;

    /// <summary>Why a window this young cannot show that something is unused.</summary>
    public string TooYoungReason(TimeSpan minimumAge) =>
        Age is { } age
            ? $"usage statistics cover only {Describe(age)} (since {Since:u}, {Source}); at least {Describe(minimumAge)} are needed to call something unused"
            : "the age of the usage statistics is unknown";

    /// <summary>A short human reading of a span: "3.2 days", "5 hours", "40 minutes".</summary>
    public static string Describe(TimeSpan span) =>
        span.TotalDays >= 1 ? $"{span.TotalDays:0.#} days"
        : span.TotalHours >= 1 ? $"{span.TotalHours:0.#} hours"
        : $"{Math.Max(0, span.TotalMinutes):0} minutes";
}

/// <summary>The rule that Find-UnusedTable and Find-UnusedIndex share: young statistics prove nothing.</summary>
internal static class UsageStatistics
{
    /// <summary>Counters younger than this cannot make a table or index unused.</summary>
    public static readonly TimeSpan DefaultMinimumAge = TimeSpan.FromDays(7);
}
