# Creates the sample goals tracker (goals-tracker.sql) as a SQLite file, unless the file already exists.
# It uses Microsoft.Data.Sqlite from the DbOps module folder, so it needs nothing else installed.
function New-GoalsDatabase {
    param([Parameter(Mandatory)][string] $Path)

    if ([System.IO.File]::Exists($Path)) { return $Path }
    $module = Get-Module DbOps
    $null = [System.Reflection.Assembly]::LoadFrom([System.IO.Path]::Combine($module.ModuleBase, 'Microsoft.Data.Sqlite.dll'))

    $null = [System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($Path))
    $sql = [System.IO.File]::ReadAllText([System.IO.Path]::Combine($PSScriptRoot, 'goals-tracker.sql'))
    $connection = [Microsoft.Data.Sqlite.SqliteConnection]::new("Data Source=$Path;Pooling=False")
    try {
        $connection.Open()
        $command = $connection.CreateCommand()
        $command.CommandText = $sql
        $null = $command.ExecuteNonQuery()
    }
    finally {
        $connection.Dispose()
    }
    $Path
}
