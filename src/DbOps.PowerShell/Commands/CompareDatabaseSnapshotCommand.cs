using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Snapshots;

namespace DbOps.PowerShell.Commands;

/// <summary>The Compare-DatabaseSnapshot cmdlet. Its help is docs/cmdlets/Compare-DatabaseSnapshot.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Compare, "DatabaseSnapshot", HelpUri = HelpLinks.Docs + "Compare-DatabaseSnapshot.md")]
[OutputType(typeof(SnapshotDifference), typeof(SnapshotComparison))]
public sealed class CompareDatabaseSnapshotCommand : DbOpsCmdlet
{
    /// <summary>The earlier snapshot, or the path of a saved one.</summary>
    [Parameter(Mandatory = true, Position = 0, HelpMessage = "The earlier snapshot or its file.")]
    public SnapshotArgument Before { get; set; } = null!;

    /// <summary>The later snapshot, or the path of a saved one.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true, HelpMessage = "The later snapshot or its file.")]
    public SnapshotArgument After { get; set; } = null!;

    /// <summary>The operations journal to look up archives of removed tables in; by default $env:DBOPS_JOURNAL or the user's.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <summary>Emit only the summary, not each difference.</summary>
    [Parameter]
    public SwitchParameter SummaryOnly { get; set; }

    /// <summary>Stop with a terminating DataLossDetected error (after writing the output) when data was lost.</summary>
    [Parameter]
    public SwitchParameter FailOnDataLoss { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        SnapshotComparison comparison;
        try
        {
            comparison = SnapshotComparer.Compare(Load(Before), Load(After), JournalPath is null ? null : ResolvePath(JournalPath));
        }
        catch (DbOpsException e)
        {
            ThrowDbOpsError(e, After);
            return;
        }
        if (!SummaryOnly)
        {
            WriteObject(comparison.Differences, enumerateCollection: true);
        }
        WriteObject(comparison);
        if (FailOnDataLoss && comparison.DataLoss)
        {
            var lost = comparison.Differences.Where(d => d.DataLoss).Select(d => d.Explanation);
            ThrowDbOpsError(new DbOpsException(ErrorIds.DataLossDetected, ErrorKind.InvalidData,
                $"Data was lost between {comparison.Before} and {comparison.After}: {string.Join("; ", lost)}. " +
                "Restore the lost rows from the last backup before going on.", comparison), comparison);
        }
    }

    private DatabaseSnapshot Load(SnapshotArgument argument) => argument.Snapshot ?? SnapshotService.Load(ResolvePath(argument.Path!));
}
