# One set of real results of every DbOps type that has a default view, from a runbook on the sample goals tracker
# (SQLite). Dot-sourced by Views.Tests.ps1 after TestHelpers.ps1; fills $ViewObjects (type name -> objects) and
# leaves its files in $work, which the caller removes.
# Paths as short as a runbook's usually are (TestDrive's own are twice as long as a typical one).
$work = New-Item -ItemType Directory -Path (Join-Path ([System.IO.Path]::GetTempPath()) "dbv-$(Get-Random)")
$path = New-GoalsDatabase -Path (Join-Path $work goals.db)
$db = Connect-Database -Path $path
$backup = Backup-Database -Database $db -Destination (Join-Path $work backups) -Verify -WarningAction SilentlyContinue
$verification = $backup | Test-Backup -WarningAction SilentlyContinue
$restore = $backup | Restore-Database -Database (Join-Path $work restored.db) -Confirm:$false -WarningAction SilentlyContinue
$copy = $backup | Copy-Backup -Destination (Join-Path $work offsite)
$null = Backup-Database -Database $db -Destination (Join-Path $work offsite) -Name goals-newer.sqlite
$removedBackup = Remove-Backup -Path (Join-Path $work offsite) -Keep 1 -Confirm:$false
$removal = $backup | Restore-Database -Database (Join-Path $work staging.db) -Create -Confirm:$false | Remove-Database -Confirm:$false
$before = Get-DatabaseSnapshot -Database $db
$report = Test-DataIntegrity -Database $db -AsReport
$queries = 'SELECT count(*) FROM sessions WHERE goal_id = 17', 'SELECT g.title, s.started_at FROM goals g JOIN sessions s ON s.goal_id = g.id WHERE g.id = 99'
$measured = $queries | Measure-QueryPerformance -Database $db -Iterations 2
$missing = Find-MissingIndex -Database $db
$created = $missing | Add-SafeIndex
$measuredAfter = $measured | Measure-QueryPerformance -Database $db -Iterations 2 -Baseline $measured
$null = Add-SafeIndex -Database $db -Table goals -Column status -Name ix_goals_status
$null = Add-SafeIndex -Database $db -Table goals -Column status, deadline
$unusedIndexes = Find-UnusedIndex -Database $db
$constraints = @{ Table = 'goals'; Check = 'deadline >= created_at' }, @{ Table = 'goals'; Check = 'id > 0' } |
    Add-SafeConstraint -Database $db -ErrorAction SilentlyContinue
$usage = Find-UnusedTable -Database $db
$archives = $usage | Where-Object Verdict -in 'Unused', 'Empty' | Export-TableArchive -Destination (Join-Path $work archive) -Verify
$imported = $archives | Import-TableArchive -Database (Join-Path $work import.db) -Confirm:$false
$removals = $archives | Remove-DeprecatedTable -Confirm:$false -ErrorAction SilentlyContinue
$comparison = Compare-DatabaseSnapshot -Before $before -After (Get-DatabaseSnapshot -Database $db)
$documentation = Export-DatabaseDocumentation -Database $db -Destination (Join-Path $work docs)
$renamed = Rename-Table -Database $db -Table goals -NewName objectives -CompatibilityView

$ViewObjects = @{
    'DbOps.Core.Connections.DbOpsConnection'         = $db
    'DbOps.Core.Backup.BackupResult'                 = $backup
    'DbOps.Core.Backup.BackupVerification'           = $verification
    'DbOps.Core.Backup.RestoreResult'                = $restore
    'DbOps.Core.Backup.BackupCopy'                   = $copy
    'DbOps.Core.Backup.BackupRemoval'                = $removedBackup
    'DbOps.Core.Databases.DatabaseRemoval'           = $removal
    'DbOps.Core.Engines.TableRowCount'             = $backup.Tables
    'DbOps.Core.Backup.TableComparison'              = $verification.Tables
    'DbOps.Core.Snapshots.DatabaseSnapshot'          = $before
    'DbOps.Core.Snapshots.TableSnapshot'             = $before.Tables
    'DbOps.Core.Snapshots.SnapshotDifference'        = $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotDifference] }
    'DbOps.Core.Snapshots.SnapshotComparison'        = $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotComparison] }
    'DbOps.Core.Documentation.DocumentationResult'   = $documentation
    'DbOps.Core.Integrity.IntegrityFinding'          = $report.Findings
    'DbOps.Core.Integrity.IntegrityReport'           = $report
    'DbOps.Core.Constraints.ConstraintResult'        = $constraints
    'DbOps.Core.Performance.QueryBenchmark'          = $measuredAfter
    'DbOps.Core.Indexes.MissingIndex'                = $missing
    'DbOps.Core.Indexes.IndexFinding'                = $unusedIndexes
    'DbOps.Core.Indexes.IndexChange'                 = $created
    'DbOps.Core.Usage.TableUsage'                    = $usage
    'DbOps.Core.Archive.TableArchive'                = $archives
    'DbOps.Core.Archive.ArchiveImportResult'         = $imported
    'DbOps.Core.Removal.TableRemoval'                = $removals
    'DbOps.Core.Renames.TableRename'                 = $renamed
    # PostgreSQL only (statistics counters), so a stand-in with the same type name and properties renders its view.
    'DbOps.Core.Usage.UsageBaseline'                 = [pscustomobject]@{
        PSTypeName = 'DbOps.Core.Usage.UsageBaseline'; Database = 'PostgreSQL db1:5432/sales'; TakenAt = [DateTimeOffset]::UtcNow
        Tables = @(1..42); Indexes = @(1..97); Path = '/var/lib/dbops/sales-usage.json'
    }
    # PostgreSQL only (pg_stat_statements), so a stand-in with the same type name and properties renders its view.
    'DbOps.Core.Performance.SlowQuery'               = [pscustomobject]@{
        PSTypeName = 'DbOps.Core.Performance.SlowQuery'; TotalMs = 48211.5; Calls = 120344; MeanMs = 0.4006; PercentOfTotal = 38.2
        LikelyNPlusOne = $true; Query = 'SELECT id, title, status, deadline FROM goals WHERE root_id = $1 ORDER BY created_at DESC LIMIT $2'
    }
}
