using System.Collections;
using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Performance;

namespace DbOps.PowerShell.Commands;

/// <summary>The Measure-QueryPerformance cmdlet. Its help is docs/cmdlets/Measure-QueryPerformance.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsDiagnostic.Measure, "QueryPerformance", DefaultParameterSetName = QuerySet, HelpUri = HelpLinks.Docs + "Measure-QueryPerformance.md")]
[OutputType(typeof(QueryBenchmark))]
public sealed class MeasureQueryPerformanceCommand : DbOpsCmdlet
{
    private const string QuerySet = nameof(Query);
    private const string PathSet = nameof(Path);

    /// <summary>-Database resolved once (it does not come from the pipeline).</summary>
    private DbOpsConnection? _database;

    /// <summary>The database; optional when piping Get-SlowQuery or earlier results, which carry their connection.</summary>
    [Parameter(Position = 0)]
    [OneDatabase]
    public DatabaseArgument? Database { get; set; }

    /// <summary>One SQL statement; parameters as @name with -Parameters.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = QuerySet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true,
               HelpMessage = "The SQL statement to measure.")]
    [ValidateNotNullOrEmpty]
    public string Query { get; set; } = "";

    /// <summary>A .sql file holding one statement.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet, HelpMessage = "Path of a .sql file with one statement.")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>
    /// The connection a piped Get-SlowQuery or Measure-QueryPerformance result was read through (bound by property
    /// name); -Database takes precedence.
    /// </summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    public DbOpsConnection? Source { get; set; }

    /// <summary>Parameter values by name (@{ id = 42 }), or by position for $1, $2 (@{ '1' = 42 }).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public IDictionary? Parameters { get; set; }

    /// <summary>Timed executions (default 30).</summary>
    [Parameter]
    [ValidateRange(1, 1_000_000)]
    public int Iterations { get; set; } = 30;

    /// <summary>Untimed executions before timing starts (default 3).</summary>
    [Parameter]
    [ValidateRange(0, 1_000_000)]
    public int Warmup { get; set; } = 3;

    /// <summary>Earlier results to compare against: one, or a set matched by query text.</summary>
    [Parameter]
    public QueryBenchmark[]? Baseline { get; set; }

    /// <summary>Let a data-modifying statement commit every execution. Without it, writes are rolled back.</summary>
    [Parameter]
    public SwitchParameter AllowWrite { get; set; }

    /// <summary>The operations journal to record a comparison with -Baseline in; by default $env:DBOPS_JOURNAL or the user's DbOps/journal.jsonl.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var query = ParameterSetName == PathSet ? Path : Query;
        try
        {
            // -Database does not come from the pipeline: resolve (and connect) once, not per query.
            var source = Database is not null ? _database ??= ResolveDatabase(Database) : Source ?? throw new DbOpsException(
                ErrorIds.InvalidQuery, ErrorKind.InvalidArgument,
                "Measure-QueryPerformance needs -Database (a connection, SQLite path or PostgreSQL connection string) unless the piped objects carry one.");
            query = ParameterSetName == PathSet ? ReadQueryFile() : Query;
            var baseline = Baseline is { Length: > 0 } ? QueryMeasurement.SelectBaseline(Baseline, query) : null;
            if (Baseline is { Length: > 0 } && baseline is null)
            {
                WriteWarning($"No baseline was measured with the query '{query}'; SpeedUp is left empty.");
            }
            var request = new QueryMeasurementRequest(source, query, ToParameterValues(Parameters), Iterations, Warmup, AllowWrite, baseline)
            {
                JournalPath = ResolveOptionalPath(JournalPath),
            };
            WriteObject(Run((observer, token) => QueryMeasurement.MeasureAsync(request, observer, token)));
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, query);
        }
    }

    private string ReadQueryFile()
    {
        var file = ResolvePath(Path);
        if (!File.Exists(file))
        {
            throw new DbOpsException(ErrorIds.FileNotFound, ErrorKind.NotFound, $"The query file '{file}' does not exist.", file);
        }
        return File.ReadAllText(file);
    }
}
