<#
.SYNOPSIS
    A nightly integrity job: check a database read-only, write JSON and JUnit reports, and exit non-zero on problems.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/nightly-integrity.ps1 [-Database <SQLite path or connection string>]
    Without -Database it checks the sample goals tracker (built in -ReportFolder), whose seeded defects make it fail.
    Reports: <ReportFolder>/integrity-<UTC time>.json and .xml (JUnit: one test case per check x table).
    Exit codes: 0 nothing at or above -FailOn; 1 problems found, a check could not run, or any other error.
    It fails closed the one way pwsh -File allows: $ErrorActionPreference = 'Stop' turns the error that
    Export-IntegrityReport -FailOn writes last into a script-terminating error, and pwsh exits 1.
#>
param(
    # A SQLite path or a PostgreSQL connection string; default: the sample goals tracker.
    [string] $Database,
    [string] $ReportFolder = 'integrity-reports',
    [ValidateSet('Error', 'Warning')]
    [string] $FailOn = 'Error',
    [ValidateSet('Quick', 'Standard', 'Full')]
    [string] $Level = 'Standard',
    # The rules the application relies on but the schema does not declare (Test-DataIntegrity's parameters).
    [hashtable] $Rules
)
# Fail closed: any error, including the one -FailOn writes, ends the job with exit code 1.
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}
. (Join-Path $PSScriptRoot New-GoalsDatabase.ps1)

$folder = (New-Item -ItemType Directory -Path $ReportFolder -Force).FullName
if (-not $Database) {
    $Database = New-GoalsDatabase -Path (Join-Path $folder 'goals.db')
    if (-not $Rules) {
        $Rules = @{
            RequiredColumn = @{ goals = 'root_id' }
            UniqueKey      = @{ activity_groups = 'root_id,name' }
            Condition      = @{ goals = 'deadline >= created_at' }
        }
    }
}
if (-not $Rules) { $Rules = @{} }

Write-Host "`n== Integrity checks ($Level), read-only" -ForegroundColor Cyan
# -ErrorAction Continue: a check that cannot run writes its error, and the report still gets written.
$report = Test-DataIntegrity -Database $Database -Level $Level -AsReport @Rules -ErrorAction Continue
if (-not $report) { throw "No integrity report for $Database`: see the error above." }
$report | Out-Default
$report.Findings | Out-Default

$stamp = Get-Date -AsUTC -Format 'yyyyMMdd-HHmmss'
$json = Join-Path $folder "integrity-$stamp.json"
$junit = Join-Path $folder "integrity-$stamp.xml"
$report | Export-IntegrityReport -Path $json
Write-Host "Reports: $json, $junit"
if ($report.ShouldFail($FailOn)) {
    Write-Host ("FAILED: {0} error(s), {1} warning(s), {2} check(s) could not run, {3} table(s) not found" -f
        $report.ErrorCount, $report.WarningCount, $report.CouldNotRunCount, $report.MissingTables.Count) -ForegroundColor Red
}
# Last: writes the JUnit file, then IntegrityProblemsFound (or IntegrityCheckFailed) when the report fails -FailOn;
# 'Stop' makes that error end the job with exit code 1.
$report | Export-IntegrityReport -Path $junit -Format JUnit -FailOn $FailOn
Write-Host "No integrity problems at or above $FailOn." -ForegroundColor Green
