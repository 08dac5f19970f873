using System.Collections;
using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Integrity;

namespace DbOps.PowerShell.Commands;

/// <summary>The Test-DataIntegrity cmdlet. Its help is docs/cmdlets/Test-DataIntegrity.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsDiagnostic.Test, "DataIntegrity", HelpUri = HelpLinks.Docs + "Test-DataIntegrity.md")]
[OutputType(typeof(IntegrityFinding), typeof(IntegrityReport))]
public sealed class TestDataIntegrityCommand : DbOpsCmdlet
{
    private static readonly HashSet<string> SpecErrors =
        [ErrorIds.InvalidRelationship, ErrorIds.InvalidSpecification, ErrorIds.ColumnNotFound, ErrorIds.TableNotFound];

    private readonly List<(DatabaseArgument Database, List<string> Tables, bool AllTables)> _pending = [];
    private readonly List<IntegrityReport> _reports = [];
    private bool _tableNamed;

    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connections, SQLite paths or PostgreSQL connection strings.")]
    public DatabaseArgument[] Database { get; set; } = [];

    /// <summary>Tables to check ("t" or "schema.t"); by default every table. Binds Table/TableName/Name properties from the pipeline.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("TableName", "Name")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[] Table { get; set; } = [];

    /// <summary>Quick, Standard (default) or Full; see docs/cmdlets/Test-DataIntegrity.md for what each checks and locks.</summary>
    [Parameter]
    public IntegrityLevel Level { get; set; } = IntegrityLevel.Standard;

    /// <summary>Run only these checks (a check named here runs even if -Level would leave it out).</summary>
    [Parameter]
    public IntegrityCheck[]? Check { get; set; }

    /// <summary>Relationships to check for orphans: @{ 'child.column' = 'parent.column' }; composite: @{ 'c.a,b' = 'p.x,y' }.</summary>
    [Parameter]
    public IDictionary? Relationship { get; set; }

    /// <summary>Columns that must not hold NULL: @{ goals = 'root_id' } or @{ goals = 'root_id','title' }.</summary>
    [Parameter]
    public IDictionary? RequiredColumn { get; set; }

    /// <summary>Keys that must be unique: @{ activity_groups = 'root_id,name' }; several keys of one table: @{ t = @('a'), @('b','c') }.</summary>
    [Parameter]
    public IDictionary? UniqueKey { get; set; }

    /// <summary>Conditions every row must satisfy, as a CHECK would state them: @{ goals = 'deadline >= created_at' }.</summary>
    [Parameter]
    public IDictionary? Condition { get; set; }

    /// <summary>Emit one IntegrityReport (every check × table, passing ones too) instead of the findings; pipe it to Export-IntegrityReport.</summary>
    [Parameter]
    public SwitchParameter AsReport { get; set; }

    /// <summary>After every database is checked, write one IntegrityProblemsFound error when any finding is at or above this severity; with $ErrorActionPreference = 'Stop' it ends a scheduled job with exit code 1.</summary>
    [Parameter]
    public IntegritySeverity? FailOn { get; set; }

    /// <summary>How many databases to check at once, the largest first (default 1: one after another).</summary>
    [Parameter]
    [ValidateRange(1, MaxThrottleLimit)]
    public int ThrottleLimit { get; set; } = 1;

    /// <inheritdoc/>
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        _tableNamed = MyInvocation.BoundParameters.ContainsKey(nameof(Table));
    }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        foreach (var database in Database)
        {
            // A piped file is a database: its Name bound -Table by property name, and names no table.
            var tables = database.IsFile && !_tableNamed ? [] : Table;
            var last = _pending.Count > 0 ? _pending[^1] : default;
            if (_pending.Count > 0 && SameDatabase(last.Database, database))
            {
                last.Tables.AddRange(tables);
                _pending[^1] = (last.Database, last.Tables, last.AllTables || tables.Length == 0);
            }
            else
            {
                _pending.Add((database, [.. tables], tables.Length == 0));
            }
        }
    }

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            RunChecks();
            // Last, after every database's output: under $ErrorActionPreference = 'Stop' this error ends the script.
            if (FailOn is { } severity && _reports.Sum(r => r.CountAtOrAbove(severity)) is var count and > 0)
            {
                WriteDbOpsError(ProblemsFound(_reports, severity, count));
            }
        }
        finally
        {
            base.EndProcessing();
        }
    }

    private void RunChecks()
    {
        IReadOnlyList<RelationshipSpec> relationships;
        IReadOnlyList<ColumnSpec> requiredColumns, uniqueKeys;
        IReadOnlyList<ConditionSpec> conditions;
        try
        {
            relationships = Specs.Pairs(Relationship, "-Relationship").Select(p => new RelationshipSpec(p.Key, p.Values.Single())).ToList();
            requiredColumns = Specs.Pairs(RequiredColumn, "-RequiredColumn").Select(p => new ColumnSpec(p.Key, p.Values)).ToList();
            uniqueKeys = Specs.Keys(UniqueKey);
            conditions = Specs.Pairs(Condition, "-Condition").SelectMany(p => p.Values.Select(v => new ConditionSpec(p.Key, v))).ToList();
        }
        catch (DbOpsException e)
        {
            ThrowDbOpsError(e);
            return;
        }
        // The same connection given twice (not one after the other) is checked once, for the tables of both.
        var tablesOf = new Dictionary<DbOpsConnection, IReadOnlyList<string>>(ReferenceEqualityComparer.Instance);
        var databases = new List<(DatabaseArgument Argument, DbOpsConnection Connection)>();
        var resolved = ResolveEach(_pending.Select(p => p.Database));
        foreach (var (argument, connection) in resolved)
        {
            var (_, tables, allTables) = _pending.First(p => ReferenceEquals(p.Database, argument));
            if (tablesOf.TryGetValue(connection, out var earlier))
            {
                tablesOf[connection] = earlier.Count == 0 || allTables ? [] : [.. earlier.Concat(tables).Distinct(StringComparer.Ordinal)];
                continue;
            }
            tablesOf[connection] = allTables ? [] : [.. tables.Distinct(StringComparer.Ordinal)];
            databases.Add((argument, connection));
        }
        RunEach(databases, ThrottleLimit,
            (source, observer, token) => IntegrityService.RunAsync(new IntegrityRequest(source)
            {
                Tables = tablesOf[source],
                Level = Level,
                Checks = Check,
                Relationships = relationships,
                RequiredColumns = requiredColumns,
                UniqueKeys = uniqueKeys,
                Conditions = conditions,
            }, observer, token),
            (_, report) => WriteReport(report),
            (database, e) =>
            {
                if (SpecErrors.Contains(e.ErrorId))
                {
                    ThrowDbOpsError(e);
                }
                WriteDbOpsError(e, database);
            });
    }

    private void WriteReport(IntegrityReport report)
    {
        if (AsReport)
        {
            WriteObject(report);
        }
        else
        {
            WriteObject(report.Findings, enumerateCollection: true);
        }
        foreach (var missing in report.MissingTables)
        {
            WriteDbOpsError(new DbOpsException(ErrorIds.TableNotFound, ErrorKind.NotFound, missing.Message, missing.Name), missing.Name);
        }
        foreach (var failed in report.Checks.Where(c => c.Status == IntegrityCheckStatus.CouldNotRun))
        {
            var kind = failed.ErrorId switch
            {
                ErrorIds.InsufficientPrivilege => ErrorKind.PermissionDenied,
                ErrorIds.TableNotFound => ErrorKind.NotFound,
                _ => ErrorKind.OperationFailed,
            };
            WriteDbOpsError(new DbOpsException(failed.ErrorId!, kind, failed.ErrorMessage!, failed.Table), failed.Table ?? report.Database);
        }
        _reports.Add(report);
    }

    /// <summary>The error -FailOn writes: how many findings, of which checks, on which tables.</summary>
    internal static DbOpsException ProblemsFound(IReadOnlyList<IntegrityReport> reports, IntegritySeverity severity, int count)
    {
        var summary = string.Join("; ", reports.SelectMany(r => r.Findings).Where(f => f.Severity >= severity)
            .GroupBy(f => f.Check).Select(g => $"{g.Key} on {string.Join(", ", g.Select(f => f.Table ?? "the database").Distinct())}"));
        return new DbOpsException(ErrorIds.IntegrityProblemsFound, ErrorKind.InvalidData,
            $"Integrity checks found {count} problem(s) at or above {severity}: {summary}.", string.Join(", ", reports.Select(r => r.Database)));
    }

    private static bool SameDatabase(DatabaseArgument a, DatabaseArgument b) =>
        ReferenceEquals(a, b) || (a.Connection is not null && ReferenceEquals(a.Connection, b.Connection)) || (a.Text is not null && a.Text == b.Text);
}

/// <summary>Reads the hashtables of -Relationship, -RequiredColumn, -UniqueKey and -Condition.</summary>
internal static class Specs
{
    /// <summary>Each entry as its key and its value's strings (a string, or an array of them).</summary>
    public static IEnumerable<(string Key, IReadOnlyList<string> Values)> Pairs(IDictionary? specs, string parameter)
    {
        foreach (DictionaryEntry entry in specs ?? new Hashtable())
        {
            var key = Unwrap(entry.Key)?.ToString() ?? "";
            var values = Unwrap(entry.Value) switch
            {
                string s => [s],
                IEnumerable items => items.Cast<object?>().Select(i => Unwrap(i)?.ToString() ?? "").ToList(),
                null => [],
                var other => new List<string> { other.ToString() ?? "" },
            };
            if (key.Length == 0 || values.Count == 0 || values.Any(string.IsNullOrWhiteSpace))
            {
                throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                    $"{parameter} has an entry with an empty name or value ('{key}'); write @{{ table = 'value' }}.");
            }
            if (parameter == "-Relationship" && values.Count != 1)
            {
                throw new DbOpsException(ErrorIds.InvalidRelationship, ErrorKind.InvalidArgument,
                    $"-Relationship '{key}' must map to one parent ('parent.column'), not {values.Count}.");
            }
            yield return (key, values);
        }
    }

    /// <summary>-UniqueKey: a string or an array of strings is one key; an array holding arrays is one key per element.</summary>
    public static IReadOnlyList<ColumnSpec> Keys(IDictionary? specs)
    {
        var keys = new List<ColumnSpec>();
        foreach (DictionaryEntry entry in specs ?? new Hashtable())
        {
            var table = Unwrap(entry.Key)?.ToString() ?? "";
            var value = Unwrap(entry.Value);
            if (value is IEnumerable items and not string && items.Cast<object?>().Any(i => Unwrap(i) is IEnumerable and not string))
            {
                foreach (var item in items)
                {
                    keys.Add(new ColumnSpec(table, Pairs(new Hashtable { [table] = item }, "-UniqueKey").Single().Values));
                }
            }
            else
            {
                keys.Add(new ColumnSpec(table, Pairs(new Hashtable { [table] = value }, "-UniqueKey").Single().Values));
            }
        }
        return keys;
    }

    private static object? Unwrap(object? value) => value is PSObject o ? o.BaseObject : value;
}
