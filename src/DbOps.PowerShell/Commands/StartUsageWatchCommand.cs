using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Usage;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Records PostgreSQL's usage counters of every table and index now, so Find-UnusedTable and Find-UnusedIndex -Since can judge later what was used in between.</para>
/// <para type="description">Young statistics make Find-UnusedTable say Unknown. Instead of resetting them, take a
/// baseline now and judge from it in a week: -Since uses the counters' growth since the baseline. The baseline names
/// its database (server, name, OID) and statistics generation (last reset, server start); -Since refuses it for
/// another database (UsageBaselineMismatch) or after a reset or a server start (UsageBaselineStale). -Path saves it
/// as JSON (owner-only). Reads only.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "UsageWatch")]
[OutputType(typeof(UsageBaseline))]
public sealed class StartUsageWatchCommand : DbOpsCmdlet
{
    /// <summary>A PostgreSQL database: a connection or a connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection or PostgreSQL connection string.")]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>A file to save the baseline to (JSON), for a later session's -Since.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>Replaces an existing file at -Path (without it, DestinationExists).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var source = ResolveDatabase(Database);
            var path = Path is null ? null : ResolvePath(Path);
            WriteObject(Run((_, token) => UsageWatch.StartAsync(source, path, token, Force)));
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }
}
