using System.Management.Automation;
using DbOps.Core.Columns;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Find-DeprecatedColumn cmdlet. Its help is docs/cmdlets/Find-DeprecatedColumn.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Find, "DeprecatedColumn", HelpUri = HelpLinks.Docs + "Find-DeprecatedColumn.md")]
[OutputType(typeof(ColumnDeprecation))]
public sealed class FindDeprecatedColumnCommand : DbOpsCmdlet
{
    private readonly List<DatabaseArgument> _databases = [];

    /// <summary>The database: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connections, SQLite paths or PostgreSQL connection strings.")]
    public DatabaseArgument[] Database { get; set; } = [];

    /// <summary>Tables to examine ("name" or "schema.name", wildcards allowed); every user table when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(PlainTableNameCompleter))]
    public string[]? Table { get; set; }

    /// <summary>Columns to examine (wildcards allowed); every column outside the key when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColumnNameCompleter))]
    public string[]? Column { get; set; }

    /// <summary>Column names (wildcards allowed, e.g. is_mock) that mark a column deprecated.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Pattern { get; set; }

    /// <summary>Folders whose files (source, SQL, ORM models) are searched for whole-word references to each column name.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? CodePath { get; set; }

    /// <summary>PostgreSQL: read NULLs and distinct values from the planner's statistics (pg_stats) instead of counting every row.</summary>
    [Parameter]
    public SwitchParameter UseStatistics { get; set; }

    /// <summary>How many databases to work on at once, the largest first (default 1: one after another).</summary>
    [Parameter]
    [ValidateRange(1, MaxThrottleLimit)]
    public int ThrottleLimit { get; set; } = 1;

    /// <inheritdoc/>
    protected override void ProcessRecord() => _databases.AddRange(Database);

    /// <inheritdoc/>
    protected override void EndProcessing()
    {
        try
        {
            var codePaths = CodePath?.Select(ResolvePath).ToList();
            RunEach(ResolveEach(_databases), ThrottleLimit,
                (source, observer, token) => DeprecatedColumnService.FindAsync(
                    new DeprecatedColumnRequest(source, Table, Column, Pattern, codePaths, UseStatistics), observer, token),
                (_, columns) => WriteObject(columns, enumerateCollection: true));
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e);
        }
        finally
        {
            base.EndProcessing();
        }
    }
}
