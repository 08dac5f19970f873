# Every example, as a user or a scheduler runs it: pwsh -File in its own process; the exit code is its interface.
BeforeDiscovery {
    $examples = @(
        @{ Name = 'quickstart.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'archive-unused.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'phase-cleanup.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'verify-cleanup.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'rename-table.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'retire-column.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'add-constraints.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'fleet-nightly.ps1'; Arguments = @('-Folder', 'out', '-ThrottleLimit', '2'); ExitCode = 0 }
        @{ Name = 'consolidate-tables.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'collapse-to-jsonb.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'index-tuning.ps1'; Arguments = @('-Folder', 'out', '-Iterations', '3'); ExitCode = 0 }
        @{ Name = 'rehearse-on-staging.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        @{ Name = 'fix-dirty-rows.ps1'; Arguments = @('-Folder', 'out'); ExitCode = 0 }
        # The sample's seeded defects fail the nightly job.
        @{ Name = 'nightly-integrity.ps1'; Arguments = @('-ReportFolder', 'out'); ExitCode = 1 }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)
}

Describe 'Examples under pwsh -File' {
    It 'covers every example runbook' -ForEach @{ Listed = $examples.Name } {
        $runbooks = Get-ChildItem (Join-Path $RepoRoot examples) -Filter *.ps1 | Where-Object Name -ne 'New-GoalsDatabase.ps1'
        $runbooks.Name | Sort-Object | Should -Be ($Listed | Sort-Object)
    }

    It '<Name> exits <ExitCode>' -ForEach $examples {
        $folder = New-Item -ItemType Directory -Path (Join-Path $TestDrive ([IO.Path]::GetFileNameWithoutExtension($Name)))
        $result = Invoke-Pwsh -WorkingDirectory $folder -Arguments (@('-File', (Join-Path $RepoRoot examples $Name)) + $Arguments)
        $result.ExitCode | Should -Be $ExitCode -Because $result.Output
    }

    It 'nightly-integrity.ps1 exits 0 on clean data (Chinook)' {
        $chinook = Join-Path $TestDrive chinook.db
        Copy-Item (Join-Path $RepoRoot tests data chinook Chinook_Sqlite.sqlite) $chinook
        $result = Invoke-Pwsh -Arguments '-File', (Join-Path $RepoRoot examples nightly-integrity.ps1), '-Database', $chinook, '-ReportFolder', (Join-Path $TestDrive chinook-reports)
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -Match 'No integrity problems at or above Error'
    }

    It 'imports DbOps by name when it is installed, not from the build output' {
        # An "installed" copy: a folder on PSModulePath holding DbOps/.
        $modules = New-Item -ItemType Directory -Path (Join-Path $TestDrive installed)
        Copy-Item (Split-Path $ModuleManifest) $modules -Recurse
        $quickstart = Join-Path $RepoRoot examples quickstart.ps1
        $result = Invoke-Pwsh -ModulePath $modules -Arguments '-Command', "& '$quickstart' -Folder qs-installed; 'loaded from ' + (Get-Module DbOps).ModuleBase"
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -Match 'Backup verified: '
        $result.Output | Should -Match ([regex]::Escape("loaded from $(Join-Path $modules DbOps)"))
    }
}
