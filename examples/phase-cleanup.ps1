<#
.SYNOPSIS
    A cleanup phase end to end: find the tables nothing uses, back up with proof, archive them with proof, drop
    them, and prove the survivors are unchanged. (PostgreSQL's usage statistics count the backup's and the
    snapshot's reads as scans, so the tables are judged first.)
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/phase-cleanup.ps1 [-Database <SQLite path or connection string>]
    Without -Database it works on the sample goals tracker (SQLite, <Folder>/goals.db, created if missing).
    A stand-in for the application's source under <Folder>/app-src names the tables still in use.
    Remove-DeprecatedTable drops a table only with a verified archive that still matches its rows (an empty table
    without one), so a table written to since it was archived, or one another object needs, stays.
    It ends by writing <run>/maintenance-report.md from the operations journal: the backup, archives and drops
    with their proofs, the snapshot comparison's verdict, and the commands that undo each step.
    Exit codes: 0 done and nothing lost; 3 a survivor changed or data was lost; 1 a step failed.
#>
param(
    [string] $Folder = 'dbops-phase-cleanup',
    # A SQLite path or a PostgreSQL connection string; default: the sample goals tracker.
    [string] $Database,
    [string] $JournalPath,
    # PostgreSQL: the youngest usage statistics that can show a table is unused (Find-UnusedTable's default: 7 days).
    [string] $MinimumStatsAge
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}
. (Join-Path $PSScriptRoot New-GoalsDatabase.ps1)

$folder = (New-Item -ItemType Directory -Path $Folder -Force).FullName
$db = Connect-ExampleDatabase -Database $Database -Folder $folder
$run = Join-Path $folder "phase-$(Get-Date -AsUTC -Format 'yyyyMMdd-HHmmss')"
$start = Get-Date
$journal = @{}
if ($JournalPath) { $journal.JournalPath = $JournalPath }
# The application's code: what it names is in use, whatever the database says.
$src = Join-Path $folder 'app-src'
$null = New-Item -ItemType Directory -Path $src -Force
Set-Content -Path (Join-Path $src 'Repository.cs') -Value 'const string Goals = "SELECT * FROM goals"; const string Sessions = "SELECT * FROM sessions JOIN activity_instances JOIN activity_groups";'

Write-Host "`n== 1. Which tables does anything use? (first: the backup and the snapshot read every table)" -ForegroundColor Cyan
$age = @{}
if ($MinimumStatsAge) { $age.MinimumStatsAge = [TimeSpan]::Parse($MinimumStatsAge) }
$usage = Find-UnusedTable -Database $db -CodePath $src @age
$usage | Out-Default
$unused = @($usage | Where-Object { $_.Verdict -eq 'Unused' -or $_.Verdict -eq 'Empty' })

Write-Host "`n== 2. A backup, restored and counted before anything changes, and a copy in a second place" -ForegroundColor Cyan
$backup = Backup-Database -Database $db -Destination (Join-Path $run 'backup') -Verify @journal
$backup | Out-Default
$backup | Copy-Backup -Destination (Join-Path $run 'backup-copy') @journal | Out-Default
$before = Get-DatabaseSnapshot -Database $db

Write-Host "`n== 3. Archive them, each with proof that the archive restores" -ForegroundColor Cyan
$archives = @($unused | Export-TableArchive -Destination (Join-Path $run 'archive') -Verify @journal)
$archives | Out-Default

Write-Host "`n== 4. Drop them: under the table lock, only if the archive still matches the rows" -ForegroundColor Cyan
$removals = @($archives | Remove-DeprecatedTable -Confirm:$false -ErrorAction Continue @journal)
$removals | Out-Default
$dropped = @(foreach ($removal in $removals) { if ($removal.Dropped) { $removal.QualifiedName } })

Write-Host "`n== 5. Proof: the surviving tables and their row counts are unchanged" -ForegroundColor Cyan
$after = Get-DatabaseSnapshot -Database $db
$changed = 0
foreach ($table in $before.Tables) {
    $name = $table.ToString()
    $now = $after.Tables | Where-Object { $_.ToString() -eq $name }
    if ($dropped -contains $name) {
        if ($now) { Write-Host "STILL THERE: $name was reported dropped" -ForegroundColor Red; $changed++ }
        continue
    }
    if (-not $now -or $now.Rows -ne $table.Rows) {
        Write-Host "CHANGED: $name had $($table.Rows) rows, now $(if ($now) { $now.Rows } else { 'gone' })" -ForegroundColor Red
        $changed++
    }
    else {
        Write-Host ("kept     {0,-24} {1,8} rows" -f $name, $now.Rows)
    }
}
$summary = Compare-DatabaseSnapshot -Before $before -After $after @journal | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotComparison] }
$summary | Out-Default

Write-Host "`n== 6. The record of the phase: what was done, its proofs, and how to undo each step" -ForegroundColor Cyan
$report = Export-MaintenanceReport -Database $db -Path (Join-Path $run 'maintenance-report.md') -After $start -BeforeSnapshot $before -AfterSnapshot $after @journal
Write-Host "Report: $($report.Path) ($($report.Entries.Count) steps)"

if ($changed -gt 0 -or $summary.DataLoss) {
    Write-Host 'A survivor changed or data was lost: restore from the backup above before going on.' -ForegroundColor Red
    exit 3
}
Write-Host "Dropped $($dropped.Count) table(s) ($($dropped -join ', ')); $($after.TableCount) table(s) kept with their rows. Everything is in $run" -ForegroundColor Green
