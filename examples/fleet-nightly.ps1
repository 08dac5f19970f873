<#
.SYNOPSIS
    One host's share of a fleet: back up and check many databases in one command each, a few at a time.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/fleet-nightly.ps1 [-Database <paths or connection strings>] [-ThrottleLimit 4]
    Without -Database it works on six copies of the sample goals tracker in -Folder.
    It is what each host runs when a fleet is spread over hosts (docs/fleets.md): Invoke-Command hands each host its
    -Database list; a Kubernetes CronJob runs it with pwsh -File and the journal on a volume. It is safe to run twice:
    every run writes new, time-stamped backups and changes no database.
    Exit codes: 0 every database backed up, verified and checked; 1 any database failed (each failure is its own error).
#>
param(
    # SQLite paths or PostgreSQL connection strings; default: six sample databases in -Folder.
    [string[]] $Database,
    [string] $Folder = 'fleet',
    # How many databases each command works on at once.
    [ValidateRange(1, 64)]
    [int] $ThrottleLimit = 4,
    # The operations journal (on a volume in a container); default: $env:DBOPS_JOURNAL or the user's.
    [string] $JournalPath
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}
. (Join-Path $PSScriptRoot New-GoalsDatabase.ps1)

$folder = (New-Item -ItemType Directory -Path $Folder -Force).FullName
if (-not $Database) {
    $sample = New-GoalsDatabase -Path (Join-Path $folder goals.db)
    $Database = foreach ($i in 1..6) {
        $copy = Join-Path $folder "tenant$i.db"
        if (-not (Test-Path $copy)) { Copy-Item $sample $copy }
        $copy
    }
}
$journal = $JournalPath ? @{ JournalPath = $JournalPath } : @{}

# -ErrorAction Continue: one database's failure is its own error record and the others go on; counted below.
$failed = 0
Write-Host "`n== Back up $($Database.Count) databases, $ThrottleLimit at a time" -ForegroundColor Cyan
$backups = Backup-Database $Database -Destination (Join-Path $folder backups) -Verify -ThrottleLimit $ThrottleLimit @journal -ErrorAction Continue -ErrorVariable +backupErrors
$backups | Format-Table Database, Status, Path | Out-Default
$failed += $backupErrors.Count

Write-Host "`n== Integrity checks (Quick), read-only" -ForegroundColor Cyan
$reports = Test-DataIntegrity $Database -Level Quick -AsReport -ThrottleLimit $ThrottleLimit -ErrorAction Continue -ErrorVariable +checkErrors
$reports | Sort-Object Database | Format-Table Database, ErrorCount, WarningCount | Out-Default
$failed += @($checkErrors | Where-Object { $_.FullyQualifiedErrorId -notlike 'TableNotFound*' }).Count

if ($failed -gt 0) {
    Write-Host "FAILED: $failed error(s) across the fleet; see each above." -ForegroundColor Red
    exit 1
}
Write-Host "Fleet done: $(@($backups).Count) backups verified, $(@($reports).Count) databases checked."
