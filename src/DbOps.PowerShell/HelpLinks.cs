namespace DbOps.PowerShell;

/// <summary>Where each cmdlet's page lives: Get-Help -Online opens it (the Cmdlet attribute's HelpUri).</summary>
internal static class HelpLinks
{
    /// <summary>The docs/cmdlets folder of the repository the manifest names; a page is &lt;Verb-Noun&gt;.md.</summary>
    public const string Docs = "https://github.com/dbops-dev/DbOps/blob/main/docs/cmdlets/";
}
