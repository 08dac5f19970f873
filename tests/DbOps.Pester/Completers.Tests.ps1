# Tab completion of table, index and column names, through TabExpansion2 as the console calls it: on the sample goals
# tracker (SQLite) in TestDrive, and on PostgreSQL servers that refuse or never answer, which must complete nothing soon.
BeforeDiscovery {
    # Which completer each parameter naming a table, an index or a column uses.
    $completerContract = @(
        @{ Command = 'Add-SafeConstraint'; Parameter = 'Table'; Completer = 'TableNameCompleter' }
        @{ Command = 'Add-SafeConstraint'; Parameter = 'References'; Completer = 'TableNameCompleter' }
        @{ Command = 'Add-SafeConstraint'; Parameter = 'Unique'; Completer = 'ColumnNameCompleter' }
        @{ Command = 'Add-SafeConstraint'; Parameter = 'NotNull'; Completer = 'ColumnNameCompleter' }
        @{ Command = 'Add-SafeConstraint'; Parameter = 'ForeignKey'; Completer = 'ColumnNameCompleter' }
        @{ Command = 'Add-SafeIndex'; Parameter = 'Table'; Completer = 'TableNameCompleter' }
        @{ Command = 'Add-SafeIndex'; Parameter = 'Column'; Completer = 'ColumnNameCompleter' }
        @{ Command = 'Add-SafeIndex'; Parameter = 'Include'; Completer = 'ColumnNameCompleter' }
        @{ Command = 'Export-DatabaseDocumentation'; Parameter = 'Table'; Completer = 'TableNameCompleter' }
        @{ Command = 'Export-TableArchive'; Parameter = 'Table'; Completer = 'TableNameCompleter' }
        @{ Command = 'Find-UnusedTable'; Parameter = 'Exclude'; Completer = 'PlainTableNameCompleter' }
        @{ Command = 'Import-TableArchive'; Parameter = 'TargetTable'; Completer = 'PlainTableNameCompleter' }
        @{ Command = 'Remove-DeprecatedTable'; Parameter = 'Table'; Completer = 'TableNameCompleter' }
        @{ Command = 'Remove-UnusedIndex'; Parameter = 'Name'; Completer = 'IndexNameCompleter' }
        @{ Command = 'Test-DataIntegrity'; Parameter = 'Table'; Completer = 'TableNameCompleter' }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)

    # The completion texts the console would offer at the end of $Line.
    function Complete([string] $Line) {
        @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText)
    }

    function Get-CompleterName([string] $Command, [string] $Parameter) {
        $attribute = (Get-Command $Command).Parameters[$Parameter].Attributes |
            Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] }
        $attribute.Type.Name
    }

    # A loopback port that refuses connections, and a server that accepts them and never answers.
    $closed = [System.Net.Sockets.TcpListener]::new([ipaddress]::Loopback, 0)
    $closed.Start(); $refusedPort = $closed.LocalEndpoint.Port; $closed.Stop()
    $silent = [System.Net.Sockets.TcpListener]::new([ipaddress]::Loopback, 0)
    $silent.Start()
    $silentPort = $silent.LocalEndpoint.Port
}

AfterAll {
    $silent.Stop()
}

Describe 'Which parameters complete' {
    It '<Command> -<Parameter> completes with <Completer>' -ForEach $completerContract {
        Get-CompleterName $Command $Parameter | Should -BeExactly $Completer
    }

    It 'every parameter that takes table or column names as text has a completer' {
        $missing = foreach ($command in Get-Command -Module DbOps) {
            foreach ($parameter in $command.Parameters.Values | Where-Object { $_.Name -match 'Table|Column' -and $_.ParameterType -in [string], [string[]] }) {
                if (-not (Get-CompleterName $command.Name $parameter.Name)) { "$($command.Name) -$($parameter.Name)" }
            }
        }
        $missing | Should -BeNullOrEmpty
    }
}

Describe 'Completion on SQLite' {
    BeforeAll {
        $path = New-TestDatabase
        $name = Split-Path $path -Leaf
        Push-Location (Split-Path $path)
    }

    AfterAll {
        Pop-Location
    }

    It 'completes the tables of a path relative to the PowerShell location' {
        Complete "Remove-DeprecatedTable $name -Table " |
            Should -Be 'activity_groups', 'activity_instances', 'goals', 'legacy_imports', 'sessions', 'tmp_migration_2019'
    }

    It 'completes the tables of a connection object, by prefix and by wildcard' {
        $db = Connect-Database -Path $path
        Complete 'Export-DatabaseDocumentation $db -Table act' | Should -Be 'activity_groups', 'activity_instances'
        Complete 'Test-DataIntegrity -Database $db -Table *inst' | Should -Be 'activity_instances'
    }

    It 'completes table names for -Exclude and -TargetTable' {
        Complete "Find-UnusedTable $name -Exclude tmp" | Should -Be 'tmp_migration_2019'
        Complete "Import-TableArchive ./archive.json -Database $name -TargetTable leg" | Should -Be 'legacy_imports'
    }

    It 'completes the columns of the table given, named or by position' {
        Complete "Add-SafeIndex $name -Table goals -Column d" | Should -Be 'deadline'
        Complete "Add-SafeIndex $name goals -Include st" | Should -Be 'status'
        Complete "Add-SafeConstraint $name -Table goals -Unique " |
            Should -Be 'id', 'root_id', 'parent_id', 'title', 'status', 'created_at', 'deadline'
        Complete "Add-SafeConstraint $name -Table goals -NotNull ti" | Should -Be 'title'
    }

    It 'completes only the indexes Remove-UnusedIndex may drop' {
        Invoke-Sqlite $path 'CREATE UNIQUE INDEX ux_goals_title ON goals (title); CREATE INDEX ix_goals_status ON goals (status)'
        Complete "Remove-UnusedIndex $name -Name ix" | Should -Be 'ix_activity_instances_session', 'ix_goals_status'
        Complete "Remove-UnusedIndex $name -Name ux" | Should -BeNullOrEmpty
    }

    It 'completes nothing, and writes no error, without a database to read' {
        $Error.Clear()
        Complete 'Remove-DeprecatedTable -Table ' | Should -BeNullOrEmpty
        Complete 'Remove-DeprecatedTable ./missing.db -Table ' | Should -BeNullOrEmpty
        Complete "Add-SafeIndex $name -Table no_such_table -Column " | Should -BeNullOrEmpty
        $Error | Should -BeNullOrEmpty
    }
}

Describe 'Names that need quoting' {
    BeforeAll {
        $path = Join-Path $TestDrive 'odd.db'
        Invoke-Sqlite $path 'CREATE TABLE "Odd Name" (id INTEGER PRIMARY KEY, "due date" TEXT); CREATE TABLE "a.b" (id INTEGER); CREATE TABLE "it''s" (id INTEGER)'
    }

    It 'quotes a name for PowerShell, and in SQL when the plain name would be read as another' {
        Complete "Test-DataIntegrity '$path' -Table " | Should -Be "'Odd Name'", "'""main"".""a.b""'", "'it''s'"
        Complete "Add-SafeIndex '$path' -Table 'Odd Name' -Column du" | Should -Be "'due date'"
    }

    It 'every completed table name names that table when the cmdlet runs' {
        foreach ($text in Complete "Test-DataIntegrity '$path' -Table ") {
            $table = Invoke-Expression "Write-Output $text"   # read as the parser reads an argument
            { Test-DataIntegrity $path -Table $table -ErrorAction Stop } | Should -Not -Throw
        }
    }

    It 'leaves out SQL quotes where names are matched as text' {
        Complete "Find-UnusedTable '$path' -Exclude a" | Should -Be 'a.b'
    }
}

Describe 'Completion on an unreachable PostgreSQL server' {
    # The deadline is 2 s; the server that never answers would hold Npgsql for its 15 s connect timeout.
    It 'completes nothing, without an error, from <Server>' -ForEach @(
        @{ Server = 'a port that refuses'; Refuses = $true }
        @{ Server = 'a server that never answers'; Refuses = $false }
    ) {
        $port = if ($Refuses) { $refusedPort } else { $silentPort }
        $Error.Clear()
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        Complete "Remove-DeprecatedTable 'Host=127.0.0.1;Port=$port;Username=ops;Database=sales' -Table " | Should -BeNullOrEmpty
        Complete "Add-SafeIndex 'postgresql://ops@127.0.0.1:$port/sales' -Table goals -Column " | Should -BeNullOrEmpty
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
        $Error | Should -BeNullOrEmpty
    }
}
