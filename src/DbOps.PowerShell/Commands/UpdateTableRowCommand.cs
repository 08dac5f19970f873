using System.Management.Automation;
using DbOps.Core.RowFixes;

namespace DbOps.PowerShell.Commands;

/// <summary>The Update-TableRow cmdlet. Its help is docs/cmdlets/Update-TableRow.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsData.Update, "TableRow", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = TableSet,
    HelpUri = HelpLinks.Docs + "Update-TableRow.md")]
[OutputType(typeof(RowFix))]
public sealed class UpdateTableRowCommand : RowFixCommand
{
    /// <summary>Column = value: a string is a read-only SQL expression (<c>'start_date'</c>, <c>"'text'"</c>); any other value is a parameter.</summary>
    [Parameter(Mandatory = true, HelpMessage = "Column = value pairs: a string is a SQL expression, anything else a value.")]
    [ValidateNotNull]
    public System.Collections.Hashtable Set { get; set; } = null!;

    private protected override RowFixAction Action => RowFixAction.Update;

    private protected override IReadOnlyDictionary<string, object?>? Values => ToValues(Set);
}
