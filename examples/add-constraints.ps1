<#
.SYNOPSIS
    Constraints on clean data only: run a plan of constraints against the sample goals tracker, see what the
    data blocks, clean those rows, look at the statements (-WhatIf), run the plan again, and once more to see
    that nothing is left to do.
.DESCRIPTION
    Runs unchanged under pwsh (after Import-Module ./out/DbOps/DbOps.psd1) and under DbOps.Runner:
        dotnet run --project src/DbOps.Runner -- examples/add-constraints.ps1
    The plan is examples/constraint-plan.psd1. Everything it writes goes to -Folder (default: ./dbops-constraints).
#>
param(
    [string] $Folder = 'dbops-constraints'
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'out', 'DbOps', 'DbOps.psd1'))
}
. ([System.IO.Path]::Combine($PSScriptRoot, 'New-GoalsDatabase.ps1'))

# Reads a .psd1 as data, as Import-PowerShellDataFile does (that cmdlet is not in every host).
function Read-PlanFile([string] $Path) {
    $ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref] $null, [ref] $null)
    $ast.Find({ param($node) $node -is [System.Management.Automation.Language.HashtableAst] }, $false).SafeGetValue()
}

$folder = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Folder)
$databasePath = New-GoalsDatabase -Path ([System.IO.Path]::Combine($folder, 'goals.db'))
$db = Connect-Database -Path $databasePath
$plan = (Read-PlanFile ([System.IO.Path]::Combine($PSScriptRoot, 'constraint-plan.psd1'))).Constraints

Write-Host "`n== 1. Run the plan: dirty data blocks a constraint, with sample keys and the query that lists them" -ForegroundColor Cyan
# Results are collected before they are shown, so the table is laid out for all of them at once.
$first = $plan | Add-SafeConstraint -Database $db -ErrorAction SilentlyContinue -ErrorVariable blocked
$first | Out-Default
foreach ($e in $blocked) { Write-Host "  $($e.FullyQualifiedErrorId.Split(',')[0]): $($e.Exception.Message)" }

Write-Host "`n== 2. Clean the rows the errors name (here: the sample's known defects)" -ForegroundColor Cyan
$sqlite = [Microsoft.Data.Sqlite.SqliteConnection]::new("Data Source=$databasePath;Pooling=False")
try {
    $sqlite.Open()
    $command = $sqlite.CreateCommand()
    $command.CommandText = "
        UPDATE goals SET deadline = created_at WHERE deadline < created_at;
        UPDATE goals SET root_id = id WHERE root_id IS NULL;
        UPDATE activity_groups SET name = name || ' (' || id || ')'
         WHERE id NOT IN (SELECT min(id) FROM activity_groups GROUP BY root_id, name);
        UPDATE sessions SET goal_id = NULL WHERE goal_id NOT IN (SELECT id FROM goals);"
    $null = $command.ExecuteNonQuery()
}
finally {
    $sqlite.Dispose()
}

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
