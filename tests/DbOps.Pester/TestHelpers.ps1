# Shared by the *.Tests.ps1 files (dot-sourced in BeforeAll): the module under test is always out/DbOps.
$RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot .. ..)).Path
$ModuleManifest = Join-Path $RepoRoot out DbOps DbOps.psd1

if (-not (Test-Path $ModuleManifest)) { throw "$ModuleManifest is missing; build first: dotnet build DbOps.sln -c Release" }
Import-Module $ModuleManifest
. (Join-Path $RepoRoot examples New-GoalsDatabase.ps1)

# Test runs record into a throw-away operations journal, never the user's.
$env:DBOPS_JOURNAL = Join-Path ([System.IO.Path]::GetTempPath()) "dbops-pester-journal-$PID.jsonl"

# A fresh copy of the sample goals tracker (6 tables, seeded defects) in TestDrive.
function New-TestDatabase {
    New-GoalsDatabase -Path (Join-Path $TestDrive "goals-$(New-Guid).db")
}

# Runs SQL on a SQLite file through DbOps; returns the first column of the first row.
# Runs SQL on a SQLite file, creating the file when it does not exist yet.
function Invoke-Sqlite([string] $Path, [string] $Sql) {
    $rows = @(Invoke-DatabaseQuery -Database (Connect-Database -Path $Path -Create) -Query $Sql)
    if ($rows) { $rows[0].PSObject.Properties | Select-Object -First 1 -ExpandProperty Value }
}

function Get-TableNames([string] $Path) {
    (Invoke-Sqlite $Path "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)") -split ','
}

# Runs pwsh as a user does (dotnet pwsh: the version pinned in .config/dotnet-tools.json) in its own process,
# non-interactive, in -WorkingDirectory; returns the exit code and everything it printed.
function Invoke-Pwsh {
    param([Parameter(Mandatory)][string[]] $Arguments, [string] $WorkingDirectory = $TestDrive, [string] $ModulePath)

    $saved = $env:PSModulePath, $env:NO_COLOR
    Push-Location $RepoRoot # where dotnet finds the tool manifest
    try {
        if ($ModulePath) { $env:PSModulePath = $ModulePath + [System.IO.Path]::PathSeparator + $env:PSModulePath }
        $env:NO_COLOR = '1'
        $output = & dotnet pwsh -NoProfile -NonInteractive -WorkingDirectory $WorkingDirectory @Arguments 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output | Out-String) }
    }
    finally {
        Pop-Location
        $env:PSModulePath, $env:NO_COLOR = $saved
    }
}
