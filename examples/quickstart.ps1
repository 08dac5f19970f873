<#
.SYNOPSIS
    DbOps in two minutes: build a sample SQLite database, back it up, and prove the backup restores.
.DESCRIPTION
    Runs unchanged under pwsh (after Import-Module ./out/DbOps/DbOps.psd1) and under DbOps.Runner:
        dotnet run --project src/DbOps.Runner -- examples/quickstart.ps1
    Everything it writes goes to -Folder (default: ./dbops-quickstart).
#>
param(
    [string] $Folder = 'dbops-quickstart'
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'out', 'DbOps', 'DbOps.psd1'))
}
. ([System.IO.Path]::Combine($PSScriptRoot, 'New-GoalsDatabase.ps1'))

$folder = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Folder)
$databasePath = New-GoalsDatabase -Path ([System.IO.Path]::Combine($folder, 'goals.db'))

Write-Host "`n== 1. Connect to the sample goals tracker" -ForegroundColor Cyan
$db = Connect-Database -Path $databasePath
$db | Out-Default

Write-Host "`n== 2. Back it up, restore the copy, and compare every table's row count" -ForegroundColor Cyan
$backup = Backup-Database -Database $db -Destination ([System.IO.Path]::Combine($folder, 'backups')) -Verify
$backup | Out-Default

Write-Host "`n== 3. Rows per table, counted from the backup file itself" -ForegroundColor Cyan
$backup.Tables | Out-Default

Write-Host "`n== 4. Later, e.g. in a nightly job: is that backup still intact?" -ForegroundColor Cyan
$backup | Test-Backup | Out-Default

if (-not $backup.Verified) { exit 1 }
Write-Host "Backup verified: $($backup.Path)" -ForegroundColor Green
