using DbOps.Core.Connections;

namespace DbOps.Core.Journal;

/// <summary>Which journal entries to read back; every filter left null lets all entries through.</summary>
public sealed record MaintenanceLogQuery
{
    /// <summary>Only entries about this database (engine, server and name or file).</summary>
    public DbOpsConnection? Connection { get; init; }

    /// <summary>Only entries whose database is this name or SQLite path, on any engine or server.</summary>
    public string? DatabaseName { get; init; }

    /// <summary>Only these operations (see <see cref="JournalOperations"/>).</summary>
    public IReadOnlyCollection<string>? Operations { get; init; }

    /// <summary>Only entries written at or after this time.</summary>
    public DateTimeOffset? After { get; init; }

    /// <summary>Only entries written at or before this time.</summary>
    public DateTimeOffset? Before { get; init; }

    /// <summary>Only these outcomes; "Succeeded" also matches entries that record none.</summary>
    public IReadOnlyCollection<string>? Outcomes { get; init; }

    /// <summary>The journal to read; null for the default one.</summary>
    public string? JournalPath { get; init; }
}

/// <summary>The journal read back: the entries a query selects, in the order they were written.</summary>
public static class MaintenanceLog
{
    /// <summary>The outcome an entry without one records.</summary>
    public const string Succeeded = nameof(Succeeded);

    /// <summary>Every journalled operation name, for completion and validation (the constants of <see cref="JournalOperations"/>).</summary>
    public static IReadOnlyList<string> KnownOperations { get; } = typeof(JournalOperations)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).Order(StringComparer.Ordinal).ToList();

    /// <summary>The entries <paramref name="query"/> selects.</summary>
    /// <exception cref="Errors.DbOpsException">JournalUnavailable when the journal cannot be read.</exception>
    public static IReadOnlyList<JournalEntry> Read(MaintenanceLogQuery query) =>
        OperationsJournal.Open(query.JournalPath).Read().Where(e => Selects(query, e)).ToList();

    /// <summary>The outcome of <paramref name="entry"/>, with <see cref="Succeeded"/> for an entry that records none.</summary>
    public static string OutcomeOf(JournalEntry entry) => entry.Outcome ?? Succeeded;

    private static bool Selects(MaintenanceLogQuery query, JournalEntry e) =>
        (query.Connection is not { } connection || e.IsAbout(connection.Provider, connection.Server, connection.Database))
        && (query.DatabaseName is not { } name || string.Equals(e.Database, name, Engines.DatabaseEngines.For(e.Provider).Inspection.DatabaseNameComparison))
        && (query.Operations is not { } operations || operations.Contains(e.Operation, StringComparer.OrdinalIgnoreCase))
        && (query.After is not { } after || e.Time >= after)
        && (query.Before is not { } before || e.Time <= before)
        && (query.Outcomes is not { } outcomes || outcomes.Contains(OutcomeOf(e), StringComparer.OrdinalIgnoreCase));
}
