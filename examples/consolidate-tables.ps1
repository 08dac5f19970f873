<#
.SYNOPSIS
    Consolidate a legacy table into its successor with proof: compare, copy, prove, archive, drop, and a snapshot
    comparison that finds no data lost.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/consolidate-tables.ps1 [-Database <SQLite path or connection string>]
    Without -Database it works on <Folder>/consolidate.db (SQLite, created afresh). With a PostgreSQL connection
    string it (re)creates the two sample tables, v3_data_imports and data_imports, in that database.
    The legacy rows move into data_imports with renamed columns (source_filename -> filename, file_size_bytes ->
    file_size, user_id -> imported_by) and a status derived from two flags. One id is already in the target with an
    older file size, and the target holds one orphan row the legacy table never had.
    Exit codes: 0 no data lost; 3 the comparison found data loss; 1 a step failed.
#>
param(
    [string] $Folder = 'dbops-quickstart',
    # A SQLite path or a PostgreSQL connection string; default: <Folder>/consolidate.db.
    [string] $Database,
    [string] $JournalPath
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module DbOps)) {
    # The installed module by name; otherwise the one this repository builds (dotnet build DbOps.sln -c Release).
    Import-Module ((Get-Module DbOps -ListAvailable) ? 'DbOps' : (Join-Path $PSScriptRoot .. out DbOps DbOps.psd1))
}

$folder = (New-Item -ItemType Directory -Path $Folder -Force).FullName
if ($Database) {
    $db = Connect-Database $Database
}
else {
    $path = Join-Path $folder consolidate.db
    Remove-Item $path -ErrorAction Ignore
    $db = Connect-Database -Path $path -Create
}
$run = Join-Path $folder "consolidate-$(Get-Date -AsUTC -Format 'yyyyMMdd-HHmmss')"
$journal = @{}
if ($JournalPath) { $journal.JournalPath = $JournalPath }

Write-Host "`n== 1. The legacy table and its successor" -ForegroundColor Cyan
$null = Invoke-DatabaseQuery -Database $db -Confirm:$false -Query @'
DROP TABLE IF EXISTS v3_data_imports;
DROP TABLE IF EXISTS data_imports;
CREATE TABLE v3_data_imports(id INTEGER PRIMARY KEY, source_filename TEXT NOT NULL, file_size_bytes INTEGER, user_id INTEGER,
    is_approved BOOLEAN NOT NULL, is_rejected BOOLEAN NOT NULL);
INSERT INTO v3_data_imports VALUES (1, 'jan.csv', 1200, 7, TRUE, FALSE), (2, 'feb.csv', 800, 7, FALSE, TRUE),
    (3, 'mar.csv', 950, 8, TRUE, FALSE), (4, 'apr.csv', NULL, 8, FALSE, FALSE);
CREATE TABLE data_imports(id INTEGER PRIMARY KEY, filename VARCHAR(200) NOT NULL, file_size BIGINT, imported_by INTEGER, status TEXT NOT NULL);
INSERT INTO data_imports VALUES (3, 'mar.csv', 900, 8, 'approved'), (99, 'orphan.csv', 10, 1, 'pending');
'@
$before = Get-DatabaseSnapshot -Database $db -Checksum -Path (Join-Path $run 'before.json')

# One map for the comparison, the copy and the proof.
$move = @{
    Database   = $db
    Source     = 'v3_data_imports'
    Target     = 'data_imports'
    Key        = 'id'
    Map        = @{ source_filename = 'filename'; file_size_bytes = 'file_size'; user_id = 'imported_by' }
    Expression = @{ status = "CASE WHEN is_approved THEN 'approved' WHEN is_rejected THEN 'rejected' ELSE 'pending' END" }
}

Write-Host "`n== 2. Compare first: what is missing, what differs, what the target has besides" -ForegroundColor Cyan
$first = Compare-TableData @move
$first | Format-List Verdict, SourceRows, TargetRows, Matched, Missing, Changed, Extra, MissingSamples, ExtraSamples | Out-Default
$first.ChangedSamples | Format-Table Key, Columns | Out-Default

Write-Host "`n== 3. Copy: key-ordered batches, the legacy values win a conflict, then the same comparison" -ForegroundColor Cyan
$copy = Copy-TableData @move -OnConflict Update -BatchSize 2 -Verify -Confirm:$false @journal
$copy | Format-List Copied, AlreadyPresent, Conflicting, Updated, Batches, CopiedSamples | Out-Default
$copy.Comparison | Format-List Verdict, Missing, Changed, Extra | Out-Default
if ($copy.Comparison.Verdict -eq 'Differs') { throw 'The copy did not bring every legacy row into data_imports; nothing is dropped.' }

Write-Host "`n== 4. Archive the legacy table with proof, and drop it" -ForegroundColor Cyan
$archive = Export-TableArchive -Database $db -Table v3_data_imports -Destination (Join-Path $run 'archive') -Verify @journal
$archive | Remove-DeprecatedTable -Confirm:$false @journal | Out-Default

Write-Host "`n== 5. Snapshot after, and the comparison" -ForegroundColor Cyan
$after = Get-DatabaseSnapshot -Database $db -Checksum -Path (Join-Path $run 'after.json')
$comparison = Compare-DatabaseSnapshot -Before $before -After $after @journal
$comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotDifference] } | Format-Table ObjectType, Change, DataLoss, Name, Explanation -Wrap | Out-Default
$summary = $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotComparison] }
$summary | Out-Default

if ($summary.DataLoss) {
    Write-Host 'DATA LOSS: see the differences marked DataLoss above.' -ForegroundColor Red
    exit 3
}
Write-Host "No data lost: $($copy.Copied) rows copied, $($copy.Updated) updated, v3_data_imports archived and dropped. Everything is in $run" -ForegroundColor Green
