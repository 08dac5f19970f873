# The package as a user installs it: build.ps1 -Task Package, then Install-PSResource from a folder repository into an
# empty module path, Import-Module by name, and a backup.
BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)

    # pwsh with a new home in TestDrive, so PSResourceGet's repository list and the CurrentUser module path are the
    # test's own, empty at first, and the real user's are neither read nor changed. Started as pwsh.dll on this
    # process's dotnet: `dotnet pwsh` would look for the tool under the new home.
    $userHome = Join-Path $TestDrive home
    # PSResourceGet keeps its repository list in the current directory when the user data folder does not exist.
    $null = New-Item -ItemType Directory -Path (Join-Path $userHome .local share)
    function Invoke-PwshAtHome([string[]] $Arguments) {
        $saved = $env:HOME, $env:XDG_DATA_HOME, $env:NO_COLOR, $env:NUGET_PACKAGES, $env:DOTNET_CLI_HOME
        try {
            # The dotnet CLI and NuGet keep the real home: a build in the child (-ReadyToRun publishes) finds the pinned tools.
            $packages = $env:NUGET_PACKAGES ?? (Join-Path $HOME .nuget packages)
            $cliHome = $env:DOTNET_CLI_HOME ?? $HOME
            $env:HOME, $env:XDG_DATA_HOME, $env:NO_COLOR, $env:NUGET_PACKAGES, $env:DOTNET_CLI_HOME =
                $userHome, (Join-Path $userHome .local share), '1', $packages, $cliHome
            Push-Location $userHome # the child process starts in it
            $output = & ([Environment]::ProcessPath) (Join-Path $PSHOME pwsh.dll) -NoProfile -NonInteractive @Arguments 2>&1
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output | Out-String) }
        }
        finally {
            Pop-Location
            $env:HOME, $env:XDG_DATA_HOME, $env:NO_COLOR, $env:NUGET_PACKAGES, $env:DOTNET_CLI_HOME = $saved
        }
    }
}

Describe 'build.ps1 -Task Package' {
    It 'writes a .nupkg that Install-PSResource installs from a folder repository; DbOps then imports by name and backs up' {
        $packed = Invoke-PwshAtHome '-File', (Join-Path $RepoRoot build.ps1), '-Task', 'Package', '-NoBuild'
        $packed.ExitCode | Should -Be 0 -Because $packed.Output
        $version = (Import-PowerShellDataFile $ModuleManifest).ModuleVersion
        $package = Join-Path $RepoRoot out packages "DbOps.$version.nupkg"
        $package | Should -Exist

        $repository = New-Item -ItemType Directory -Path (Join-Path $TestDrive repository)
        Copy-Item $package $repository
        $database = New-TestDatabase
        $installed = Invoke-PwshAtHome '-Command', @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name DbOpsTest -Uri '$repository' -Trusted
Install-PSResource -Name DbOps -Repository DbOpsTest -Scope CurrentUser
Import-Module DbOps
'loaded from ' + (Get-Module DbOps).ModuleBase
'backup ' + (Backup-Database -Database '$database' -Destination backups -Verify).Status
"@
        $installed.ExitCode | Should -Be 0 -Because $installed.Output
        $installed.Output | Should -Match ([regex]::Escape("loaded from $(Join-Path $userHome .local share powershell Modules DbOps $version)"))
        $installed.Output | Should -Match 'backup Verified'
    }
}

Describe 'build.ps1 -Task Package -ReadyToRun' {
    It 'packs assemblies precompiled for this runtime, leaves out/DbOps as built, and the installed package backs up' {
        $runtime = [System.Runtime.InteropServices.RuntimeInformation]::RuntimeIdentifier
        $packed = Invoke-PwshAtHome '-File', (Join-Path $RepoRoot build.ps1), '-Task', 'Package', '-NoBuild', '-ReadyToRun', $runtime
        $packed.ExitCode | Should -Be 0 -Because $packed.Output
        $version = (Import-PowerShellDataFile $ModuleManifest).ModuleVersion
        $package = Join-Path $RepoRoot out packages "DbOps.$version.nupkg"

        # ReadyToRun code sits in a PE directory of its own (the managed native header); plain IL has none.
        function Test-Precompiled([string] $Path) {
            $stream = [IO.File]::OpenRead($Path)
            try { ([System.Reflection.PortableExecutable.PEReader]::new($stream)).PEHeaders.CorHeader.ManagedNativeHeaderDirectory.Size -gt 0 }
            finally { $stream.Dispose() }
        }
        $unpacked = Join-Path $TestDrive unpacked
        Expand-Archive -Path (Copy-Item $package (Join-Path $TestDrive package.zip) -PassThru) -DestinationPath $unpacked
        foreach ($assembly in 'DbOps.PowerShell.dll', 'Dependencies/DbOps.Core.dll', 'Dependencies/Npgsql.dll', 'Dependencies/Dapper.dll') {
            Test-Precompiled (Join-Path $unpacked $assembly) | Should -BeTrue -Because "$assembly is packed precompiled"
            Test-Precompiled (Join-Path $RepoRoot out DbOps $assembly) | Should -BeFalse -Because "out/DbOps/$assembly stays the plain build"
        }

        $repository = New-Item -ItemType Directory -Path (Join-Path $TestDrive repository-r2r)
        Copy-Item $package $repository
        $database = New-TestDatabase
        $installed = Invoke-PwshAtHome '-Command', @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name DbOpsR2R -Uri '$repository' -Trusted
Install-PSResource -Name DbOps -Repository DbOpsR2R -Scope CurrentUser -Reinstall
Import-Module DbOps
'backup ' + (Backup-Database -Database '$database' -Destination backups -Verify).Status
"@
        $installed.ExitCode | Should -Be 0 -Because $installed.Output
        $installed.Output | Should -Match 'backup Verified'
    }

    AfterAll {
        # out/packages holds the plain package again, as -Task Package leaves it.
        $null = Invoke-PwshAtHome '-File', (Join-Path $RepoRoot build.ps1), '-Task', 'Package', '-NoBuild'
    }
}
