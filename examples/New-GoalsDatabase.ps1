# The sample goals tracker for the examples. New-GoalsDatabase creates it (goals-tracker.sql) as a SQLite file, unless the file already exists.
# DbOps itself runs the script (Invoke-DatabaseQuery), so it needs nothing else installed.
function New-GoalsDatabase {
    param([Parameter(Mandatory)][string] $Path)

    if (Test-Path $Path) { return $Path }
    $null = New-Item -ItemType Directory -Path (Split-Path $Path) -Force
    $database = Connect-Database -Path $Path -Create
    Invoke-DatabaseQuery $database (Get-Content -Raw (Join-Path $PSScriptRoot goals-tracker.sql))
    $Path
}

# The database an example works on: -Database when given (a SQLite path or a PostgreSQL connection string),
# otherwise the sample goals tracker in <Folder>/goals.db, created if missing.
function Connect-ExampleDatabase {
    param([string] $Database, [Parameter(Mandatory)][string] $Folder)

    if ($Database) { return Connect-Database $Database }
    Connect-Database -Path (New-GoalsDatabase -Path (Join-Path $Folder goals.db))
}
