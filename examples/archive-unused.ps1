<#
.SYNOPSIS
    Find the tables nothing uses, archive them with proof, and prove an archive restores elsewhere.
.DESCRIPTION
    Builds the sample goals tracker (SQLite), writes a stand-in for the application's source under -Folder,
    judges every table with Find-UnusedTable -CodePath, archives the Unused and Empty ones with
    Export-TableArchive -Verify, and imports each archive into a separate restore-check database.
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/archive-unused.ps1
    Exits 1 when an archive does not verify.
#>
param(
    [string] $Folder = 'dbops-archive-example'
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}
. (Join-Path $PSScriptRoot New-GoalsDatabase.ps1)

$folder = (New-Item -ItemType Directory -Path $Folder -Force).FullName
$db = Connect-Database -Path (New-GoalsDatabase -Path (Join-Path $folder 'goals.db'))

# The application's code: what it names is in use, whatever the database says.
$src = Join-Path $folder 'app-src'
$null = New-Item -ItemType Directory -Path $src -Force
Set-Content -Path (Join-Path $src 'Repository.cs') -Value 'const string Goals = "SELECT * FROM goals"; const string Sessions = "SELECT * FROM sessions JOIN activity_instances ...";'

Write-Host "`n== 1. Which tables does anything use?" -ForegroundColor Cyan
$usage = Find-UnusedTable -Database $db -CodePath $src
$usage | Out-Default

Write-Host "`n== 2. Archive the unused and empty ones, and prove each archive loads back" -ForegroundColor Cyan
$archives = $usage | Where-Object { $_.Verdict -eq 'Unused' -or $_.Verdict -eq 'Empty' } |
    Export-TableArchive -Destination (Join-Path $folder 'archive') -Verify -Force
$archives | Out-Default

Write-Host "`n== 3. Restore check: load every archive into another database" -ForegroundColor Cyan
$archives | Import-TableArchive -Database (Join-Path $folder 'restore-check.db') -Confirm:$false | Out-Default

$failed = @($archives | Where-Object { -not $_.Verified })
if ($failed.Count -gt 0) { exit 1 }
Write-Host "$(@($archives).Count) table(s) archived and verified." -ForegroundColor Green
