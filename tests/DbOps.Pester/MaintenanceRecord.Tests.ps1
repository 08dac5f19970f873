# The maintenance record as a runbook meets it: each journalled cmdlet leaves exactly one entry (none under -WhatIf
# or when it refuses), Get-MaintenanceLog reads them back and pipes on, their undo lines run, and the examples end
# with a report. On the sample goals tracker (SQLite) in TestDrive; PostgreSQL is the xUnit suites' job.
BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)

    # The entries a script block leaves in a fresh journal.
    function Get-JournalledBy([scriptblock] $Script) {
        $journal = Join-Path $TestDrive "journal-$(New-Guid).jsonl"
        $null = & $Script $journal
        @(Get-MaintenanceLog -JournalPath $journal)
    }
}

Describe 'Every journalled cmdlet' {
    BeforeAll {
        $path = New-TestDatabase
        $backup = Backup-Database -Database $path -Destination (Join-Path $TestDrive backups)
        $archive = Export-TableArchive -Database $path -Table legacy_imports -Destination (Join-Path $TestDrive archive)
    }

    It '<Name> leaves exactly one <Operation> entry' -ForEach @(
        @{ Name = 'Test-Backup'; Operation = 'BackupTested'; Script = { param($j) $backup | Test-Backup -JournalPath $j } }
        @{ Name = 'Restore-Database'; Operation = 'DatabaseRestored'; Script = { param($j) $backup | Restore-Database -Database (Join-Path $TestDrive "r-$(New-Guid).db") -Confirm:$false -JournalPath $j } }
        @{ Name = 'Import-TableArchive'; Operation = 'ArchiveImported'; Script = { param($j) $archive | Import-TableArchive -Database $path -TargetTable "copy_$((New-Guid).ToString('N'))" -JournalPath $j } }
        @{ Name = 'Add-SafeConstraint'; Operation = 'ConstraintAdded'; Script = { param($j) Add-SafeConstraint -Database $path -Table sessions -Check "started_at <> '$(New-Guid)'" -JournalPath $j } }
        @{ Name = 'Add-SafeIndex'; Operation = 'IndexAdded'; Script = { param($j) Add-SafeIndex -Database $path -Table goals -Column "lower(title || '$((New-Guid).ToString('N'))')" -JournalPath $j } }
        @{ Name = 'Export-IntegrityReport'; Operation = 'IntegrityChecked'; Script = { param($j) Test-DataIntegrity -Database $path -Table goals -AsReport | Export-IntegrityReport -Path (Join-Path $TestDrive i.json) -JournalPath $j } }
        @{ Name = 'Measure-QueryPerformance'; Operation = 'QueryCompared'; Script = { param($j)
            $baseline = Measure-QueryPerformance -Database $path -Query 'SELECT count(*) FROM goals' -Iterations 2 -JournalPath $j
            Measure-QueryPerformance -Database $path -Query 'SELECT count(*) FROM goals' -Iterations 2 -Baseline $baseline -JournalPath $j } }
    ) {
        $entries = Get-JournalledBy $Script
        $entries.Count | Should -Be 1
        $entries[0].Operation | Should -Be $Operation
        $entries[0].User | Should -Be ([Environment]::UserName)
        $entries[0].Outcome | Should -BeNullOrEmpty
    }

    It 'Remove-UnusedIndex leaves one IndexRemoved entry whose undo builds the index again' {
        $db = New-TestDatabase
        $entries = Get-JournalledBy { param($j) Remove-UnusedIndex -Database $db -Name ix_activity_instances_session -Confirm:$false -JournalPath $j }
        $entries.Count | Should -Be 1
        $entries[0].Operation | Should -Be 'IndexRemoved'
        Invoke-Sqlite $db "SELECT count(*) FROM sqlite_master WHERE name = 'ix_activity_instances_session'" | Should -Be 0

        $null = Invoke-Expression $entries[0].Undo

        Invoke-Sqlite $db "SELECT count(*) FROM sqlite_master WHERE name = 'ix_activity_instances_session'" | Should -Be 1
    }

    It '<Name> leaves nothing under -WhatIf' -ForEach @(
        @{ Name = 'Restore-Database'; Script = { param($j) $backup | Restore-Database -Database (Join-Path $TestDrive w.db) -WhatIf -JournalPath $j } }
        @{ Name = 'Import-TableArchive'; Script = { param($j) $archive | Import-TableArchive -Database $path -TargetTable w -WhatIf -JournalPath $j } }
        @{ Name = 'Add-SafeConstraint'; Script = { param($j) Add-SafeConstraint -Database $path -Table sessions -Check 'id > 0' -WhatIf -JournalPath $j } }
        @{ Name = 'Add-SafeIndex'; Script = { param($j) Add-SafeIndex -Database $path -Table goals -Column status -WhatIf -JournalPath $j } }
        @{ Name = 'Remove-UnusedIndex'; Script = { param($j) Remove-UnusedIndex -Database $path -Name ix_activity_instances_session -WhatIf -JournalPath $j } }
    ) {
        (Get-JournalledBy $Script).Count | Should -Be 0
    }

    It '<Name> leaves nothing when it refuses' -ForEach @(
        @{ Name = 'Restore-Database'; Script = { param($j) $backup | Restore-Database -Database $path -Confirm:$false -JournalPath $j -ErrorAction SilentlyContinue } }
        @{ Name = 'Add-SafeConstraint'; Script = { param($j) Add-SafeConstraint -Database $path -Table goals -Check 'deadline >= created_at' -JournalPath $j -ErrorAction SilentlyContinue } }
        @{ Name = 'Add-SafeIndex'; Script = { param($j) Add-SafeIndex -Database $path -Table activity_instances -Column session_id -JournalPath $j } }
        @{ Name = 'Remove-UnusedIndex'; Script = { param($j) Remove-UnusedIndex -Database $path -Name sqlite_autoindex_nosuch -Confirm:$false -JournalPath $j -ErrorAction SilentlyContinue } }
        @{ Name = 'Measure-QueryPerformance'; Script = { param($j) Measure-QueryPerformance -Database $path -Query 'SELECT 1' -Iterations 1 -JournalPath $j } }
    ) {
        (Get-JournalledBy $Script).Count | Should -Be 0
    }
}

Describe 'Get-MaintenanceLog' {
    It 'pipes every backup of a database in the last week into Test-Backup' {
        $journal = Join-Path $TestDrive 'week.jsonl'
        $path = New-TestDatabase
        $other = New-TestDatabase
        $taken = 1..2 | ForEach-Object { Backup-Database -Database $path -Destination (Join-Path $TestDrive week) -JournalPath $journal }
        $null = Backup-Database -Database $other -Destination (Join-Path $TestDrive week) -JournalPath $journal

        $tested = Get-MaintenanceLog -Database $path -Operation Backup -After (Get-Date).AddDays(-7) -JournalPath $journal | Test-Backup -JournalPath $journal

        $tested.Path | Should -Be $taken.Path
        $tested.Verified | Should -Be @($true, $true)
        (Get-MaintenanceLog -Database $path -Operation Backup* -JournalPath $journal).Operation | Should -Be @('Backup', 'Backup', 'BackupTested', 'BackupTested')
        Get-MaintenanceLog -Database $path -Outcome Failed -JournalPath $journal | Should -BeNullOrEmpty
    }
}

Describe 'Export-MaintenanceReport' {
    It 'the verify-cleanup example ends with a report of each step, the verdict and the undo commands' {
        $journal = Join-Path $TestDrive 'example.jsonl'
        $folder = Join-Path $TestDrive example
        $run = Invoke-Pwsh -Arguments '-File', (Join-Path $RepoRoot examples verify-cleanup.ps1), '-Folder', $folder, '-JournalPath', $journal
        $run.ExitCode | Should -Be 0 -Because $run.Output

        $report = Get-Content -Raw (Get-ChildItem $folder -Recurse -Filter maintenance-report.md).FullName
        $backup = Get-MaintenanceLog -Operation Backup -JournalPath $journal
        $report | Should -BeLike "*| $($backup.Path) | * bytes | $($backup.Sha256) | restored and counted |*"
        $report | Should -BeLike '*TableRemoved | main.tmp_migration_2019*'
        $report | Should -BeLike '*DataLoss: False*'
        foreach ($entry in Get-MaintenanceLog -JournalPath $journal | Where-Object Undo) {
            $report | Should -BeLike "*$([WildcardPattern]::Escape($entry.Undo))*"
        }
    }

    It 'writes HTML for an .html path' {
        $path = New-TestDatabase
        $journal = Join-Path $TestDrive 'html.jsonl'
        $backup = Backup-Database -Database $path -Destination (Join-Path $TestDrive html) -JournalPath $journal
        $report = Export-MaintenanceReport -Database $path -Path (Join-Path $TestDrive report.html) -JournalPath $journal
        $report.Format | Should -Be 'Html'
        $report.DataLoss | Should -BeNullOrEmpty
        Get-Content -Raw $report.Path | Should -BeLike "*<td>$($backup.Sha256)</td>*"
    }
}
