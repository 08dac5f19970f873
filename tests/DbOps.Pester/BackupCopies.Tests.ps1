# Backups kept in several places, as a runbook uses them: Copy-Backup, Test-Backup -AllCopies and Remove-Backup on the
# sample goals tracker (SQLite). Each test has its own journal, so every entry it leaves can be counted.
BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)

    function Get-JournalEntry([string] $Operation) {
        @(Get-Content $journal -ErrorAction Ignore | ConvertFrom-Json | Where-Object operation -eq $Operation)
    }
}

Describe 'Copy-Backup' {
    BeforeEach {
        $journal = Join-Path $TestDrive "journal-$(New-Guid).jsonl"
        $backup = Backup-Database -Database (New-TestDatabase) -Destination (Join-Path $TestDrive "backups-$(New-Guid)") -JournalPath $journal
    }

    It 'copies to each destination; one that cannot be written fails on its own and the others go on' {
        $nas, $usb = foreach ($name in 'nas', 'usb') { Join-Path $TestDrive "$name-$(New-Guid)" }
        # A folder under a regular file cannot be created by anyone, root included.
        $blocked = Join-Path $backup.Path copies
        $copies = $backup | Copy-Backup -Destination $nas, $blocked, $usb -JournalPath $journal -ErrorAction SilentlyContinue -ErrorVariable failed

        $copies.Path | Should -Be (Join-Path $nas (Split-Path -Leaf $backup.Path)), (Join-Path $usb (Split-Path -Leaf $backup.Path))
        $copies | ForEach-Object { (Get-FileHash $_.Path -Algorithm SHA256).Hash | Should -Be $backup.Sha256 }
        $copies | ForEach-Object { Get-Content -Raw $_.ManifestPath | Should -BeExactly (Get-Content -Raw $backup.ManifestPath) }
        $failed.FullyQualifiedErrorId | Should -Be 'DestinationNotWritable,DbOps.PowerShell.Commands.CopyBackupCommand'
        $entries = Get-JournalEntry BackupCopied
        $entries.path | Should -Be $copies.Path
        $entries.target | Sort-Object -Unique | Should -Be $backup.Path
        $entries.sha256 | Sort-Object -Unique | Should -Be $backup.Sha256
    }

    It '-WhatIf copies and records nothing' {
        $dest = Join-Path $TestDrive "whatif-$(New-Guid)"
        $backup | Copy-Backup -Destination $dest -JournalPath $journal -WhatIf | Should -BeNullOrEmpty
        Test-Path $dest | Should -BeFalse
        Get-JournalEntry BackupCopied | Should -BeNullOrEmpty
    }

    It 'copies pipe into Test-Backup, and Test-Backup -AllCopies names the copy that was tampered with' {
        $copies = $backup | Copy-Backup -Destination (Join-Path $TestDrive "a-$(New-Guid)"), (Join-Path $TestDrive "b-$(New-Guid)") -JournalPath $journal
        ($copies | Test-Backup -WarningAction SilentlyContinue).Status | Should -Be 'Verified', 'Verified'
        $bytes = [System.IO.File]::ReadAllBytes($copies[1].Path)
        $bytes[100] = $bytes[100] -bxor 0xFF
        [System.IO.File]::WriteAllBytes($copies[1].Path, $bytes)

        $results = $backup | Test-Backup -AllCopies -JournalPath $journal -WarningAction SilentlyContinue -ErrorAction SilentlyContinue -ErrorVariable failed

        $results.Path | Should -Be $backup.Path, $copies[0].Path, $copies[1].Path
        $results.Verified | Should -Be $true, $true, $false
        $failed.FullyQualifiedErrorId | Should -Be 'BackupCorrupt,DbOps.PowerShell.Commands.TestBackupCommand'
        $failed.TargetObject.Path | Should -Be $copies[1].Path
    }
}

Describe 'Remove-Backup' {
    BeforeEach {
        $journal = Join-Path $TestDrive "journal-$(New-Guid).jsonl"
        $db = New-TestDatabase
        $folder = Join-Path $TestDrive "backups-$(New-Guid)"
        $verified = Backup-Database -Database $db -Destination $folder -Name a.sqlite -Verify -JournalPath $journal -WarningAction SilentlyContinue
        # Each later backup differs in its bytes: a verified backup is recognised by its SHA-256.
        $null = Invoke-Sqlite $db 'PRAGMA user_version = 1'
        $older = Backup-Database -Database $db -Destination $folder -Name b.sqlite -JournalPath $journal
        $null = Invoke-Sqlite $db 'PRAGMA user_version = 2'
        $newest = Backup-Database -Database $db -Destination $folder -Name c.sqlite -JournalPath $journal
    }

    It 'keeps the newest and the last verified backup, deletes a backup with its manifest, and journals that once' {
        $removed = Remove-Backup -Path $folder -Keep 1 -JournalPath $journal -Confirm:$false

        $removed.Path | Should -Be $older.Path
        (Get-ChildItem -Force $folder).Name | Sort-Object | Should -Be 'a.sqlite', 'a.sqlite.manifest.json', 'c.sqlite', 'c.sqlite.manifest.json'
        (Get-JournalEntry BackupDeleted).path | Should -Be $older.Path
    }

    It '-WhatIf deletes and records nothing' {
        Remove-Backup -Path $folder -Keep 1 -JournalPath $journal -WhatIf | Should -BeNullOrEmpty
        (Get-ChildItem -Force $folder).Count | Should -Be 6
        Get-JournalEntry BackupDeleted | Should -BeNullOrEmpty
    }
}
