using System.Management.Automation;
using DbOps.Core.RowFixes;

namespace DbOps.PowerShell.Commands;

/// <summary>The Remove-TableRow cmdlet. Its help is docs/cmdlets/Remove-TableRow.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Remove, "TableRow", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = TableSet,
    HelpUri = HelpLinks.Docs + "Remove-TableRow.md")]
[OutputType(typeof(RowFix))]
public sealed class RemoveTableRowCommand : RowFixCommand
{
    private protected override RowFixAction Action => RowFixAction.Remove;

    private protected override IReadOnlyDictionary<string, object?>? Values => null;
}
