<#
.SYNOPSIS
    Constraints on clean data only: run a plan of constraints against the sample goals tracker, see what the
    data blocks, clean those rows, look at the statements (-WhatIf), run the plan again, and once more to see
    that nothing is left to do.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/add-constraints.ps1
    The plan is examples/constraint-plan.psd1. Everything it writes goes to -Folder (default: ./dbops-constraints).
#>
param(
    [string] $Folder = 'dbops-constraints'
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}
. (Join-Path $PSScriptRoot New-GoalsDatabase.ps1)

$folder = (New-Item -ItemType Directory -Path $Folder -Force).FullName
$databasePath = New-GoalsDatabase -Path (Join-Path $folder 'goals.db')
$db = Connect-Database -Path $databasePath
$plan = (Import-PowerShellDataFile (Join-Path $PSScriptRoot 'constraint-plan.psd1')).Constraints

Write-Host "`n== 1. Run the plan: dirty data blocks a constraint, with sample keys and the query that lists them" -ForegroundColor Cyan
# Results are collected before they are shown, so the table is laid out for all of them at once.
$first = $plan | Add-SafeConstraint -Database $db -ErrorAction SilentlyContinue -ErrorVariable blocked
$first | Out-Default
foreach ($e in $blocked) { Write-Host "  $($e.FullyQualifiedErrorId.Split(',')[0]): $($e.Exception.Message)" }

Write-Host "`n== 2. Clean the rows the errors name (here: the sample's known defects)" -ForegroundColor Cyan
Invoke-DatabaseQuery $db "
    BEGIN;
    UPDATE goals SET deadline = created_at WHERE deadline < created_at;
    UPDATE goals SET root_id = id WHERE root_id IS NULL;
    UPDATE activity_groups SET name = name || ' (' || id || ')'
     WHERE id NOT IN (SELECT min(id) FROM activity_groups GROUP BY root_id, name);
    UPDATE sessions SET goal_id = NULL WHERE goal_id NOT IN (SELECT id FROM goals);
    COMMIT;"

Write-Host "`n== 3. What would run now (-WhatIf: the exact statements; nothing is changed)" -ForegroundColor Cyan
$plan | Add-SafeConstraint -Database $db -WhatIf

Write-Host "`n== 4. Run the plan again" -ForegroundColor Cyan
$results = $plan | Add-SafeConstraint -Database $db
$results | Out-Default

Write-Host "`n== 5. The same plan once more: everything is already present, nothing runs" -ForegroundColor Cyan
$again = $plan | Add-SafeConstraint -Database $db
$again | Out-Default

if (@($results + $again | Where-Object { $_.Status -eq 'Blocked' }).Count -gt 0) { exit 1 }
Write-Host "All $(@($again).Count) constraints are in place." -ForegroundColor Green
