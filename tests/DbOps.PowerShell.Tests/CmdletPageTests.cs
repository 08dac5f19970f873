using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

/// <summary>The docs/cmdlets pages against the cmdlets the module really exports.</summary>
public sealed class CmdletPageTests : IDisposable
{
    private readonly PowerShellSession _session = new();

    public void Dispose() => _session.Dispose();

    [Fact]
    public void Every_cmdlet_page_names_every_parameter_of_its_cmdlet()
    {
        var parameters = _session.Run("""
            foreach ($command in (Get-Module DbOps).ExportedCmdlets.Values) {
                foreach ($name in $command.Parameters.Keys) {
                    $hidden = $command.Parameters[$name].Attributes | Where-Object { $_ -is [Parameter] -and $_.DontShow }
                    if (-not $hidden -and $name -notin [System.Management.Automation.Cmdlet]::CommonParameters -and
                        $name -notin [System.Management.Automation.Cmdlet]::OptionalCommonParameters) {
                        "$($command.Name) $name"
                    }
                }
            }
            """).Select(o => o.ToString().Split(' ')).ToList();
        Assert.Empty(_session.Errors);
        Assert.NotEmpty(parameters);

        var missing = parameters
            .Where(p => !File.ReadAllText(Path.Combine(Datasets.RepoRoot, "docs", "cmdlets", p[0] + ".md")).Contains("-" + p[1], StringComparison.Ordinal))
            .Select(p => $"{p[0]} -{p[1]}").ToList();

        Assert.True(missing.Count == 0, "Not on the cmdlet's page: " + string.Join(", ", missing));
    }
}
