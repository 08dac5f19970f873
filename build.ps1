<#
.SYNOPSIS
    Builds, tests or packages DbOps. The same steps as the dotnet commands in README.md.
.EXAMPLE
    ./build.ps1                 # Build: leaves an importable module in out/DbOps/
    ./build.ps1 -Task Test      # Build, then run every test
    ./build.ps1 -Task Package   # Build, then zip out/DbOps into out/DbOps-<version>.zip
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Dotnet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

Invoke-Dotnet build DbOps.sln -c $Configuration

switch ($Task) {
    'Test' {
        Invoke-Dotnet test DbOps.sln -c $Configuration --no-build
    }
    'Package' {
        $version = (Import-PowerShellDataFile ./out/DbOps/DbOps.psd1).ModuleVersion
        $zip = Join-Path $PSScriptRoot "out/DbOps-$version.zip"
        Remove-Item $zip -ErrorAction SilentlyContinue
        Compress-Archive -Path ./out/DbOps -DestinationPath $zip
        Write-Host "Packaged $zip"
    }
}
