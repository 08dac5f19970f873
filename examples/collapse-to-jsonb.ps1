<#
.SYNOPSIS
    Collapse a per-phase legacy table into a JSON column of its parent with proof: gather, prove every legacy row is
    in the parent's JSON, archive, drop, and a snapshot comparison that finds no data lost.
.DESCRIPTION
    Run it with pwsh (after dotnet tool restore and dotnet build DbOps.sln -c Release):
        dotnet pwsh examples/collapse-to-jsonb.ps1 [-Database <SQLite path or connection string>]
    Without -Database it works on <Folder>/collapse.db (SQLite, created afresh). With a PostgreSQL connection string it
    (re)creates the two sample tables, projects and analysis_results_legacy, in that database.
    Each project had one legacy row per analysis phase; the new design keeps them as an array in
    projects.analysis_results (jsonb on PostgreSQL, JSON text on SQLite). One project has no legacy rows.
    The gather is an UPDATE of the parent, not an INSERT: Copy-TableData reads one row per project from -SourceQuery
    (jsonb_agg / json_group_array) and writes it onto the existing parent row with -OnConflict Update, which archives
    the values it overwrites first, so the collapse can be undone. The proof goes the other way: Compare-TableData
    compares the legacy rows with the array's elements (jsonb_array_elements / json_each) through -TargetQuery.
    Exit codes: 0 no data lost; 3 the comparison found data loss; 1 a step failed.
#>
param(
    [string] $Folder = 'dbops-quickstart',
    # A SQLite path or a PostgreSQL connection string; default: <Folder>/collapse.db.
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
    $path = Join-Path $folder collapse.db
    Remove-Item $path -ErrorAction Ignore
    $db = Connect-Database -Path $path -Create
}
$run = Join-Path $folder "collapse-$(Get-Date -AsUTC -Format 'yyyyMMdd-HHmmss')"
$journal = @{}
if ($JournalPath) { $journal.JournalPath = $JournalPath }

# The one engine-specific part: the JSON type, how rows are gathered into an array, and how its elements are read back.
if ($db.Provider -eq 'PostgreSQL') {
    $jsonType = 'JSONB'
    $gather = "SELECT project_id, jsonb_agg(jsonb_build_object('phase', phase, 'score', score, 'notes', notes) ORDER BY phase) AS analysis_results " +
              'FROM analysis_results_legacy GROUP BY project_id'
    $elements = "SELECT p.id AS project_id, e->>'phase' AS phase, (e->>'score')::numeric AS score, e->>'notes' AS notes " +
                'FROM projects p CROSS JOIN jsonb_array_elements(p.analysis_results) AS e'
}
else {
    $jsonType = 'TEXT'
    # json_group_array keeps the order its input rows come in: ordered here, so a rerun gathers the same text.
    $gather = "SELECT project_id, json_group_array(json_object('phase', phase, 'score', score, 'notes', notes)) AS analysis_results " +
              'FROM (SELECT * FROM analysis_results_legacy ORDER BY project_id, phase) GROUP BY project_id'
    $elements = "SELECT p.id AS project_id, json_extract(e.value, '$.phase') AS phase, json_extract(e.value, '$.score') AS score, " +
                "json_extract(e.value, '$.notes') AS notes FROM projects p, json_each(p.analysis_results) AS e"
}

Write-Host "`n== 1. The parent and its per-phase legacy table" -ForegroundColor Cyan
$null = Invoke-DatabaseQuery -Database $db -Confirm:$false -Query @"
DROP TABLE IF EXISTS analysis_results_legacy;
DROP TABLE IF EXISTS projects;
CREATE TABLE projects(id INTEGER PRIMARY KEY, name TEXT NOT NULL, analysis_results $jsonType);
INSERT INTO projects VALUES (1, 'alpha', NULL), (2, 'beta', NULL), (3, 'gamma', NULL);
CREATE TABLE analysis_results_legacy(project_id INTEGER NOT NULL REFERENCES projects(id), phase TEXT NOT NULL, score NUMERIC, notes TEXT,
    PRIMARY KEY (project_id, phase));
INSERT INTO analysis_results_legacy VALUES (1, 'dns', 0.5, 'slow resolver'), (1, 'http', 7, NULL), (1, 'tls', 9.25, 'ok'),
    (2, 'dns', 3, NULL);
"@
$before = Get-DatabaseSnapshot -Database $db -Checksum -Path (Join-Path $run 'before.json')

# The proof's map: each legacy row against one element of its project's array, by (project, phase).
$proof = @{
    Database    = $db
    Source      = 'analysis_results_legacy'
    TargetQuery = $elements
    Key         = 'project_id', 'phase'
}

Write-Host "`n== 2. Compare first: no legacy row is in a parent's JSON yet" -ForegroundColor Cyan
$first = Compare-TableData @proof
$first | Format-List Verdict, SourceRows, TargetRows, Missing, MissingSamples | Out-Default

Write-Host "`n== 3. Gather: one row per project onto the parent's JSON column (an UPDATE, its prior image archived first)" -ForegroundColor Cyan
$copy = Copy-TableData -Database $db -SourceQuery $gather -Target projects -Key @{ project_id = 'id' } -OnConflict Update -BatchSize 2 `
    -Destination (Join-Path $run 'prior-images') -Verify -Confirm:$false @journal
$copy | Format-List Copied, Updated, Batches, PriorImagePath, PriorImageRows, Undo, UndoNote | Out-Default
# Contained, not Equal: gamma has no legacy rows, so no gathered row.
if ($copy.Comparison.Verdict -eq 'Differs') { throw 'The parents do not hold the gathered arrays; nothing is dropped.' }

Write-Host "`n== 4. The proof: every legacy row is an element of its parent's array, with equal values" -ForegroundColor Cyan
$proved = Compare-TableData @proof
$proved | Format-List Verdict, SourceRows, TargetRows, Matched, Missing, Changed, Extra | Out-Default
if ($proved.Verdict -ne 'Equal') { throw 'Some legacy row is not in its parent''s JSON; nothing is dropped.' }

Write-Host "`n== 5. Archive the legacy table with proof, and drop it" -ForegroundColor Cyan
$archive = Export-TableArchive -Database $db -Table analysis_results_legacy -Destination (Join-Path $run 'archive') -Verify @journal
$archive | Remove-DeprecatedTable -Confirm:$false @journal | Out-Default

Write-Host "`n== 6. Snapshot after, and the comparison" -ForegroundColor Cyan
$after = Get-DatabaseSnapshot -Database $db -Checksum -Path (Join-Path $run 'after.json')
$comparison = Compare-DatabaseSnapshot -Before $before -After $after @journal
$comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotDifference] } | Format-Table ObjectType, Change, DataLoss, Name, Explanation -Wrap | Out-Default
$summary = $comparison | Where-Object { $_ -is [DbOps.Core.Snapshots.SnapshotComparison] }
$summary | Out-Default

if ($summary.DataLoss) {
    Write-Host 'DATA LOSS: see the differences marked DataLoss above.' -ForegroundColor Red
    exit 3
}
Write-Host "No data lost: $($proved.Matched) legacy rows live in $($copy.Updated) projects' analysis_results; analysis_results_legacy archived and dropped. Everything is in $run" -ForegroundColor Green
