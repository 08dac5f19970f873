using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Usage;

namespace DbOps.PowerShell.Commands;

/// <summary>The Start-UsageWatch cmdlet. Its help is docs/cmdlets/Start-UsageWatch.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsLifecycle.Start, "UsageWatch", HelpUri = HelpLinks.Docs + "Start-UsageWatch.md")]
[OutputType(typeof(UsageBaseline))]
public sealed class StartUsageWatchCommand : DbOpsCmdlet
{
    /// <summary>A PostgreSQL database: a connection or a connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection or PostgreSQL connection string.")]
    [OneDatabase]
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
