<#
.SYNOPSIS
    Retire a deprecated column (an is_mock flag) with proof: snapshot, archive the column's values with the table's
    key and drop it under the lock, snapshot again, and compare: no data loss, because the archive holds every value.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/retire-column.ps1 [-Database <SQLite path or connection string>] [-Table sessions] [-Column is_mock]
    Without -Database it works on the sample goals tracker (SQLite, <Folder>/goals.db, created if missing); on the
    sample, or on a database whose table lacks the column, it first adds an is_mock flag to play the deprecated column.
    The snapshots count each column's values (-Checksum), so the comparison counts a dropped column that held values as
    data loss unless the journal names a verified column archive of it ($env:DBOPS_JOURNAL, or -JournalPath).
    Exit codes: 0 no data lost; 3 the comparison found data loss; 1 a step failed.
#>
param(
    [string] $Folder = 'dbops-retire-column',
    # A SQLite path or a PostgreSQL connection string; default: the sample goals tracker.
    [string] $Database,
    [string] $Table = 'sessions',
    [string] $Column = 'is_mock',
    [string] $JournalPath
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}
. (Join-Path $PSScriptRoot New-GoalsDatabase.ps1)

$folder = (New-Item -ItemType Directory -Path $Folder -Force).FullName
$db = Connect-ExampleDatabase -Database $Database -Folder $folder
$run = Join-Path $folder "retire-$(Get-Date -AsUTC -Format 'yyyyMMdd-HHmmss')"
$journal = @{}
if ($JournalPath) { $journal.JournalPath = $JournalPath }

if (-not (Get-DatabaseSnapshot -Database $db).Tables.Where({ $_.Name -eq $Table })[0].Columns.Where({ $_.Name -eq $Column })) {
    Write-Host "-- adding $Column to $Table to play the deprecated flag (every seventh row is a mock)"
    Invoke-DatabaseQuery -Database $db -Query "ALTER TABLE $Table ADD COLUMN $Column boolean" | Out-Null
    Invoke-DatabaseQuery -Database $db -Query "UPDATE $Table SET $Column = (id % 7 = 0)" | Out-Null
}

Write-Host "`n== 1. Snapshot before, counting every column's values" -ForegroundColor Cyan
$before = Get-DatabaseSnapshot -Database $db -Checksum -Path (Join-Path $run 'before.json')
$before | Out-Default

Write-Host "`n== 2. $Table.$Column archived with the table's key, verified, then dropped if unchanged under the lock" -ForegroundColor Cyan
$removal = Remove-DeprecatedColumn -Database $db -Table $Table -Column $Column -Destination (Join-Path $run 'archive') -Confirm:$false @journal
$removal | Format-List Table, Column, Removed, RowCount, Checksum, ArchivePath, Undo | Out-Default

Write-Host "`n== 3. Snapshot after, and the comparison" -ForegroundColor Cyan
$after = Get-DatabaseSnapshot -Database $db -Checksum -Path (Join-Path $run 'after.json')
$comparison = Compare-DatabaseSnapshot -Before $before -After $after @journal
$comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotDifference] } | Format-List ObjectType, Change, Table, Name, DataLoss, Archive, Explanation | Out-Default
$summary = $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotComparison] }
$summary | Out-Default

if ($summary.DataLoss) {
    Write-Host 'DATA LOSS: see the differences marked DataLoss above.' -ForegroundColor Red
    exit 3
}
Write-Host "No data lost: the values of $Table.$Column ($($removal.RowCount) rows) are in '$($removal.ArchivePath)'. To put them back: $($removal.Undo)" -ForegroundColor Green
