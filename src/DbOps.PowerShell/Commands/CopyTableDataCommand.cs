using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Moves;

namespace DbOps.PowerShell.Commands;

/// <summary>The Copy-TableData cmdlet. Its help is docs/cmdlets/Copy-TableData.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Copy, "TableData", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = HelpLinks.Docs + "Copy-TableData.md")]
[OutputType(typeof(CopyResult))]
public sealed class CopyTableDataCommand : TableMapCommand
{
    /// <summary>What to do with a key already in the target with other values: Skip (default), Update or Fail.</summary>
    [Parameter]
    public ConflictAction OnConflict { get; set; } = ConflictAction.Skip;

    /// <summary>
    /// Source rows per batch, every batch the same; each batch is its own transaction. Default: none, batches are sized by
    /// time (-BatchTime). Not with -BatchTime.
    /// </summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? BatchSize { get; set; }

    /// <summary>
    /// Without -BatchSize, how long one batch should take (its statements through COMMIT, not -Pause); a number means
    /// seconds. The first batch takes 10,000 rows (the whole source when it has fewer), each next one is sized from how long
    /// the last took, between half and twice its size and within 1,000..100,000 rows. Default 0.5 seconds (0.1 on SQLite,
    /// where every other writer waits for a batch).
    /// </summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan? BatchTime { get; set; }

    /// <summary>How long to wait between batches, so other writers get the table; a number means seconds. Default none.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan Pause { get; set; }

    /// <summary>How long one batch waits for a lock before the copy stops; a number means seconds. Default 5 seconds.</summary>
    [Parameter]
    [SecondsTransformation]
    public TimeSpan LockTimeout { get; set; } = CopyRequest.DefaultLockTimeout;

    /// <summary>
    /// Connections copying batches at once (PostgreSQL): one reads the batches' bounds ahead, the others copy them as they
    /// come, each batch its own transaction. SQLite (one writer) and -OnConflict Update copy over one, with a warning. Default 1.
    /// </summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int Parallel { get; set; } = 1;

    /// <summary>Compare the source with the target afterwards and report the comparison in the result.</summary>
    [Parameter]
    public SwitchParameter Verify { get; set; }

    /// <summary>
    /// The folder for the archive of the target rows -OnConflict Update overwrites (each copy in a folder of its own inside
    /// it). Default: a prior-images folder beside the journal.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Destination { get; set; }

    /// <summary>The operations journal to record the copy in; by default $env:DBOPS_JOURNAL or the per-user journal.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void BeginProcessing()
    {
        base.BeginProcessing();
        if (LockTimeout <= TimeSpan.Zero || Pause < TimeSpan.Zero)
        {
            ThrowDbOpsError(new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"-LockTimeout must be positive and -Pause not negative (got {LockTimeout} and {Pause})."));
        }
        try
        {
            TableCopier.ValidateBatches(BatchSize, BatchTime);
        }
        catch (DbOpsException e)
        {
            ThrowDbOpsError(e);
        }
    }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var database = ResolveDatabase(Database);
            var request = new CopyRequest(BuildMap(database, null), OnConflict, BatchSize, Pause, LockTimeout, Verify,
                JournalPath is null ? null : ResolvePath(JournalPath), Destination is null ? null : ResolvePath(Destination)) { Parallel = Parallel, BatchTime = BatchTime };
            var preview = Run((_, token) => TableCopier.PreviewAsync(request, token));
            var overwrites = preview.Overwrites == 0 ? ""
                : $", overwriting {preview.Overwrites} target row(s) whose values differ once their prior image is archived in " +
                  $"'{request.PriorImageFolder ?? TableCopier.DefaultPriorImageFolder(request.JournalPath)}'";
            if (!ShouldProcessStatements($"{Target} in {database}",
                    $"Copy the rows of {Source ?? "the source query"} into {Target} {Batches(request)}{(Parallel > 1 && OnConflict != ConflictAction.Update && database.Provider == DatabaseProvider.PostgreSQL ? $" over {Parallel} connections" : "")}{overwrites}; each batch runs", preview.Statements)
                || (preview.Overwrites > 0 && !ShouldOverwrite(preview.Overwrites)))
            {
                return;
            }
            WriteObject(Run((observer, token) => TableCopier.CopyAsync(request, observer, token)));
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Database);
        }
    }

    /// <summary>What -WhatIf says of the batches: a fixed size only when -BatchSize gave one.</summary>
    private static string Batches(CopyRequest request) => TableCopier.BatchTimeOf(request) is { } time
        ? $"in batches sized to take about {TableCopier.Seconds(time)} each, starting at {BatchSizer.Start:N0} rows"
        : $"in batches of {request.BatchSize}";

    /// <summary>
    /// Overwriting target rows asks as a High-impact cmdlet asks (by default), while Skip and Fail keep the cmdlet's
    /// Medium impact: under $ConfirmPreference High, which a Medium cmdlet does not ask under, it asks here. -Confirm
    /// (it asked already), -Confirm:$false and $ConfirmPreference None do not ask again; neither do Low and Medium, under
    /// which ShouldProcess asked.
    /// </summary>
    private bool ShouldOverwrite(long overwrites) =>
        MyInvocation.BoundParameters.ContainsKey("Confirm")
        || (LanguagePrimitives.TryConvertTo(SessionState.PSVariable.GetValue("ConfirmPreference"), out ConfirmImpact preference) ? preference : ConfirmImpact.High) != ConfirmImpact.High
        || ShouldContinue($"Overwrite {overwrites} row(s) of {Target} with the source's values? Their prior image is archived first, and the copy's Undo line puts them back.",
            $"{MyInvocation.MyCommand.Name} -OnConflict Update");
}
