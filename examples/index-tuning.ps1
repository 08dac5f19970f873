<#
.SYNOPSIS
    Before/after proof for an index change: measure a set of queries, add the missing foreign-key indexes,
    measure the same queries again against the first results, and print the speed-ups.
.DESCRIPTION
    By default it works on the quickstart's goals tracker (SQLite, <Folder>/goals.db, created if missing), whose
    sessions.goal_id (an inferred relationship) and activity_instances.group_id (a declared foreign key) have no
    index. -Database takes another database instead, e.g. a PostgreSQL connection string to a database built from
    examples/goals-tracker.postgres.sql. Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/index-tuning.ps1
#>
param(
    [string] $Folder = 'dbops-quickstart',
    [string] $Database,
    [int] $Iterations = 30
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}
. (Join-Path $PSScriptRoot New-GoalsDatabase.ps1)
$db = Connect-ExampleDatabase -Database $Database -Folder (New-Item -ItemType Directory -Path $Folder -Force).FullName

# The queries the application runs most: each filters or joins on a relationship's referencing column.
$queries = @(
    [pscustomobject]@{ Query = 'SELECT count(*) FROM sessions WHERE goal_id = @goal'; Parameters = @{ goal = 17 } }
    [pscustomobject]@{ Query = 'SELECT id, started_at, ended_at FROM sessions WHERE goal_id = @goal ORDER BY started_at'; Parameters = @{ goal = 42 } }
    [pscustomobject]@{ Query = 'SELECT kind, sum(duration_min) FROM activity_instances WHERE group_id = @grp GROUP BY kind'; Parameters = @{ grp = 7 } }
    [pscustomobject]@{ Query = 'SELECT g.title, s.started_at FROM goals g JOIN sessions s ON s.goal_id = g.id WHERE g.id = @goal'; Parameters = @{ goal = 99 } }
)

Write-Host "`n== 1. Measure the queries as they are ($Iterations runs each)" -ForegroundColor Cyan
$before = $queries | Measure-QueryPerformance -Database $db -Iterations $Iterations
$before | Out-Default

Write-Host "`n== 2. Relationships whose columns lead no index" -ForegroundColor Cyan
$missing = Find-MissingIndex -Database $db
if (-not $missing) {
    Write-Host 'None: every relationship is indexed already (this example has run on this database before).'
}
$missing | Out-Default

Write-Host "`n== 3. Add them (CREATE INDEX CONCURRENTLY on PostgreSQL)" -ForegroundColor Cyan
$missing | Add-SafeIndex | Out-Default

Write-Host "`n== 4. Measure the same queries again, against the first results" -ForegroundColor Cyan
$after = $before | Measure-QueryPerformance -Database $db -Iterations $Iterations -Baseline $before
$after | Out-Default

Write-Host "`n== 5. Speed-ups (baseline median / new median)" -ForegroundColor Cyan
foreach ($result in $after) {
    $plan = if ($result.PlanChanged) { "plan changed: $($result.Plan)" } else { 'plan unchanged' }
    Write-Host ('{0,7:N1}x  {1,9:N3} ms -> {2,9:N3} ms  {3}' -f $result.SpeedUp, $result.BaselineMedianMs, $result.MedianMs, $result.Query)
    Write-Host ('          {0}' -f $plan)
}
