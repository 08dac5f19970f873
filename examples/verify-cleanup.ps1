<#
.SYNOPSIS
    Prove a cleanup lost nothing: snapshot, clean up, snapshot again, compare, stop on data loss, and document
    what is left.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/verify-cleanup.ps1 [-Database <SQLite path or connection string>]
    Without -Database it works on the sample goals tracker (SQLite, <Folder>/goals.db, created if missing).
    The cleanup: a verified backup, a verified archive of every table nobody uses, the removal of those tables, and
    the missing foreign-key indexes. The operations journal records the backup, the archives and the removals
    ($env:DBOPS_JOURNAL, or -JournalPath), so the comparison can tell a table removed on purpose from a lost one.
    It ends by writing <run>/maintenance-report.md: every step from the journal with its proof, the comparison's
    DataLoss verdict, and the commands that undo each step.
    Exit codes: 0 no data lost; 3 the comparison found data loss; 1 a step failed.
#>
param(
    [string] $Folder = 'dbops-quickstart',
    # A SQLite path or a PostgreSQL connection string; default: the sample goals tracker.
    [string] $Database,
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
$run = Join-Path $folder "cleanup-$(Get-Date -AsUTC -Format 'yyyyMMdd-HHmmss')"
$start = Get-Date
$journal = @{}
if ($JournalPath) { $journal.JournalPath = $JournalPath }

Write-Host "`n== 1. Snapshot before: every table's exact row count, columns, indexes and constraints" -ForegroundColor Cyan
$before = Get-DatabaseSnapshot -Database $db -Path (Join-Path $run 'before.json')
$before | Out-Default

Write-Host "`n== 2. The cleanup" -ForegroundColor Cyan
Write-Host '-- a backup, restored and counted before anything changes'
Backup-Database -Database $db -Destination (Join-Path $run 'backup') -Verify @journal | Out-Default
Write-Host '-- tables nobody uses, archived with proof that the archive restores'
$unused = Find-UnusedTable -Database $db | Where-Object { $_.Verdict -eq 'Unused' -or $_.Verdict -eq 'Empty' }
$unused | Out-Default
$archives = @($unused | Export-TableArchive -Destination (Join-Path $run 'archive') -Verify @journal)
$archives | Out-Default
Write-Host '-- the archived tables dropped, each only if its archive still matches its rows under the table lock'
$archives | Remove-DeprecatedTable -Confirm:$false @journal | Out-Default
Write-Host '-- the missing foreign-key indexes'
Find-MissingIndex -Database $db | Add-SafeIndex @journal | Out-Default

Write-Host "`n== 3. Snapshot after, and the comparison: one line per change" -ForegroundColor Cyan
$after = Get-DatabaseSnapshot -Database $db -Path (Join-Path $run 'after.json')
$comparison = Compare-DatabaseSnapshot -Before $before -After $after @journal
$comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotDifference] } | Out-Default
$summary = $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotComparison] }
$summary | Out-Default

Write-Host "`n== 4. Documentation of the result: data dictionary and ER diagram" -ForegroundColor Cyan
Export-DatabaseDocumentation -Database $db -Destination (Join-Path $run 'docs') @journal | Out-Default

Write-Host "`n== 5. The record of the cleanup: what was done, its proofs, and how to undo each step" -ForegroundColor Cyan
$report = Export-MaintenanceReport -Database $db -Path (Join-Path $run 'maintenance-report.md') -After $start -BeforeSnapshot $before -AfterSnapshot $after @journal
Write-Host "Report: $($report.Path) ($($report.Entries.Count) steps)"

if ($summary.DataLoss) {
    Write-Host 'DATA LOSS: see the differences marked DataLoss above; restore from the backup before going on.' -ForegroundColor Red
    exit 3
}
Write-Host "No data lost: $($summary.TablesBefore) tables before, $($summary.TablesAfter) after, $($summary.RowsAfter) rows. Everything is in $run" -ForegroundColor Green
