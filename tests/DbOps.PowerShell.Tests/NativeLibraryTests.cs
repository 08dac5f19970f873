namespace DbOps.PowerShell.Tests;

/// <summary>The module finds its native SQLite library for as long as any runspace of the process uses it.</summary>
public sealed class NativeLibraryTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Remove_Module_in_a_parallel_runspace_leaves_SQLite_working_in_the_others()
    {
        // A process of its own, so that this script's first SQLite call is the process's first: the native library is
        // looked up only then, after another runspace has imported and removed the module.
        var script = _folder.File("remove-elsewhere.ps1");
        File.WriteAllText(script, """
            param([string] $Database)
            $ErrorActionPreference = 'Stop'
            Import-Module DbOps
            1 | ForEach-Object -Parallel { Import-Module DbOps; Remove-Module DbOps }
            "connected: $((Connect-Database -Path $Database -Create).Provider)"
            1..2 | ForEach-Object -Parallel { Import-Module DbOps; "tables: $((Get-DatabaseSnapshot -Database $using:Database).TableCount)" }
            """);

        var (exitCode, stdout, stderr) = PwshProcess.Run(script, "-Database", _folder.File("fresh.db"));

        Assert.True(exitCode == 0, stderr);
        Assert.Contains("connected: SQLite", stdout);
        Assert.Equal(2, stdout.Split('\n').Count(line => line.Trim() == "tables: 0"));
    }
}
