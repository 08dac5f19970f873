<#
.SYNOPSIS
    Fix dirty rows reversibly: find the goals tracker's defects, rehearse the fixes on a staging restore, apply them to
    the real database with an archive of every changed row's prior image, add the constraints the dirty rows blocked,
    and prove with a snapshot comparison that every removed row is explained by an archive.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/fix-dirty-rows.ps1 [-Database <SQLite path or connection string>] [-StagingDatabase <...>]
    Without -Database it works on the sample goals tracker (SQLite, <Folder>/goals.db, created if missing). The staging
    copy is made by Restore-Database -Create (a new file in -Folder, or on PostgreSQL a database named after the real
    one with '_staging' appended) and removed at the end of the rehearsal. The constraints are examples/constraint-plan.psd1.
    Every fix writes its prior image under <Folder>/fixes-<time>/; each fix's Undo line puts its rows back.
    Exit codes: 0 fixed, no data lost; 3 the comparison found data loss; 1 a step failed.
#>
param(
    [string] $Folder = 'dbops-fixes',
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
$run = Join-Path $folder "fixes-$(Get-Date -AsUTC -Format 'yyyyMMdd-HHmmss')"
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
$plan = (Import-PowerShellDataFile (Join-Path $PSScriptRoot 'constraint-plan.psd1')).Constraints

# The rules the application assumes but the schema never stated (the same as the constraint plan's).
$rules = @{
    RequiredColumn = @{ goals = 'root_id' }
    UniqueKey      = @{ activity_groups = 'root_id,name' }
    Condition      = @{ goals = 'deadline >= created_at' }
}

function Find-Defect($db) {
    Test-DataIntegrity -Database $db -Check OrphanedRows, NullValues, DuplicateKeys, CheckViolation @rules
}

# Every fix archives the prior image of exactly the rows it changes (into a folder of its own under $destination).
function Repair-GoalsData($db, [string] $destination) {
    $defects = Find-Defect $db
    $fix = @{ Destination = $destination; Confirm = $false } + $journal
    # Children first: activities reference their session through a foreign key, so an orphaned session cannot go
    # while its activities are there (Remove-TableRow refuses with RowsReferenced, naming them).
    Remove-TableRow -Database $db -Table activity_instances -Where 'session_id IN (SELECT id FROM sessions WHERE goal_id NOT IN (SELECT id FROM goals))' @fix
    $defects | Where-Object Check -eq OrphanedRows | Remove-TableRow @fix
    $defects | Where-Object Check -eq NullValues | Update-TableRow -Set @{ root_id = 'id' } @fix
    $defects | Where-Object Check -eq CheckViolation | Update-TableRow -Set @{ deadline = 'created_at' } @fix
    # Activities use the groups too: the repeats keep their rows and get a name of their own.
    $defects | Where-Object Check -eq DuplicateKeys | Update-TableRow -Set @{ name = "name || ' (' || id || ')'" } @fix
}

function Show-Comparison($comparison) {
    $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotDifference] } | Out-Default
    $summary = $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotComparison] }
    $summary | Out-Default
    $summary
}

Write-Host "`n== 1. Find the defects, and see the constraints they block" -ForegroundColor Cyan
Find-Defect $production | Format-Table Check, Severity, Table, Columns, Count, Sample | Out-Default
$plan | Add-SafeConstraint -Database $production -WhatIf

Write-Host "`n== 2. Rehearse on a staging restore: back up, restore into a new database, fix there, compare" -ForegroundColor Cyan
$backup = Backup-Database -Database $production -Destination (Join-Path $run 'backup') -Verify @journal
$created = $backup | Restore-Database -Database $StagingDatabase -Create -Confirm:$false @journal
$created | Out-Default
$staging = Connect-Database $StagingDatabase
$stagingBefore = Get-DatabaseSnapshot -Database $staging -Checksum
Repair-GoalsData $staging (Join-Path $run 'staging-fixes') | Format-Table Table, Action, Status, RowCount | Out-Default
$rehearsed = $plan | Add-SafeConstraint -Database $staging
$rehearsed | Format-Table Table, Kind, Name, Status | Out-Default
$rehearsal = Show-Comparison (Compare-DatabaseSnapshot -Before $stagingBefore -After (Get-DatabaseSnapshot -Database $staging -Checksum) @journal)
$created | Remove-Database -Confirm:$false @journal | Out-Default
if ($rehearsal.DataLoss) {
    Write-Host 'DATA LOSS in the rehearsal (see the differences marked DataLoss above); production was not changed.' -ForegroundColor Red
    exit 3
}
if (@($rehearsed | Where-Object Status -ne 'Added').Count -gt 0) {
    Write-Host 'The rehearsal left a constraint out (see above); production was not changed.' -ForegroundColor Red
    exit 1
}

Write-Host "`n== 3. Fix production, with the prior image of every changed row archived" -ForegroundColor Cyan
$before = Get-DatabaseSnapshot -Database $production -Checksum -Path (Join-Path $run 'before.json')
$fixes = Repair-GoalsData $production (Join-Path $run 'fixes')
$fixes | Format-Table Table, Action, Status, RowCount, Condition -Wrap | Out-Default
Write-Host 'To undo a fix:'
foreach ($f in $fixes) { Write-Host "  $($f.Undo)" }

Write-Host "`n== 4. Add the constraints that were blocked before" -ForegroundColor Cyan
$added = $plan | Add-SafeConstraint -Database $production
$added | Format-Table Table, Kind, Name, Status | Out-Default

Write-Host "`n== 5. Compare production before and after: every removed row is in a verified archive" -ForegroundColor Cyan
$summary = Show-Comparison (Compare-DatabaseSnapshot -Before $before -After (Get-DatabaseSnapshot -Database $production -Checksum -Path (Join-Path $run 'after.json')) @journal)

if ($summary.DataLoss) {
    Write-Host 'DATA LOSS: see the differences marked DataLoss above; the fixes'' Undo lines put the rows back.' -ForegroundColor Red
    exit 3
}
if (@($added | Where-Object Status -ne 'Added').Count -gt 0) { exit 1 }
Write-Host "Fixed $(($fixes | Measure-Object RowCount -Sum).Sum) rows in $(@($fixes).Count) fixes, added $(@($added).Count) constraints, no data lost. Everything is in $run" -ForegroundColor Green
