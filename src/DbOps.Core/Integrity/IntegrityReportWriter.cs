using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Xml.Linq;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Engines;

namespace DbOps.Core.Integrity;

/// <summary>The machine-readable forms of an integrity report.</summary>
public enum IntegrityReportFormat
{
    /// <summary>JSON: the whole report, every check with its findings.</summary>
    Json,
    /// <summary>JUnit XML, as CI dashboards read it: one test case per check × table.</summary>
    JUnit,
}

/// <summary>Writes integrity reports for schedulers and CI dashboards, atomically and readable by the owner only (they hold sample keys).</summary>
public static class IntegrityReportWriter
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        // Queries hold <, > and quotes: keep them readable in the file.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The format a file name implies: .xml is JUnit, anything else JSON.</summary>
    public static IntegrityReportFormat FormatFor(string path) =>
        Path.GetExtension(path).Equals(".xml", StringComparison.OrdinalIgnoreCase) ? IntegrityReportFormat.JUnit : IntegrityReportFormat.Json;

    /// <summary>
    /// A report made from findings alone (e.g. piped from Test-DataIntegrity without -AsReport): it holds one check
    /// per check × table that found something; checks that passed are not known and so not listed.
    /// </summary>
    public static IReadOnlyList<IntegrityReport> FromFindings(IEnumerable<IntegrityFinding> findings) =>
        findings.GroupBy(f => (f.Provider, f.Database)).Select(database => new IntegrityReport(
            database.Key.Provider, database.Key.Database, null, DateTimeOffset.UtcNow, TimeSpan.Zero,
            database.GroupBy(f => (f.Check, f.Table))
                .Select(g => new IntegrityCheckResult(g.Key.Check, g.Key.Table, g.First().Columns, null, g.ToList(), null, null, TimeSpan.Zero))
                .ToList())).ToList();

    /// <summary>Writes <paramref name="reports"/> to <paramref name="path"/>, replacing any earlier report there.</summary>
    /// <param name="reports">One report per database checked.</param>
    /// <param name="path">The file to write.</param>
    /// <param name="format">JSON or JUnit.</param>
    /// <param name="failOn">JUnit: findings at or above this severity are failures (default Error); lower ones go to system-out.</param>
    /// <param name="journalPath">The operations journal to record each database's summary in; null for the default one.</param>
    /// <param name="observer">Gets a warning when the journal cannot be written; null for none.</param>
    public static void Write(IReadOnlyList<IntegrityReport> reports, string path, IntegrityReportFormat format, IntegritySeverity failOn = IntegritySeverity.Error,
                             string? journalPath = null, IOperationObserver? observer = null)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        try
        {
            Directory.CreateDirectory(folder);
            ArtifactFiles.WriteAllTextAtomic(path, format == IntegrityReportFormat.Json ? ToJson(reports) : ToJUnit(reports, failOn), overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ArtifactFiles.IsDiskFull(e)
                ? ArtifactFiles.DiskFull(folder, e)
                : new DbOpsException(ErrorIds.DestinationNotWritable, ErrorKind.WriteError, $"The report '{path}' could not be written: {e.Message}", path, e);
        }
        Record(reports, Path.GetFullPath(path), failOn, journalPath, observer ?? new NullObserver());
    }

    /// <summary>
    /// The written report is the record of the check, so each database's summary is journalled with it: the latest
    /// one is what a maintenance report quotes. A check that only ran (Test-DataIntegrity alone) changes nothing and
    /// leaves no artifact, so it is not journalled.
    /// </summary>
    private static void Record(IReadOnlyList<IntegrityReport> reports, string path, IntegritySeverity failOn, string? journalPath, IOperationObserver observer)
    {
        var sha256 = ArtifactFiles.Sha256Async(path, CancellationToken.None).GetAwaiter().GetResult();
        foreach (var report in reports)
        {
            OperationsJournal.Record(journalPath, new JournalEntry
            {
                Time = DateTimeOffset.UtcNow,
                Operation = JournalOperations.IntegrityChecked,
                Provider = report.Provider,
                Database = report.Database,
                Path = path,
                Sha256 = sha256,
                Figures = new Dictionary<string, double>
                {
                    ["checks"] = report.Checks.Count,
                    ["errors"] = report.ErrorCount,
                    ["warnings"] = report.WarningCount,
                    ["info"] = report.InfoCount,
                    ["couldNotRun"] = report.CouldNotRunCount + report.MissingTables.Count,
                    ["seconds"] = Math.Round(report.Duration.TotalSeconds, 3),
                },
                Outcome = report.ShouldFail(failOn) ? "ProblemsFound" : null,
            }, observer);
        }
    }

    /// <summary>The reports as JSON: an object with one entry per database under "reports".</summary>
    public static string ToJson(IReadOnlyList<IntegrityReport> reports) => JsonSerializer.Serialize(new
    {
        generatedAt = DateTimeOffset.UtcNow,
        reports = reports.Select(r => new
        {
            provider = r.Provider,
            database = r.Database,
            level = r.Level,
            startedAt = r.StartedAt,
            durationSeconds = Math.Round(r.Duration.TotalSeconds, 3),
            summary = new { checks = r.Checks.Count, errors = r.ErrorCount, warnings = r.WarningCount, info = r.InfoCount, couldNotRun = r.CouldNotRunCount },
            missingTables = r.MissingTables.Count == 0 ? null : r.MissingTables.Select(m => new { name = m.Name, message = m.Message }),
            checks = r.Checks.Select(c => new
            {
                check = c.Check,
                table = c.Table,
                columns = c.Columns,
                description = c.Description,
                status = c.Status,
                durationSeconds = Math.Round(c.Duration.TotalSeconds, 3),
                errorId = c.ErrorId,
                errorMessage = c.ErrorMessage,
                findings = c.Findings.Select(f => new
                {
                    check = f.Check,
                    severity = f.Severity,
                    table = f.Table,
                    columns = f.Columns,
                    count = f.Count,
                    sample = f.Sample,
                    sampleKeyColumns = f.SampleKeyColumns,
                    message = f.Message,
                    query = f.Query,
                    relationship = f.Relationship,
                    referencedTable = f.ReferencedTable,
                    referencedColumns = f.ReferencedColumns.Count == 0 ? null : f.ReferencedColumns,
                    constraintName = f.ConstraintName,
                    suggestedConstraint = f.SuggestedConstraint is { } s
                        ? new { kind = s.Kind, table = s.Table, columns = s.Columns, expression = s.Expression, referencedTable = s.ReferencedTable,
                                referencedColumns = s.ReferencedColumns.Count == 0 ? null : s.ReferencedColumns, name = s.Name, text = s.ToString() }
                        : null,
                }),
            }),
        }),
    }, JsonOptions);

    /// <summary>
    /// The reports as JUnit XML: a test suite per database, a test case per check × table (classname the table,
    /// name the check). Findings at or above <paramref name="failOn"/> are a failure; a check that could not run
    /// is an error, as is a -Table name that matched no table (test case "TableExists"); lower findings are listed in system-out.
    /// </summary>
    public static string ToJUnit(IReadOnlyList<IntegrityReport> reports, IntegritySeverity failOn = IntegritySeverity.Error)
    {
        static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture);
        var suites = new List<XElement>();
        foreach (var report in reports)
        {
            var cases = report.Checks.GroupBy(c => (c.Check, c.Table)).Select(group =>
            {
                var findings = group.SelectMany(c => c.Findings).ToList();
                var failing = findings.Where(f => f.Severity >= failOn).ToList();
                var errors = group.Where(c => c.Status == IntegrityCheckStatus.CouldNotRun).ToList();
                var element = new XElement("testcase",
                    new XAttribute("classname", group.Key.Table ?? "(database)"),
                    new XAttribute("name", group.Key.Check.ToString()),
                    new XAttribute("time", Seconds(TimeSpan.FromTicks(group.Sum(c => c.Duration.Ticks)))));
                if (failing.Count > 0)
                {
                    element.Add(new XElement("failure",
                        new XAttribute("message", string.Join(" ", failing.Select(f => f.Message))),
                        new XAttribute("type", group.Key.Check.ToString()),
                        string.Join("\n\n", failing.Select(Describe))));
                }
                if (errors.Count > 0)
                {
                    element.Add(new XElement("error",
                        new XAttribute("message", string.Join(" ", errors.Select(e => e.ErrorMessage))),
                        new XAttribute("type", errors[0].ErrorId!)));
                }
                var other = findings.Except(failing).ToList();
                if (other.Count > 0)
                {
                    element.Add(new XElement("system-out", string.Join("\n\n", other.Select(Describe))));
                }
                return (Element: element, Failed: failing.Count > 0, Error: errors.Count > 0);
            }).Concat(report.MissingTables.Select(m => (
                Element: new XElement("testcase", new XAttribute("classname", m.Name), new XAttribute("name", "TableExists"), new XAttribute("time", "0.000"),
                    new XElement("error", new XAttribute("message", m.Message), new XAttribute("type", Errors.ErrorIds.TableNotFound))),
                Failed: false, Error: true))).ToList();
            suites.Add(new XElement("testsuite",
                new XAttribute("name", SuiteName(report)),
                new XAttribute("tests", cases.Count),
                new XAttribute("failures", cases.Count(c => c.Failed)),
                new XAttribute("errors", cases.Count(c => c.Error)),
                new XAttribute("skipped", 0),
                new XAttribute("time", Seconds(report.Duration)),
                new XAttribute("timestamp", report.StartedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture)),
                new XElement("properties",
                    new XElement("property", new XAttribute("name", "provider"), new XAttribute("value", report.Provider.ToString())),
                    new XElement("property", new XAttribute("name", "database"), new XAttribute("value", report.Database)),
                    new XElement("property", new XAttribute("name", "level"), new XAttribute("value", report.Level?.ToString() ?? ""))),
                cases.Select(c => c.Element)));
        }
        var root = new XElement("testsuites",
            new XAttribute("name", "DbOps Test-DataIntegrity"),
            new XAttribute("tests", suites.Sum(s => (int)s.Attribute("tests")!)),
            new XAttribute("failures", suites.Sum(s => (int)s.Attribute("failures")!)),
            new XAttribute("errors", suites.Sum(s => (int)s.Attribute("errors")!)),
            suites);
        return new XDocument(new XDeclaration("1.0", "utf-8", null), root).Declaration + Environment.NewLine + root;
    }

    private static string SuiteName(IntegrityReport report) =>
        $"Test-DataIntegrity {DatabaseEngines.For(report.Provider).Inspection.DatabaseTitle(report.Database)}";

    private static string Describe(IntegrityFinding f) =>
        $"[{f.Severity}] {f.Message}" +
        (f.Sample.Count > 0 ? $"\nSample ({string.Join(", ", f.SampleKeyColumns)}): {string.Join(", ", f.Sample)}" : "") +
        (f.Query is null ? "" : $"\nQuery:\n{f.Query}") +
        (f.SuggestedConstraint is { } s ? $"\nSuggested constraint: {s}" : "");
}
