<#
.SYNOPSIS
    Builds, tests or packages DbOps. Run it with the pinned pwsh: dotnet tool restore && dotnet pwsh ./build.ps1
.EXAMPLE
    dotnet pwsh ./build.ps1                 # Build: leaves an importable module in out/DbOps/ (and Pester in out/Pester/)
    dotnet pwsh ./build.ps1 -Task Test      # Build, then every test: xUnit, then the Pester suite in tests/DbOps.Pester
    dotnet pwsh ./build.ps1 -Task Package   # Build, then pack out/DbOps into out/packages/DbOps.<version>.nupkg
    dotnet pwsh ./build.ps1 -Task Package -ReadyToRun linux-x64   # the same, its assemblies precompiled for linux-x64
.EXAMPLE
    Register-PSResourceRepository -Name DbOpsLocal -Uri ./out/packages -Trusted; Install-PSResource DbOps -Repository DbOpsLocal
.NOTES
    Test ends with one line "Total: N passed, N failed, N skipped" over both suites and exits 1 when anything failed,
    including a test assembly that crashed or a Pester file that could not run.
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package')]
    [string] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    # Test or package what out/ already holds, without building first.
    [switch] $NoBuild,
    # Package: precompile the module's assemblies and its drivers' for this runtime (ReadyToRun), e.g. linux-x64 or
    # win-x64. The package still runs everywhere (the IL stays beside the native code); on that platform a fresh process
    # waits less for the JIT to compile DbOps, Npgsql and Dapper (docs/performance.md, "ReadyToRun").
    [string] $ReadyToRun
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Dotnet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE" }
}

if (-not $NoBuild) { Invoke-Dotnet build DbOps.sln -c $Configuration }

# A copy of out/DbOps whose managed assemblies carry native code for one runtime, in out/DbOps-<runtime>/DbOps.
function New-ReadyToRunModule([string] $Runtime) {
    $out = Join-Path $PSScriptRoot out
    $compiled = Join-Path $out "readytorun-$Runtime"
    $module = Join-Path $out "DbOps-$Runtime" DbOps
    Remove-Item $compiled, (Split-Path $module) -Recurse -Force -ErrorAction Ignore
    # Publishing builds again; its staging goes beside the compiled files, so out/DbOps stays the build the tests import.
    Invoke-Dotnet publish src/DbOps.PowerShell -c $Configuration -r $Runtime --self-contained false "-p:PublishReadyToRun=true" `
        "-p:ModuleOutputDir=$compiled/staged/" -o $compiled | Out-Host
    New-Item -ItemType Directory (Split-Path $module) | Out-Null
    Copy-Item (Join-Path $out DbOps) $module -Recurse
    # The module's own folder and Dependencies/ only: runtimes/<rid>/native holds each platform's native SQLite, whose
    # Windows files share a name with the one a win-* publish leaves beside the assemblies.
    foreach ($assembly in Get-ChildItem $module, (Join-Path $module Dependencies) -Filter *.dll) {
        $precompiled = Join-Path $compiled $assembly.Name
        if (Test-Path $precompiled) { Copy-Item $precompiled $assembly.FullName -Force }
    }
    $module
}

switch ($Task) {
    'Test' {
        $results = Join-Path $PSScriptRoot out test-results
        Remove-Item $results -Recurse -Force -ErrorAction Ignore

        Write-Host "`n== xUnit" -ForegroundColor Cyan
        & dotnet test DbOps.sln -c $Configuration --no-build --logger trx --results-directory $results
        $xunitExit = $LASTEXITCODE
        $runs = @(Get-ChildItem $results -Filter *.trx -ErrorAction Ignore | ForEach-Object { ([xml](Get-Content -Raw $_.FullName)).TestRun })
        $counters = $runs.ResultSummary.Counters
        $xunit = [pscustomobject]@{
            Passed  = ($counters | Measure-Object -Property passed -Sum).Sum
            Failed  = ($counters | ForEach-Object { [int]$_.failed + [int]$_.error + [int]$_.timeout + [int]$_.aborted } | Measure-Object -Sum).Sum
            # A skipped test is counted in total but not in executed.
            Skipped = ($counters | ForEach-Object { [int]$_.total - [int]$_.executed } | Measure-Object -Sum).Sum
        }
        # Never skip silently: name each skipped test and its reason.
        foreach ($skipped in $runs.Results.UnitTestResult | Where-Object outcome -eq 'NotExecuted') {
            Write-Host "Skipped $($skipped.testName): $($skipped.Output.ErrorInfo.Message)" -ForegroundColor Yellow
        }
        # A build break or a crashed test host reports no failed test: never let that look green.
        if ($xunitExit -ne 0 -and $xunit.Failed -eq 0) { $xunit.Failed = 1 }

        Write-Host "`n== Pester (tests/DbOps.Pester, module from out/DbOps)" -ForegroundColor Cyan
        Import-Module (Join-Path $PSScriptRoot out Pester Pester.psd1) -Force
        $config = New-PesterConfiguration
        $config.Run.Path = Join-Path $PSScriptRoot tests DbOps.Pester
        $config.Run.PassThru = $true
        $config.Output.Verbosity = 'Detailed'
        $config.TestResult.Enabled = $true
        $config.TestResult.OutputPath = Join-Path $results pester.xml
        # The tests set their own preferences; this script's 'Stop' must not leak into them.
        $pester = & { $ErrorActionPreference = 'Continue'; Invoke-Pester -Configuration $config }
        # A file or block that failed to run (BeforeAll, discovery) counts as a failure too.
        $pesterFailed = $pester.FailedCount + $pester.FailedBlocksCount + $pester.FailedContainersCount
        Write-Host "Pester: $($pester.PassedCount) passed, $pesterFailed failed, $($pester.SkippedCount) skipped"

        $passed = $xunit.Passed + $pester.PassedCount
        $failed = $xunit.Failed + $pesterFailed
        $skipped = $xunit.Skipped + $pester.SkippedCount
        Write-Host "xUnit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped"
        Write-Host "Total: $passed passed, $failed failed, $skipped skipped"
        exit ($failed -eq 0 ? 0 : 1)
    }
    'Package' {
        # The .nupkg Publish-PSResource would upload (PSResourceGet ships with pwsh); a folder holding it is a repository.
        $packages = New-Item -ItemType Directory -Path (Join-Path $PSScriptRoot out packages) -Force
        Get-ChildItem $packages -Filter DbOps.*.nupkg | Remove-Item
        $module = $ReadyToRun ? (New-ReadyToRunModule $ReadyToRun) : (Join-Path $PSScriptRoot out DbOps)
        $package = Compress-PSResource -Path $module -DestinationPath $packages -PassThru
        Write-Host "Packaged $($package.FullName)"
    }
}
