# The cmdlets as PowerShell users meet them: what each takes from the pipeline, what -WhatIf and -Confirm do, and
# the error ids scripts can catch. On the sample goals tracker (SQLite) in TestDrive; PostgreSQL is the xUnit suites' job.
BeforeDiscovery {
    # What each cmdlet binds from the pipeline: V = the object itself, P = by property name. A change here is a
    # change to every runbook that pipes into the cmdlet.
    $pipelineContract = @(
        @{ Name = 'Connect-Database'; Binds = '' }
        @{ Name = 'Backup-Database'; Binds = 'Database[V]' }
        @{ Name = 'Test-Backup'; Binds = 'InputObject[V] Path[P]' }
        @{ Name = 'Copy-Backup'; Binds = 'InputObject[V] Path[P]' }
        @{ Name = 'Remove-Backup'; Binds = 'Path[P]' }
        @{ Name = 'Restore-Database'; Binds = 'InputObject[V] Path[P]' }
        @{ Name = 'Get-DatabaseSnapshot'; Binds = 'Database[V] Path[P]' }
        @{ Name = 'Compare-DatabaseSnapshot'; Binds = 'After[V]' }
        @{ Name = 'Export-DatabaseDocumentation'; Binds = 'Database[V]' }
        @{ Name = 'Test-DataIntegrity'; Binds = 'Database[V] Table[P]' }
        @{ Name = 'Export-IntegrityReport'; Binds = 'InputObject[V]' }
        @{ Name = 'Add-SafeConstraint'; Binds = 'Finding[V] InputObject[V] PlanEntry[V]' }
        @{ Name = 'Measure-QueryPerformance'; Binds = 'Parameters[P] Query[V] Source[P]' }
        @{ Name = 'Invoke-DatabaseQuery'; Binds = 'Database[V]' }
        @{ Name = 'Get-SlowQuery'; Binds = 'Database[V]' }
        @{ Name = 'Find-MissingIndex'; Binds = 'Database[V]' }
        @{ Name = 'Find-UnusedIndex'; Binds = 'Database[V]' }
        @{ Name = 'Add-SafeIndex'; Binds = 'InputObject[V]' }
        @{ Name = 'Remove-UnusedIndex'; Binds = 'InputObject[V]' }
        @{ Name = 'Find-UnusedTable'; Binds = 'Database[V]' }
        @{ Name = 'Start-UsageWatch'; Binds = 'Database[V]' }
        @{ Name = 'Export-TableArchive'; Binds = 'InputObject[V] Schema[P] Table[V]' }
        @{ Name = 'Import-TableArchive'; Binds = 'InputObject[V] Path[P]' }
        @{ Name = 'Remove-DeprecatedTable'; Binds = 'InputObject[V]' }
        @{ Name = 'Rename-Table'; Binds = 'Database[V]' }
        @{ Name = 'Remove-Database'; Binds = 'InputObject[V]' }
        @{ Name = 'Compare-TableData'; Binds = 'Database[V]' }
        @{ Name = 'Copy-TableData'; Binds = 'Database[V]' }
        @{ Name = 'Get-MaintenanceLog'; Binds = 'Database[V]' }
        @{ Name = 'Export-MaintenanceReport'; Binds = 'Database[V]' }
        @{ Name = 'Remove-TableRow'; Binds = 'Finding[V]' }
        @{ Name = 'Update-TableRow'; Binds = 'Finding[V]' }
        @{ Name = 'Remove-DeprecatedColumn'; Binds = 'Column[P] Table[P]' }
        @{ Name = 'Find-DeprecatedColumn'; Binds = 'Database[V]' }
    )
    # Whether a cmdlet asks before it acts: High asks by default, Medium and Low only with -Confirm.
    $confirmContract = @(
        @{ Name = 'Backup-Database'; Impact = 'Low' }
        @{ Name = 'Copy-Backup'; Impact = 'Low' }
        @{ Name = 'Export-DatabaseDocumentation'; Impact = 'Low' }
        @{ Name = 'Export-TableArchive'; Impact = 'Low' }
        @{ Name = 'Add-SafeConstraint'; Impact = 'Medium' }
        @{ Name = 'Add-SafeIndex'; Impact = 'Medium' }
        @{ Name = 'Copy-TableData'; Impact = 'Medium' }
        @{ Name = 'Import-TableArchive'; Impact = 'Medium' }
        @{ Name = 'Invoke-DatabaseQuery'; Impact = 'Medium' }
        @{ Name = 'Remove-Backup'; Impact = 'High' }
        @{ Name = 'Remove-DeprecatedTable'; Impact = 'High' }
        @{ Name = 'Rename-Table'; Impact = 'Medium' }
        @{ Name = 'Remove-DeprecatedColumn'; Impact = 'High' }
        @{ Name = 'Remove-UnusedIndex'; Impact = 'High' }
        @{ Name = 'Restore-Database'; Impact = 'High' }
        @{ Name = 'Remove-Database'; Impact = 'High' }
        @{ Name = 'Remove-TableRow'; Impact = 'High' }
        @{ Name = 'Update-TableRow'; Impact = 'Medium' }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)

    function Get-PipelineBinding([string] $Name) {
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        $bound = foreach ($parameter in (Get-Command $Name).Parameters.Values | Where-Object Name -notin $common) {
            $attributes = $parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] }
            if ($attributes | Where-Object ValueFromPipeline) { "$($parameter.Name)[V]" }
            elseif ($attributes | Where-Object ValueFromPipelineByPropertyName) { "$($parameter.Name)[P]" }
        }
        ($bound | Sort-Object) -join ' '
    }
}

Describe 'Pipeline binding' {
    It '<Name> binds <Binds>' -ForEach $pipelineContract {
        Get-PipelineBinding $Name | Should -BeExactly $Binds
    }

    It 'covers every exported cmdlet' -ForEach @{ Listed = $pipelineContract.Name } {
        (Get-Command -Module DbOps).Name | Sort-Object | Should -Be ($Listed | Sort-Object)
    }

    It 'a connection pipes into Backup-Database, whose result pipes into Test-Backup and Restore-Database' {
        $backup = Connect-Database -Path (New-TestDatabase) | Backup-Database -Destination (Join-Path $TestDrive backups)
        $backup.Status | Should -Be 'Completed'
        ($backup | Test-Backup).Status | Should -Be 'Verified'
        $restored = $backup | Restore-Database -Database (Join-Path $TestDrive restored.db) -Confirm:$false
        $restored.TotalRows | Should -Be $backup.TotalRows
    }

    It 'Find-UnusedTable | Export-TableArchive | Remove-DeprecatedTable drops the empty table and keeps the rest' {
        $path = New-TestDatabase
        $removed = Find-UnusedTable -Database $path | Where-Object Verdict -eq 'Empty' |
            Export-TableArchive -Destination (Join-Path $TestDrive archive) -Verify |
            Remove-DeprecatedTable -Confirm:$false
        $removed.QualifiedName | Should -Be 'tmp_migration_2019'
        Get-TableNames $path | Should -Not -Contain 'tmp_migration_2019'
        Get-TableNames $path | Should -Contain 'goals'
    }

    It 'Find-DeprecatedColumn | Remove-DeprecatedColumn retires the column -Pattern marks, binding Table and Column by name' {
        $path = New-TestDatabase
        $found = Find-DeprecatedColumn -Database $path -Table goals -Pattern deadline
        ($found | Where-Object Column -eq 'id') | Should -BeNullOrEmpty
        $removed = $found | Where-Object Verdict -eq 'Deprecated' | Remove-DeprecatedColumn $path -Destination (Join-Path $TestDrive columns) -Confirm:$false
        $removed.Column | Should -Be 'deadline'
        $removed.Removed | Should -BeTrue
    }

    It 'Remove-DeprecatedColumn rebuilds a SQLite table whose CHECK names the column once -Dependent names the CHECK, and the archive puts it back' {
        $path = Join-Path $TestDrive flags.db
        $null = Invoke-Sqlite $path "CREATE TABLE flags (id INTEGER PRIMARY KEY, label TEXT, is_mock INTEGER, CONSTRAINT mock_flag CHECK (is_mock IN (0, 1)));
            INSERT INTO flags VALUES (1, 'a', 1), (2, 'b', 0), (3, 'c', NULL)"
        $archives = Join-Path $TestDrive flags
        { Remove-DeprecatedColumn $path flags is_mock -Destination $archives -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'DependentObjectsExist,DbOps.PowerShell.Commands.RemoveDeprecatedColumnCommand' -ExpectedMessage '*mock_flag*'
        $removed = Remove-DeprecatedColumn $path flags is_mock -Dependent mock_flag -Destination $archives -Confirm:$false
        $removed.Removed | Should -BeTrue
        $removed.Statements | Should -Contain 'ALTER TABLE "dbops_new_flags" RENAME TO "flags"'
        Invoke-Sqlite $path "SELECT count(*) FROM pragma_table_info('flags') WHERE name = 'is_mock'" | Should -Be 0
        $null = Import-TableArchive -Path $removed.ArchivePath -Database $path -Confirm:$false
        Invoke-Sqlite $path "SELECT group_concat(id || ':' || ifnull(is_mock, '-'), ' ') FROM flags" | Should -Be '1:1 2:0 3:-'
    }

    It 'an archive pipes into Import-TableArchive, and a manifest path binds by property name' {
        $archive = Export-TableArchive -Database (New-TestDatabase) -Table goals -Destination (Join-Path $TestDrive archive2)
        ($archive | Import-TableArchive -Database (Join-Path $TestDrive import1.db) -Confirm:$false).RowCount | Should -Be 200
        $byPath = [pscustomobject]@{ Path = $archive.ManifestPath } | Import-TableArchive -Database (Join-Path $TestDrive import2.db) -Confirm:$false
        $byPath.RowCount | Should -Be 200
    }

    It 'Export-TableArchive -Parallel reads a SQLite table over one connection with a warning, and refuses 0' {
        $path = New-TestDatabase
        $archive = Export-TableArchive -Database $path -Table goals -Destination (Join-Path $TestDrive parallel) -Parallel 2 -Verify -WarningVariable warned -WarningAction SilentlyContinue
        $archive.Status | Should -Be 'Verified'
        $archive.RowCount | Should -Be 200
        "$warned" | Should -Match 'read over one connection, not 2'
        { Export-TableArchive -Database $path -Table goals -Destination (Join-Path $TestDrive parallel0) -Parallel 0 } |
            Should -Throw -ErrorId 'ParameterArgumentValidationError,DbOps.PowerShell.Commands.ExportTableArchiveCommand'
    }

    It 'a connection pipes into Invoke-DatabaseQuery, which returns each row as an object with its columns as properties' {
        $db = Connect-Database -Path (New-TestDatabase)
        $rows = $db | Invoke-DatabaseQuery -Query 'CREATE TABLE notes (id INTEGER, body TEXT); INSERT INTO notes VALUES (1, @body), (2, NULL);
            SELECT n.id, n.body, g.id FROM notes n JOIN goals g ON g.id = n.id ORDER BY n.id' -Parameters @{ body = 'first' }
        $rows.Count | Should -Be 2
        $rows[0].PSObject.Properties.Name | Should -Be 'id', 'body', 'id1'
        $rows[0].body | Should -Be 'first'
        $rows[1].body | Should -BeNullOrEmpty
    }

    It 'orphan findings pipe into Remove-TableRow, and a fix''s Undo line puts its rows back' {
        $path = New-TestDatabase
        $fixes = Join-Path $TestDrive fixes
        Test-DataIntegrity -Database $path -Check OrphanedRows -Table activity_instances | Remove-TableRow -Destination $fixes -WhatIf | Should -BeNullOrEmpty
        Test-Path $fixes | Should -BeFalse
        $fix = Test-DataIntegrity -Database $path -Check OrphanedRows -Table activity_instances | Remove-TableRow -Destination $fixes -Confirm:$false
        $fix.Status, $fix.RowCount | Should -Be 'Fixed', 25
        (Invoke-DatabaseQuery $path 'SELECT count(*) AS n FROM activity_instances').n | Should -Be 5975
        # Orphans cannot go back while foreign keys are enforced; rows no key refers to can.
        $legacy = Remove-TableRow -Database $path -Table legacy_imports -Where 'id <= 10' -Destination $fixes -Confirm:$false
        (Invoke-Expression $legacy.Undo).RowCount | Should -Be 10
        (Invoke-DatabaseQuery $path 'SELECT count(*) AS n FROM legacy_imports').n | Should -Be 350
    }

    It 'Update-TableRow -BatchSize changes the rows in batches, and its Undo puts them all back' {
        $path = New-TestDatabase
        $fixes = Join-Path $TestDrive batched
        $fix = @{ Database = $path; Table = 'legacy_imports'; Where = 'id <= 100'; Set = @{ source = "source || '+'" }; BatchSize = 30; Destination = $fixes }
        Update-TableRow @fix -WhatIf | Should -BeNullOrEmpty
        Test-Path $fixes | Should -BeFalse
        $result = Update-TableRow @fix -Confirm:$false
        $result.Status, $result.RowCount, $result.Batches | Should -Be 'Fixed', 100, 4
        (Invoke-DatabaseQuery $path "SELECT count(*) AS n FROM legacy_imports WHERE source LIKE '%+'").n | Should -Be 100
        (Invoke-Expression $result.Undo).RowCount | Should -Be 100
        (Invoke-DatabaseQuery $path "SELECT count(*) AS n FROM legacy_imports WHERE source LIKE '%+'").n | Should -Be 0
    }

    It 'Test-DataIntegrity -AsReport pipes into Export-IntegrityReport' {
        $file = Test-DataIntegrity -Database (New-TestDatabase) -AsReport | Export-IntegrityReport -Path (Join-Path $TestDrive report.json) -PassThru
        $file | Should -BeOfType [System.IO.FileInfo]
        (Get-Content -Raw $file | ConvertFrom-Json) | Should -Not -BeNullOrEmpty
    }

    It 'plan entries (hashtables from a .psd1) pipe into Add-SafeConstraint' {
        $plan = @{ Table = 'goals'; Check = 'id > 0' }, @{ Table = 'goals'; NotNull = 'title' }
        $results = $plan | Add-SafeConstraint -Database (New-TestDatabase)
        $results.Status | Should -Be 'Added', 'AlreadyPresent'
    }

    It 'Find-MissingIndex | Add-SafeIndex creates what was missing, and Find-UnusedIndex | Remove-UnusedIndex drops a redundant index' {
        $path = New-TestDatabase
        (Find-MissingIndex -Database $path | Add-SafeIndex).Status | Should -Be 'Created', 'Created'
        Find-MissingIndex -Database $path | Should -BeNullOrEmpty
        $null = Add-SafeIndex -Database $path -Table goals -Column status -Name ix_dup
        $null = Add-SafeIndex -Database $path -Table goals -Column status, deadline
        $dropped = Find-UnusedIndex -Database $path | Where-Object Index -eq 'ix_dup' | Remove-UnusedIndex -Confirm:$false
        $dropped.Status | Should -Be 'Dropped'
    }

    It 'query text pipes into Measure-QueryPerformance, and its results into a second run as the baseline' {
        $path = New-TestDatabase
        $before = 'SELECT count(*) FROM goals' | Measure-QueryPerformance -Database $path -Iterations 2
        $after = $before | Measure-QueryPerformance -Database $path -Iterations 2 -Baseline $before
        $after.SpeedUp | Should -BeGreaterThan 0
    }

    It 'snapshots pipe into Compare-DatabaseSnapshot' {
        # Get-DatabaseSnapshot reads a saved snapshot by default (-Path alone), so the database is named, not piped.
        $path = New-TestDatabase
        $before = Get-DatabaseSnapshot -Database $path
        $summary = Get-DatabaseSnapshot -Database $path | Compare-DatabaseSnapshot -Before $before -SummaryOnly
        $summary.DataLoss | Should -BeFalse
    }

    It 'findings pipe into Add-SafeConstraint without -Database: each goes on the database it was found in' {
        $path = New-TestDatabase
        $results = Test-DataIntegrity $path | Where-Object Severity -eq Error | Add-SafeConstraint -ErrorAction SilentlyContinue -ErrorVariable blocked
        $results | Should -Not -BeNullOrEmpty
        $results.Database | Sort-Object -Unique | Should -Be $path
        $results.Status | Sort-Object -Unique | Should -Be 'Blocked' -Because 'the sample''s orphans are still there'
        $blocked.FullyQualifiedErrorId | Sort-Object -Unique | Should -Be 'ConstraintViolations,DbOps.PowerShell.Commands.AddSafeConstraintCommand'
    }

    It 'files from Get-ChildItem pipe in as databases, one per file' {
        $folder = New-Item -ItemType Directory -Path (Join-Path $TestDrive files)
        $paths = foreach ($name in 'a', 'b') { New-GoalsDatabase -Path (Join-Path $folder "$name.db") }
        (Get-ChildItem (Join-Path $folder *.db) | Test-DataIntegrity).Database | Sort-Object -Unique | Should -Be ($paths | Sort-Object)
        (Get-ChildItem (Join-Path $folder *.db) | Backup-Database -Destination (Join-Path $TestDrive file-backups)).Status | Should -Be 'Completed', 'Completed'
    }

    It 'several databases in one -Database are refused, saying to pipe them' {
        { Export-DatabaseDocumentation -Database (New-TestDatabase), (New-TestDatabase) -Destination $TestDrive } | Should -Throw -ErrorId 'ParameterArgumentTransformationError,DbOps.PowerShell.Commands.ExportDatabaseDocumentationCommand' -ExpectedMessage '*pipe them*'
    }

    It 'a fleet cmdlet takes several databases in one -Database' {
        (Get-DatabaseSnapshot -Database (New-TestDatabase), (New-TestDatabase) -ThrottleLimit 2).Count | Should -Be 2
    }

    It 'a parameter that names one file refuses several databases' {
        $path = Join-Path $TestDrive fleet.json
        { Get-DatabaseSnapshot -Database (New-TestDatabase), (New-TestDatabase) -Path $path } | Should -Throw -ErrorId 'ParameterNeedsOneDatabase,DbOps.PowerShell.Commands.GetDatabaseSnapshotCommand'
        Test-Path $path | Should -BeFalse
    }

    It 'Restore-Database -Create makes a staging copy whose result pipes into Remove-Database' {
        $backup = Backup-Database -Database (New-TestDatabase) -Destination (Join-Path $TestDrive staging-backups)
        $staging = Join-Path $TestDrive "it's staging.db"
        $created = $backup | Restore-Database -Database $staging -Create -Confirm:$false
        $created.Created | Should -BeTrue
        $created.TotalRows | Should -Be $backup.TotalRows
        $removed = $created | Remove-Database -Confirm:$false
        $removed.CreatedByDbOps | Should -BeTrue
        Test-Path -LiteralPath $staging | Should -BeFalse
        Test-Path -LiteralPath "$staging.dbops-created" | Should -BeFalse
    }

    It 'a connection pipes into Export-DatabaseDocumentation' {
        $result = Connect-Database -Path (New-TestDatabase) | Export-DatabaseDocumentation -Destination (Join-Path $TestDrive docs)
        Test-Path $result.MarkdownPath | Should -BeTrue
    }
}

Describe '-WhatIf changes nothing' {
    BeforeEach {
        $path = New-TestDatabase
        $hash = (Get-FileHash $path).Hash
        $dest = Join-Path $TestDrive "dest-$(New-Guid)"
    }
    AfterEach {
        (Get-FileHash $path).Hash | Should -Be $hash -Because 'the database file must be unchanged'
        Test-Path $dest | Should -BeFalse -Because 'nothing may be written'
    }

    It 'Backup-Database' { Backup-Database -Database $path -Destination $dest -WhatIf | Should -BeNullOrEmpty }
    It 'Export-DatabaseDocumentation' { Export-DatabaseDocumentation -Database $path -Destination $dest -WhatIf | Should -BeNullOrEmpty }
    It 'Export-TableArchive' { Export-TableArchive -Database $path -Table goals -Destination $dest -WhatIf | Should -BeNullOrEmpty }
    It 'Add-SafeConstraint' { Add-SafeConstraint -Database $path -Table goals -Check 'id > 0' -WhatIf | Should -BeNullOrEmpty }
    It 'Add-SafeIndex' { Find-MissingIndex -Database $path | Add-SafeIndex -WhatIf | Should -BeNullOrEmpty }
    It 'Invoke-DatabaseQuery' { Invoke-DatabaseQuery -Database $path -Query 'DELETE FROM goals' -WhatIf | Should -BeNullOrEmpty }
    It 'Rename-Table' { Rename-Table -Database $path -Table goals -NewName objectives -CompatibilityView -WhatIf | Should -BeNullOrEmpty }
    It 'Remove-Database' { Remove-Database -Name $path -Force -WhatIf | Should -BeNullOrEmpty; Test-Path $path | Should -BeTrue }

    Context 'on artifacts made beforehand' {
        BeforeAll {
            $source = New-TestDatabase
            $archive = Export-TableArchive -Database $source -Table tmp_migration_2019 -Destination (Join-Path $TestDrive whatif-archive)
            $backup = Backup-Database -Database $source -Destination (Join-Path $TestDrive whatif-backup)
        }
        It 'Import-TableArchive' { $archive | Import-TableArchive -Database (Join-Path $dest new.db) -WhatIf | Should -BeNullOrEmpty }
        It 'Restore-Database' { $backup | Restore-Database -Database (Join-Path $dest new.db) -WhatIf | Should -BeNullOrEmpty }
        It 'Copy-Backup' { $backup | Copy-Backup -Destination $dest -WhatIf | Should -BeNullOrEmpty }
        It 'Restore-Database -Create' { $backup | Restore-Database -Database (Join-Path $dest new.db) -Create -WhatIf | Should -BeNullOrEmpty }
        It 'Remove-DeprecatedTable' { Remove-DeprecatedTable -Database $path -Table tmp_migration_2019 -ArchivePath $archive.ManifestPath -WhatIf | Should -BeNullOrEmpty }
        It 'Remove-UnusedIndex' { Remove-UnusedIndex -Database $path -Name ix_activity_instances_session -WhatIf | Should -BeNullOrEmpty }
    }

    It '-WhatIf prints what would run, with the SQL' {
        $result = Invoke-Pwsh -Arguments '-Command', "Import-Module '$ModuleManifest'; Add-SafeConstraint -Database '$path' -Table goals -Check 'id > 0' -WhatIf"
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -Match 'What if: '
        $result.Output | Should -Match 'id > 0'
    }
}

Describe '-Confirm' {
    It '<Name> has ConfirmImpact <Impact>' -ForEach $confirmContract {
        $type = (Get-Command $Name).ImplementingType
        $attribute = $type.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)[0]
        $attribute.SupportsShouldProcess | Should -BeTrue
        $attribute.ConfirmImpact | Should -Be $Impact
    }

    It 'covers every cmdlet that supports -WhatIf' -ForEach @{ Listed = $confirmContract.Name } {
        $withWhatIf = (Get-Command -Module DbOps | Where-Object { $_.Parameters.ContainsKey('WhatIf') }).Name
        $withWhatIf | Sort-Object | Should -Be ($Listed | Sort-Object)
    }

    Context 'in a non-interactive pwsh, where no one can answer' {
        BeforeAll {
            $path = New-TestDatabase
            $archive = Export-TableArchive -Database $path -Table tmp_migration_2019 -Destination (Join-Path $TestDrive confirm-archive)
            $remove = "Import-Module '$ModuleManifest'; `$ErrorActionPreference = 'Stop'; Remove-DeprecatedTable -Database '$path' -Table tmp_migration_2019 -ArchivePath '$($archive.ManifestPath)'"
        }

        It 'a High-impact cmdlet asks by default, so it fails and drops nothing' {
            $result = Invoke-Pwsh -Arguments '-Command', $remove
            $result.ExitCode | Should -Not -Be 0
            $result.Output | Should -Match 'NonInteractive'
            Get-TableNames $path | Should -Contain 'tmp_migration_2019'
        }

        It 'a Medium-impact cmdlet asks when given -Confirm, so it fails and creates nothing' {
            $result = Invoke-Pwsh -Arguments '-Command', "Import-Module '$ModuleManifest'; `$ErrorActionPreference = 'Stop'; Find-MissingIndex -Database '$path' | Add-SafeIndex -Confirm"
            $result.ExitCode | Should -Not -Be 0
            Find-MissingIndex -Database $path | Should -Not -BeNullOrEmpty
        }

        It '-Confirm:$false proceeds without asking' {
            $result = Invoke-Pwsh -Arguments '-Command', "$remove -Confirm:`$false"
            $result.ExitCode | Should -Be 0 -Because $result.Output
            Get-TableNames $path | Should -Not -Contain 'tmp_migration_2019'
        }
    }
}

Describe 'Error ids' {
    BeforeAll {
        $path = New-TestDatabase
        $missing = Join-Path $TestDrive does-not-exist.db
    }

    # Discovery-time data: the cases, and from them the list of cmdlets they cover.
    $errorIdCases = @(
        @{ Name = 'Connect-Database'; Because = 'a missing file'; ErrorId = 'DatabaseNotFound'; Script = { Connect-Database -Path $missing } }
        @{ Name = 'Connect-Database'; Because = 'a malformed connection string'; ErrorId = 'InvalidConnectionString'; Script = { Connect-Database -ConnectionString 'Host=;;=x' } }
        @{ Name = 'Backup-Database'; Because = 'a missing database'; ErrorId = 'DatabaseNotFound'; Script = { Backup-Database -Database $missing -Destination $TestDrive -ErrorAction Stop } }
        @{ Name = 'Test-Backup'; Because = 'a manifest that does not exist'; ErrorId = 'FileNotFound'; Script = { Test-Backup -Path (Join-Path $TestDrive none.manifest.json) -ErrorAction Stop } }
        @{ Name = 'Copy-Backup'; Because = 'a destination under a regular file'; ErrorId = 'DestinationNotWritable'; Script = {
                $backup = Backup-Database -Database $path -Destination (Join-Path $TestDrive copy-source)
                $backup | Copy-Backup -Destination (Join-Path $path copies) -ErrorAction Stop } }
        @{ Name = 'Remove-Backup'; Because = 'neither -Keep nor -OlderThan'; ErrorId = 'RetentionRuleRequired'; Script = { Remove-Backup -Path $TestDrive -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Test-DataIntegrity'; Because = 'a table that does not exist'; ErrorId = 'TableNotFound'; Script = { Test-DataIntegrity -Database $path -Table nosuch -ErrorAction Stop } }
        @{ Name = 'Export-IntegrityReport'; Because = '-FailOn Error with errors found'; ErrorId = 'IntegrityProblemsFound'; Script = { Test-DataIntegrity -Database $path -AsReport | Export-IntegrityReport -Path (Join-Path $TestDrive r.json) -FailOn Error -ErrorAction Stop } }
        @{ Name = 'Add-SafeConstraint'; Because = 'rows that violate the check'; ErrorId = 'ConstraintViolations'; Script = { Add-SafeConstraint -Database $path -Table goals -Check 'deadline >= created_at' -ErrorAction Stop } }
        @{ Name = 'Measure-QueryPerformance'; Because = 'a query the database rejects'; ErrorId = 'QueryFailed'; Script = { Measure-QueryPerformance -Database $path -Query 'SELECT * FROM nosuch' -ErrorAction Stop } }
        @{ Name = 'Invoke-DatabaseQuery'; Because = 'SQL the database rejects'; ErrorId = 'QueryFailed'; Script = { Invoke-DatabaseQuery -Database $path -Query 'SELECT * FROM nosuch' -ErrorAction Stop } }
        @{ Name = 'Get-SlowQuery'; Because = 'SQLite has no statement statistics'; ErrorId = 'ProviderNotSupported'; Script = { Get-SlowQuery -Database $path -ErrorAction Stop } }
        @{ Name = 'Start-UsageWatch'; Because = 'SQLite keeps no usage counters'; ErrorId = 'ProviderNotSupported'; Script = { Start-UsageWatch -Database $path -ErrorAction Stop } }
        @{ Name = 'Find-MissingIndex'; Because = 'a missing database'; ErrorId = 'DatabaseNotFound'; Script = { Find-MissingIndex -Database $missing -ErrorAction Stop } }
        @{ Name = 'Find-UnusedIndex'; Because = 'a missing database'; ErrorId = 'DatabaseNotFound'; Script = { Find-UnusedIndex -Database $missing -ErrorAction Stop } }
        @{ Name = 'Add-SafeIndex'; Because = 'a column that does not exist'; ErrorId = 'ColumnNotFound'; Script = { Add-SafeIndex -Database $path -Table goals -Column nosuch -ErrorAction Stop } }
        @{ Name = 'Remove-UnusedIndex'; Because = 'an index that backs a constraint'; ErrorId = 'IndexBacksConstraint'; Script = {
                Invoke-Sqlite $path 'CREATE TABLE tags (name TEXT UNIQUE)'
                Remove-UnusedIndex -Database $path -Name sqlite_autoindex_tags_1 -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Find-DeprecatedColumn'; Because = 'a key column named'; ErrorId = 'ColumnIsKey'; Script = { Find-DeprecatedColumn -Database $path -Table goals -Column id -ErrorAction Stop } }
        @{ Name = 'Find-UnusedTable'; Because = 'a missing database'; ErrorId = 'DatabaseNotFound'; Script = { Find-UnusedTable -Database $missing -ErrorAction Stop } }
        @{ Name = 'Export-TableArchive'; Because = 'a table that does not exist'; ErrorId = 'TableNotFound'; Script = { Export-TableArchive -Database $path -Table nosuch -Destination $TestDrive -ErrorAction Stop } }
        @{ Name = 'Import-TableArchive'; Because = 'a manifest that does not exist'; ErrorId = 'FileNotFound'; Script = { Import-TableArchive -Path (Join-Path $TestDrive none.manifest.json) -Database $path -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Compare-TableData'; Because = 'a key column that does not exist'; ErrorId = 'ColumnNotFound'; Script = { Compare-TableData -Database $path -Source goals -Target legacy_imports -Key nosuch -ErrorAction Stop } }
        @{ Name = 'Copy-TableData'; Because = 'the same table as source and target'; ErrorId = 'MoveSameTable'; Script = { Copy-TableData -Database $path -Source goals -Target goals -Key id -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Remove-DeprecatedTable'; Because = 'a table with rows and no archive'; ErrorId = 'ArchiveRequired'; Script = { Remove-DeprecatedTable -Database $path -Table goals -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Rename-Table'; Because = 'a new name another table has'; ErrorId = 'TableNameTaken'; Script = { Rename-Table -Database $path -Table goals -NewName sessions -ErrorAction Stop } }
        @{ Name = 'Get-MaintenanceLog'; Because = '-After later than -Before'; ErrorId = 'InvalidTimeWindow'; Script = { Get-MaintenanceLog -After (Get-Date) -Before (Get-Date).AddDays(-1) -ErrorAction Stop } }
        @{ Name = 'Export-MaintenanceReport'; Because = 'a report path that is a folder'; ErrorId = 'DestinationNotWritable'; Script = { Export-MaintenanceReport -Database $path -Path $TestDrive -ErrorAction Stop } }
        @{ Name = 'Remove-TableRow'; Because = 'a condition that would write'; ErrorId = 'RowConditionInvalid'; Script = { Remove-TableRow -Database $path -Table goals -Where 'id > 0; DELETE FROM goals' -Destination $TestDrive -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Update-TableRow'; Because = 'a -LockTimeout of zero'; ErrorId = 'InvalidSpecification'; Script = { Update-TableRow -Database $path -Table goals -Key 41 -Set @{ title = 'x' } -LockTimeout 0 -Destination $TestDrive -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Update-TableRow'; Because = '-Set of the primary key'; ErrorId = 'RowConditionInvalid'; Script = { Update-TableRow -Database $path -Table goals -Key 41 -Set @{ id = 9 } -Destination $TestDrive -ErrorAction Stop } }
        @{ Name = 'Remove-DeprecatedColumn'; Because = 'a column of the key'; ErrorId = 'ColumnIsKey'; Script = { Remove-DeprecatedColumn -Database $path -Table goals -Column id -Destination $TestDrive -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Restore-Database'; Because = 'a backup that does not exist'; ErrorId = 'FileNotFound'; Script = { Restore-Database -Path (Join-Path $TestDrive none.sqlite) -Database (Join-Path $TestDrive r.db) -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Restore-Database'; Because = '-Create onto a database that exists'; ErrorId = 'DatabaseExists'; Script = {
                Backup-Database -Database $path -Destination (Join-Path $TestDrive create-backup) | Restore-Database -Database $path -Create -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Remove-Database'; Because = 'a database DbOps did not create'; ErrorId = 'DatabaseNotCreatedByDbOps'; Script = { Remove-Database -Name $path -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Remove-Database'; Because = 'the database -Database connects to'; ErrorId = 'CannotRemoveConnectedDatabase'; Script = { Remove-Database -Name $path -Database $path -Force -Confirm:$false -ErrorAction Stop } }
        @{ Name = 'Get-DatabaseSnapshot'; Because = 'a saved snapshot that is not one'; ErrorId = 'SnapshotInvalid'; Script = { Set-Content (Join-Path $TestDrive bad.json) '{}'; Get-DatabaseSnapshot -Path (Join-Path $TestDrive bad.json) -ErrorAction Stop } }
        @{ Name = 'Compare-DatabaseSnapshot'; Because = '-FailOnDataLoss when rows were lost'; ErrorId = 'DataLossDetected'; Script = {
                $before = Get-DatabaseSnapshot -Database $path
                Invoke-Sqlite $path 'DELETE FROM legacy_imports WHERE id % 2 = 0'
                Compare-DatabaseSnapshot -Before $before -After (Get-DatabaseSnapshot -Database $path) -FailOnDataLoss -ErrorAction Stop } }
        @{ Name = 'Export-DatabaseDocumentation'; Because = '-NoClobber over existing files'; ErrorId = 'DestinationExists'; Script = {
                $docs = Join-Path $TestDrive docs-noclobber
                $null = Export-DatabaseDocumentation -Database $path -Destination $docs
                Export-DatabaseDocumentation -Database $path -Destination $docs -NoClobber -ErrorAction Stop } }
    )

    It '<Name>: <Because> is <ErrorId>' -ForEach $errorIdCases {
        # The error id as scripts see it: the DbOps id, then the cmdlet that wrote it.
        $Script | Should -Throw -ErrorId "$ErrorId,$((Get-Command $Name).ImplementingType.FullName)"
    }

    It 'covers every exported cmdlet' -ForEach @{ Covered = @($errorIdCases.Name | Sort-Object -Unique) } {
        # Every cmdlet has at least one error id a script can catch.
        (Get-Command -Module DbOps).Name | Sort-Object | Should -Be $Covered
    }
}
