using DbOps.Core.Connections;

namespace DbOps.Core.Integrity;

/// <summary>How one check on one table ended.</summary>
public enum IntegrityCheckStatus
{
    /// <summary>It ran and found nothing (or only Info findings).</summary>
    Passed,
    /// <summary>It ran and found problems (Error or Warning findings).</summary>
    ProblemsFound,
    /// <summary>It could not run (missing table, permission denied, ...); see ErrorId and ErrorMessage.</summary>
    CouldNotRun,
}

/// <summary>One check on one table (or the whole database): its query, outcome, findings and time.</summary>
public sealed class IntegrityCheckResult
{
    internal IntegrityCheckResult(IntegrityCheck check, string? table, IReadOnlyList<string> columns, string? description,
        IReadOnlyList<IntegrityFinding> findings, string? errorId, string? errorMessage, TimeSpan duration)
    {
        Check = check;
        Table = table;
        Columns = columns;
        Description = description;
        Findings = findings;
        ErrorId = errorId;
        ErrorMessage = errorMessage;
        Duration = duration;
        Status = errorId is not null ? IntegrityCheckStatus.CouldNotRun
            : findings.Any(f => f.Severity >= IntegritySeverity.Warning) ? IntegrityCheckStatus.ProblemsFound
            : IntegrityCheckStatus.Passed;
    }

    /// <summary>Which check.</summary>
    public IntegrityCheck Check { get; }

    /// <summary>The table as schema.name (SQLite: name); null for a database-wide check.</summary>
    public string? Table { get; }

    /// <summary>The columns the check looked at.</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>What was checked, e.g. "sessions(goal_id) -> goals(id), inferred".</summary>
    public string? Description { get; }

    /// <summary>Passed, ProblemsFound or CouldNotRun.</summary>
    public IntegrityCheckStatus Status { get; }

    /// <summary>What it found.</summary>
    public IReadOnlyList<IntegrityFinding> Findings { get; }

    /// <summary>Why it could not run: a stable DbOps error id; null when it ran.</summary>
    public string? ErrorId { get; }

    /// <summary>Why it could not run, in words.</summary>
    public string? ErrorMessage { get; }

    /// <summary>How long it took.</summary>
    public TimeSpan Duration { get; }
}

/// <summary>A table named with -Table that does not exist: its checks did not run (the other tables' did).</summary>
/// <param name="Name">The name as given.</param>
/// <param name="Message">Why it was not found, with a hint (the search path, a table of that name in another schema).</param>
public sealed record MissingTable(string Name, string Message);

/// <summary>
/// Everything one Test-DataIntegrity run did: every check × table with its outcome (passing ones too), the findings,
/// and the checks that could not run. Export-IntegrityReport writes it as JSON or JUnit XML.
/// </summary>
public sealed class IntegrityReport
{
    internal IntegrityReport(DatabaseProvider provider, string database, IntegrityLevel? level, DateTimeOffset startedAt,
        TimeSpan duration, IReadOnlyList<IntegrityCheckResult> checks, IReadOnlyList<MissingTable>? missingTables = null)
    {
        MissingTables = missingTables ?? [];
        Provider = provider;
        Database = database;
        Level = level;
        StartedAt = startedAt;
        Duration = duration;
        Checks = checks;
        Findings = checks.SelectMany(c => c.Findings).ToList();
    }

    /// <summary>PostgreSQL or SQLite.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>The PostgreSQL database name, or the SQLite file's full path.</summary>
    public string Database { get; }

    /// <summary>The level the run used; null for a report put together from findings alone.</summary>
    public IntegrityLevel? Level { get; }

    /// <summary>When the run started (UTC).</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>How long the whole run took.</summary>
    public TimeSpan Duration { get; }

    /// <summary>Every check × table that ran or was meant to run.</summary>
    public IReadOnlyList<IntegrityCheckResult> Checks { get; }

    /// <summary>Tables named with -Table that do not exist; nothing was checked for them.</summary>
    public IReadOnlyList<MissingTable> MissingTables { get; }

    /// <summary>Every finding, in the order the checks ran.</summary>
    public IReadOnlyList<IntegrityFinding> Findings { get; }

    /// <summary>Findings of severity Error.</summary>
    public int ErrorCount => Findings.Count(f => f.Severity == IntegritySeverity.Error);

    /// <summary>Findings of severity Warning.</summary>
    public int WarningCount => Findings.Count(f => f.Severity == IntegritySeverity.Warning);

    /// <summary>Findings of severity Info.</summary>
    public int InfoCount => Findings.Count(f => f.Severity == IntegritySeverity.Info);

    /// <summary>Checks that could not run.</summary>
    public int CouldNotRunCount => Checks.Count(c => c.Status == IntegrityCheckStatus.CouldNotRun);

    /// <summary>Findings at or above <paramref name="severity"/>, e.g. <c>$report.CountAtOrAbove('Warning')</c>.</summary>
    public int CountAtOrAbove(IntegritySeverity severity) => Findings.Count(f => f.Severity >= severity);

    /// <summary>Findings at or above <paramref name="severity"/>, checks that could not run, or missing tables: a scheduled run should fail.</summary>
    public bool ShouldFail(IntegritySeverity severity) => CountAtOrAbove(severity) > 0 || CouldNotRunCount > 0 || MissingTables.Count > 0;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Database}: {Checks.Count} checks, {ErrorCount} errors, {WarningCount} warnings, {InfoCount} info, {CouldNotRunCount} could not run";
}
