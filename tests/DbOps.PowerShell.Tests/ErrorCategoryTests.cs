using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

/// <summary>An error's category says what went wrong, as its ErrorId does: a state that forbids the operation is not a resource that exists.</summary>
public sealed class ErrorCategoryTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    [Theory]
    [InlineData("Export-TableArchive -Database $db -Table goals -Destination $out | Import-TableArchive -Database $db",
        "TargetNotEmpty", ErrorCategory.InvalidOperation)]
    [InlineData("1..2 | ForEach-Object { Backup-Database -Database $db -Destination $out -Name twice.db }",
        "DestinationExists", ErrorCategory.ResourceExists)]
    [InlineData("Connect-Database -Path (Join-Path $out missing.db)", "DatabaseNotFound", ErrorCategory.ObjectNotFound)]
    [InlineData("Set-Content (Join-Path $out notes.txt) 'not a database, but long enough to hold a header'; Test-DataIntegrity -Database (Join-Path $out notes.txt)",
        "NotADatabase", ErrorCategory.InvalidData)]
    public void A_real_error_has_the_category_of_its_kind(string script, string errorId, ErrorCategory category)
    {
        var db = _folder.File("goals.db");
        _session.Run(". ([System.IO.Path]::Combine($examples, 'New-GoalsDatabase.ps1')); $null = New-GoalsDatabase -Path $db",
            new { examples = Path.Combine(Datasets.RepoRoot, "examples"), db });
        Assert.Empty(_session.Errors);

        _session.Run(script, new { db, @out = _folder.Path });

        var error = Assert.Single(_session.Errors);
        Assert.StartsWith(errorId + ",", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal(category, error.CategoryInfo.Category);
    }
}
