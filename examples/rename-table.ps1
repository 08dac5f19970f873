<#
.SYNOPSIS
    Rename a table behind a compatibility view, prove that old readers still work and that no data was lost, and
    keep the line that undoes it.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/rename-table.ps1 [-Database <SQLite path or connection string>] [-Table sessions] [-NewName focus_sessions]
    Without -Database it works on the sample goals tracker (SQLite, <Folder>/goals.db, created if missing).
    The rename runs in one transaction under a short lock timeout, tried again while the table is busy; a view under
    the old name keeps old readers working (on PostgreSQL old writers too) until the applications use the new name.
    The operations journal records the rename with its undo line ($env:DBOPS_JOURNAL, or -JournalPath), so the
    snapshot comparison reports a rename, not a lost table.
    Exit codes: 0 renamed, nothing lost; 3 the comparison found data loss; 1 a step failed.
#>
param(
    [string] $Folder = 'dbops-quickstart',
    # A SQLite path or a PostgreSQL connection string; default: the sample goals tracker.
    [string] $Database,
    [string] $Table = 'sessions',
    [string] $NewName = 'focus_sessions',
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
$journal = @{}
if ($JournalPath) { $journal.JournalPath = $JournalPath }

Write-Host "`n== 1. Snapshot before, with content checksums" -ForegroundColor Cyan
$before = Get-DatabaseSnapshot -Database $db -Checksum
$before | Out-Default

Write-Host "`n== 2. What the rename would run" -ForegroundColor Cyan
Rename-Table -Database $db -Table $Table -NewName $NewName -CompatibilityView -WhatIf

Write-Host "`n== 3. The rename, leaving a compatibility view under the old name" -ForegroundColor Cyan
$rename = Rename-Table -Database $db -Table $Table -NewName $NewName -CompatibilityView @journal
$rename | Format-List Status, QualifiedName, NewName, CompatibilityView, RenamedObjects, KeptNames, LockRetries | Out-Default
$quote = { param($name) '"' + $name.Replace('"', '""') + '"' }
$old = Invoke-DatabaseQuery -Database $db -Query "SELECT count(*) AS n FROM $(& $quote $rename.Schema).$(& $quote $rename.Table)"
$new = Invoke-DatabaseQuery -Database $db -Query "SELECT count(*) AS n FROM $(& $quote $rename.Schema).$(& $quote $rename.NewName)"
Write-Host "Old readers still work: $($rename.Table) (the view) has $($old.n) rows, $($rename.NewName) has $($new.n)."

Write-Host "`n== 4. Snapshot after, and the comparison" -ForegroundColor Cyan
$comparison = Compare-DatabaseSnapshot -Before $before -After (Get-DatabaseSnapshot -Database $db -Checksum) @journal
$comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotDifference] } | Out-Default
$summary = $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotComparison] }
$summary | Out-Default

if ($summary.DataLoss) {
    Write-Host 'DATA LOSS: see the differences marked DataLoss above.' -ForegroundColor Red
    exit 3
}
Write-Host "Renamed $($rename.QualifiedName) to $($rename.NewName); no data lost. To undo it:" -ForegroundColor Green
Write-Host "  $($rename.Undo)"
Write-Host "When nothing reads $($rename.Table) any more, drop the view: DROP VIEW $(& $quote $rename.Schema).$(& $quote $rename.Table)"
