<#
.SYNOPSIS
    DbOps in two minutes: build a sample SQLite database, back it up, and prove the backup restores.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/quickstart.ps1
    Everything it writes goes to -Folder (default: ./dbops-quickstart).
#>
param(
    [string] $Folder = 'dbops-quickstart'
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}
. (Join-Path $PSScriptRoot New-GoalsDatabase.ps1)

$folder = (New-Item -ItemType Directory -Path $Folder -Force).FullName
$databasePath = New-GoalsDatabase -Path (Join-Path $folder 'goals.db')

Write-Host "`n== 1. Connect to the sample goals tracker" -ForegroundColor Cyan
$db = Connect-Database -Path $databasePath
$db | Out-Default

Write-Host "`n== 2. Back it up, restore the copy, and compare every table's row count" -ForegroundColor Cyan
$backup = Backup-Database -Database $db -Destination (Join-Path $folder 'backups') -Verify
$backup | Out-Default

Write-Host "`n== 3. Rows per table, counted from the backup file itself" -ForegroundColor Cyan
$backup.Tables | Out-Default

Write-Host "`n== 4. Later, e.g. in a nightly job: is that backup still intact?" -ForegroundColor Cyan
$backup | Test-Backup | Out-Default

if (-not $backup.Verified) { exit 1 }
Write-Host "Backup verified: $($backup.Path)" -ForegroundColor Green
