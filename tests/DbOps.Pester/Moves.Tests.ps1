# Compare-TableData and Copy-TableData as runbooks call them, on SQLite in TestDrive (both engines: the xUnit MovesTests).
BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)

    function New-MoveDatabase {
        $path = Join-Path $TestDrive "move-$(New-Guid).db"
        $null = Invoke-Sqlite $path @'
CREATE TABLE v3_data_imports(id INTEGER PRIMARY KEY, source_filename TEXT NOT NULL, file_size_bytes INTEGER, is_approved BOOLEAN NOT NULL);
INSERT INTO v3_data_imports VALUES (1, 'a.csv', 100, TRUE), (2, 'b.csv', 200, FALSE), (3, 'c.csv', 300, TRUE);
CREATE TABLE data_imports(id INTEGER PRIMARY KEY, filename TEXT NOT NULL, file_size INTEGER, status TEXT NOT NULL);
INSERT INTO data_imports VALUES (2, 'b.csv', 200, 'pending'), (9, 'orphan.csv', 1, 'approved');
'@
        $path
    }
    $map = @{ source_filename = 'filename'; file_size_bytes = 'file_size' }
    $status = @{ status = "CASE WHEN is_approved THEN 'approved' ELSE 'pending' END" }
}

Describe 'Compare-TableData' {
    It 'flags the missing and the extra rows and lists them' {
        $db = New-MoveDatabase
        $r = Compare-TableData -Database $db -Source v3_data_imports -Target data_imports -Key id -Map $map -Expression $status
        $r.Verdict | Should -Be 'Differs'
        $r.MissingSamples | Should -Be '1', '3'
        $r.ExtraSamples | Should -Be '9'
        $r.Matched | Should -Be 1
        @(Invoke-DatabaseQuery -Database $db -Query $r.MissingSql).Count | Should -Be 2
    }

    It 'takes key pairs whose names differ as a hashtable' {
        $db = New-MoveDatabase
        (Compare-TableData -Database $db -Source v3_data_imports -Target data_imports -Key @{ id = 'id' } -Map $map -Expression $status).Missing | Should -Be 2
    }

    It 'compares with a table in another database (-TargetDatabase) by key ranges' {
        $source = New-MoveDatabase
        $target = New-MoveDatabase
        $r = Compare-TableData -Database $source -Source data_imports -Target data_imports -Key id -TargetDatabase $target
        $r.Verdict | Should -Be 'Equal'
        $r.Method | Should -Be 'KeyRanges'
        $r.RowsShipped | Should -Be 0
        $null = Invoke-Sqlite $target "UPDATE data_imports SET file_size = 201 WHERE id = 2"
        $d = Compare-TableData -Database $source -Source data_imports -Target data_imports -Key id -TargetDatabase $target
        $d.ChangedSamples[0].Columns | Should -Be 'file_size'
    }

    It '-Parallel on SQLite compares over one connection per side with a warning, finds the same, and refuses 0 and 65' {
        $source = New-MoveDatabase
        $target = New-MoveDatabase
        $null = Invoke-Sqlite $target "UPDATE data_imports SET file_size = 201 WHERE id = 2; INSERT INTO data_imports VALUES (10, 'x.csv', 1, 'pending')"
        $r = Compare-TableData -Database $source -Source data_imports -Target data_imports -Key id -TargetDatabase $target -Parallel 2 -WarningVariable warned -WarningAction SilentlyContinue
        "$warned" | Should -Match 'compared over one connection per side, not 2'
        $r.ChangedSamples[0].Columns | Should -Be 'file_size'
        $r.ExtraSamples | Should -Be '10'
        foreach ($bad in 0, 65) {
            { Compare-TableData -Database $source -Source data_imports -Target data_imports -Key id -TargetDatabase $target -Parallel $bad } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,DbOps.PowerShell.Commands.CompareTableDataCommand'
        }
    }

    It 'refuses a write hidden in -Where with MoveExpressionInvalid' {
        { Compare-TableData -Database (New-MoveDatabase) -Source v3_data_imports -Target data_imports -Key id -Where '1=1; DELETE FROM data_imports' -ErrorAction Stop } |
            Should -Throw -ErrorId 'MoveExpressionInvalid,DbOps.PowerShell.Commands.CompareTableDataCommand'
    }
}

Describe 'Copy-TableData' {
    It '-WhatIf prints the statements of a batch and writes nothing' {
        $db = New-MoveDatabase
        $script = Join-Path $TestDrive whatif-copy.ps1
        Set-Content $script "param(`$db) Import-Module '$ModuleManifest'; Copy-TableData -Database `$db -Source v3_data_imports -Target data_imports -Key id -Map @{ source_filename = 'filename' } -Expression @{ status = `"'pending'`" } -WhatIf"
        $result = Invoke-Pwsh -Arguments '-File', $script, '-db', $db
        $result.ExitCode | Should -Be 0
        $result.Output | Should -Match 'What if: Copy the rows of v3_data_imports'
        $result.Output | Should -Match 'INSERT INTO "data_imports"'
        # SQLite: a tenth of a second by default, as every other writer waits for a batch (half a second on PostgreSQL).
        $result.Output | Should -Match 'in batches sized to take about 0\.1 s each, starting at 10.000 rows'
        Invoke-Sqlite $db 'SELECT count(*) FROM data_imports' | Should -Be 2
    }

    It 'takes -BatchTime in seconds, says so under -WhatIf, and reports the sizes it used' {
        $db = New-MoveDatabase
        # What if: goes to the host, so it is read from a pwsh process of its own.
        $copy = "Import-Module '$ModuleManifest'; Copy-TableData -Database '$db' -Source v3_data_imports -Target data_imports -Key id -Map @{ source_filename = 'filename' } -Expression @{ status = `"'pending'`" } -WhatIf"
        $timed = Invoke-Pwsh -Arguments '-Command', "$copy -BatchTime 0.25"
        $timed.ExitCode | Should -Be 0 -Because $timed.Output
        $timed.Output | Should -Match 'sized to take about 0\.25 s each'
        $fixed = Invoke-Pwsh -Arguments '-Command', "$copy -BatchSize 5"
        $fixed.Output | Should -Match 'in batches of 5;'
        $fixed.Output | Should -Not -Match 'sized to take'
        Invoke-Sqlite $db 'SELECT count(*) FROM data_imports' | Should -Be 2
        $r = Copy-TableData -Database $db -Source v3_data_imports -Target data_imports -Key id -Map $map -Expression $status -BatchTime 2 -Confirm:$false
        $r.BatchTime | Should -Be ([TimeSpan]::FromSeconds(2))
        $r.BatchSizes | Should -Be @(10000) -Because 'a source smaller than a first batch of 10,000 rows is that one batch'
        $r.Copied | Should -Be 2
    }

    It 'refuses -BatchSize with -BatchTime, and a -BatchTime that is not positive, with InvalidSpecification and writes nothing' -TestCases @(
        @{ Batches = @{ BatchSize = 5; BatchTime = 1 } }
        @{ Batches = @{ BatchTime = 0 } }
        @{ Batches = @{ BatchTime = -1 } }
    ) {
        param($Batches)
        $db = New-MoveDatabase
        { Copy-TableData -Database $db -Source v3_data_imports -Target data_imports -Key id -Map $map -Expression $status @Batches -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidSpecification,DbOps.PowerShell.Commands.CopyTableDataCommand'
        Invoke-Sqlite $db 'SELECT count(*) FROM data_imports' | Should -Be 2
    }

    It 'copies, verifies, and a second run copies nothing' {
        $db = New-MoveDatabase
        $first = Copy-TableData -Database $db -Source v3_data_imports -Target data_imports -Key id -Map $map -Expression $status -BatchSize 1 -Pause 0 -Verify -Confirm:$false
        $first.Copied | Should -Be 2
        $first.AlreadyPresent | Should -Be 1
        $first.Comparison.Verdict | Should -Be 'Contained'
        $again = Copy-TableData -Database $db -Source v3_data_imports -Target data_imports -Key id -Map $map -Expression $status -Confirm:$false
        $again.Copied | Should -Be 0
        Invoke-Sqlite $db 'SELECT count(*) FROM data_imports' | Should -Be 4
    }

    It '-Parallel on SQLite warns that it copies over one connection, and copies' {
        $db = New-MoveDatabase
        $r = Copy-TableData -Database $db -Source v3_data_imports -Target data_imports -Key id -Map $map -Expression $status -BatchSize 1 -Parallel 3 -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
        $warned | Should -Match 'over one connection, not 3: SQLite has one writer at a time'
        $r.Copied | Should -Be 2
        $r.AlreadyPresent | Should -Be 1
        { Copy-TableData -Database $db -Source v3_data_imports -Target data_imports -Key id -Map $map -Expression $status -Parallel 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,DbOps.PowerShell.Commands.CopyTableDataCommand'
    }

    It '-OnConflict Update says under -WhatIf how many rows it would overwrite, and asks by default, so a non-interactive run writes nothing' {
        $db = New-MoveDatabase
        $null = Invoke-Sqlite $db 'UPDATE data_imports SET file_size = 222 WHERE id = 2'
        $copy = "Import-Module '$ModuleManifest'; `$ErrorActionPreference = 'Stop'; Copy-TableData -Database '$db' -Source v3_data_imports -Target data_imports -Key id -Map @{ source_filename = 'filename'; file_size_bytes = 'file_size' } -Expression @{ status = `"'pending'`" } -OnConflict Update -Destination '$(Join-Path $TestDrive prior-ask)'"
        $whatIf = Invoke-Pwsh -Arguments '-Command', "$copy -WhatIf"
        $whatIf.ExitCode | Should -Be 0 -Because $whatIf.Output
        $whatIf.Output | Should -Match 'overwriting 1 target row\(s\)'
        $asked = Invoke-Pwsh -Arguments '-Command', $copy
        $asked.ExitCode | Should -Not -Be 0
        $asked.Output | Should -Match 'NonInteractive'
        Invoke-Sqlite $db 'SELECT count(*) FROM data_imports' | Should -Be 2
        Invoke-Sqlite $db 'SELECT file_size FROM data_imports WHERE id = 2' | Should -Be 222
        Test-Path (Join-Path $TestDrive prior-ask) | Should -BeFalse
    }

    It '-OnConflict Update archives the rows it overwrites, and its Undo line puts their old values back' {
        $db = New-MoveDatabase
        $null = Invoke-Sqlite $db 'UPDATE data_imports SET file_size = 222 WHERE id = 2'
        $r = Copy-TableData -Database $db -Source v3_data_imports -Target data_imports -Key id -Map $map -Expression $status -OnConflict Update -Destination (Join-Path $TestDrive prior) -Confirm:$false
        $r.Updated | Should -Be 1
        $r.PriorImageRows | Should -Be 1
        Test-Path $r.PriorImagePath | Should -BeTrue
        $r.UndoNote | Should -Match 'does not remove the 2 row\(s\) the copy inserted \(keys 1, 3\)'
        Invoke-Sqlite $db 'SELECT file_size FROM data_imports WHERE id = 2' | Should -Be 200
        $null = Invoke-Expression "$($r.Undo) -Confirm:`$false"
        Invoke-Sqlite $db 'SELECT file_size FROM data_imports WHERE id = 2' | Should -Be 222
        Invoke-Sqlite $db 'SELECT count(*) FROM data_imports' | Should -Be 4
    }

    It 'refuses a target NOT NULL column the map leaves unfilled with MoveTargetColumnUnfilled' {
        { Copy-TableData -Database (New-MoveDatabase) -Source v3_data_imports -Target data_imports -Key id -Map $map -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'MoveTargetColumnUnfilled,DbOps.PowerShell.Commands.CopyTableDataCommand'
    }
}
