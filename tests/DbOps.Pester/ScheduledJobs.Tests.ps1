# A scheduled job's exit code is its interface. Each job below is written the way docs/cmdlets show it: the line
# $ErrorActionPreference = 'Stop' first, then the cmdlet with -FailOn or -FailOnDataLoss. Run as a scheduler runs it.
BeforeDiscovery {
    $jobs = @(
        @{ Job = 'Test-DataIntegrity -FailOn'; Body = 'Test-DataIntegrity -Database $Database -FailOn Error' }
        @{ Job = 'Export-IntegrityReport -FailOn'; Body = 'Test-DataIntegrity -Database $Database -AsReport | Export-IntegrityReport -Path (Join-Path $PSScriptRoot report.xml) -FailOn Error' }
        @{ Job = 'Compare-DatabaseSnapshot -FailOnDataLoss'; Body = 'Compare-DatabaseSnapshot -Before "$Database.before.json" -After (Get-DatabaseSnapshot -Database $Database) -SummaryOnly -FailOnDataLoss' }
    )
    $runs = foreach ($job in $jobs) {
        foreach ($how in '-File', '-Command') {
            @{ Job = $job.Job; Body = $job.Body; How = $how; Data = 'tripped'; ExitCode = 1 }
            @{ Job = $job.Job; Body = $job.Body; How = $how; Data = 'clean'; ExitCode = 0 }
        }
    }
}

BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)

    # The job as a file, with a snapshot of the database taken beforehand (Compare-DatabaseSnapshot's "before").
    # Tripped: the goals tracker (declared orphans; rows deleted after the snapshot). Clean: Chinook, untouched.
    function New-Job([string] $Body, [string] $Data, [switch] $WithoutStop) {
        $folder = New-Item -ItemType Directory -Path (Join-Path $TestDrive (New-Guid))
        $database = Join-Path $folder app.db
        if ($Data -eq 'clean') { Copy-Item (Join-Path $RepoRoot tests data chinook Chinook_Sqlite.sqlite) $database }
        else { New-GoalsDatabase -Path $database | Out-Null }
        $null = Get-DatabaseSnapshot -Database $database -Path "$database.before.json"
        if ($Data -eq 'tripped') { Invoke-Sqlite $database 'DELETE FROM legacy_imports WHERE id % 2 = 0' }
        $stop = $WithoutStop ? '' : "`$ErrorActionPreference = 'Stop'"
        $job = Join-Path $folder job.ps1
        Set-Content $job "param([string] `$Database)`n$stop`nImport-Module '$ModuleManifest'`n$Body`n'job done'"
        [pscustomobject]@{ Path = $job; Database = $database }
    }
}

Describe 'Scheduled jobs fail closed' {
    It '<Job> under pwsh <How> exits <ExitCode> on <Data> data' -ForEach $runs {
        $job = New-Job $Body $Data
        $arguments = $How -eq '-File' ? @('-File', $job.Path, '-Database', $job.Database) : @('-Command', "& '$($job.Path)' -Database '$($job.Database)'")
        $result = Invoke-Pwsh -Arguments $arguments
        $result.ExitCode | Should -Be $ExitCode -Because $result.Output
        if ($ExitCode -eq 0) { $result.Output | Should -Match 'job done' } else { $result.Output | Should -Not -Match 'job done' }
    }

    It 'without the Stop line, pwsh -File exits 0 after the error: the docs must not promise otherwise' {
        $job = New-Job 'Test-DataIntegrity -Database $Database -FailOn Error' tripped -WithoutStop
        $result = Invoke-Pwsh -Arguments '-File', $job.Path, '-Database', $job.Database
        $result.Output | Should -Match 'Integrity checks found 1 problem'
        $result.Output | Should -Match 'job done' -Because 'the script ran on after the error'
        $result.ExitCode | Should -Be 0 -Because 'pwsh -File sets a non-zero exit code only on exit N or a script-terminating error'
    }

    It 'pwsh -Command with the cmdlet as its last statement exits 1 without the Stop line' {
        $job = New-Job '' tripped
        $result = Invoke-Pwsh -Arguments '-Command', "Import-Module '$ModuleManifest'; Test-DataIntegrity -Database '$($job.Database)' -FailOn Error"
        $result.ExitCode | Should -Be 1 -Because $result.Output
    }
}
