<#
.SYNOPSIS
    Rehearse a change on a staging copy: back up production, restore it into a new database, prove the copy matches,
    run the step there, compare, and remove the copy.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/rehearse-on-staging.ps1 [-Database <SQLite path or connection string>] [-StagingDatabase <...>]
    Without -Database it works on the sample goals tracker (SQLite, <Folder>/goals.db, created if missing).
    The staging copy is made by Restore-Database -Create: by default a new file in -Folder (SQLite) or a database named
    after production with '_staging' appended (PostgreSQL, on the same server). The step rehearsed is adding the
    missing foreign-key indexes. Production is only read and backed up.
    Exit codes: 0 the rehearsal lost no data; 3 the comparison found data loss; 1 a step failed.
#>
param(
    [string] $Folder = 'dbops-quickstart',
    # A SQLite path or a PostgreSQL connection string (Key=Value form); default: the sample goals tracker.
    [string] $Database,
    # Where the staging copy goes; it must not exist yet.
    [string] $StagingDatabase,
    [string] $JournalPath
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}
. (Join-Path $PSScriptRoot New-GoalsDatabase.ps1)

$folder = (New-Item -ItemType Directory -Path $Folder -Force).FullName
$production = Connect-ExampleDatabase -Database $Database -Folder $folder
$run = Join-Path $folder "rehearsal-$(Get-Date -AsUTC -Format 'yyyyMMdd-HHmmss')"
$journal = @{}
if ($JournalPath) { $journal.JournalPath = $JournalPath }
if (-not $StagingDatabase) {
    if ($production.Provider -eq 'SQLite') {
        $StagingDatabase = Join-Path $run 'staging.db'
    } else {
        # The same connection string with another database (Key=Value form; give -StagingDatabase for a URI).
        $otherKeys = $Database -split ';' | Where-Object { $_ -and $_ -notmatch '^\s*(database|db)\s*=' }
        $StagingDatabase = (@($otherKeys) + "Database=$($production.Database)_staging") -join ';'
    }
}

Write-Host "`n== 1. Back up production, and restore the backup into a new staging database" -ForegroundColor Cyan
$backup = Backup-Database -Database $production -Destination (Join-Path $run 'backup') -Verify @journal
$backup | Out-Default
$created = $backup | Restore-Database -Database $StagingDatabase -Create -Confirm:$false @journal
$created | Out-Default
$staging = Connect-Database $StagingDatabase

Write-Host "`n== 2. Prove the copy: a snapshot of staging compares cleanly with one of production" -ForegroundColor Cyan
$productionSnapshot = Get-DatabaseSnapshot -Database $production -Path (Join-Path $run 'production.json')
$copy = Compare-DatabaseSnapshot -Before $productionSnapshot -After (Get-DatabaseSnapshot -Database $staging) -SummaryOnly @journal
$copy | Out-Default
if ($copy.Differences.Count -gt 0) { throw "The staging copy differs from production: $($copy.Differences -join '; ')" }

Write-Host "`n== 3. The step, on staging: add the missing foreign-key indexes" -ForegroundColor Cyan
Find-MissingIndex -Database $staging | Add-SafeIndex | Out-Default

Write-Host "`n== 4. Compare staging after the step with production: what the step will change" -ForegroundColor Cyan
$comparison = Compare-DatabaseSnapshot -Before $productionSnapshot -After (Get-DatabaseSnapshot -Database $staging -Path (Join-Path $run 'staging-after.json')) @journal
$comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotDifference] } | Out-Default
$summary = $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotComparison] }
$summary | Out-Default

Write-Host "`n== 5. Remove the staging copy" -ForegroundColor Cyan
$created | Remove-Database -Confirm:$false @journal | Out-Default

if ($summary.DataLoss) {
    Write-Host 'DATA LOSS in the rehearsal: see the differences marked DataLoss above; fix the step before running it on production.' -ForegroundColor Red
    exit 3
}
Write-Host "Rehearsal passed: $($summary.RowsAfter) rows, no data lost; production was not changed. Everything is in $run" -ForegroundColor Green
