# DbOps next to another database module: its Npgsql and Microsoft.Data.Sqlite load in a private load context, so a
# session can hold another version of either (out/OtherDrivers: Npgsql 8, Microsoft.Data.Sqlite 8, from
# tests/OtherDrivers), loaded before or after DbOps. Each order runs in a fresh pwsh, as a user's session would.
BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)

    $otherDrivers = Join-Path $RepoRoot out OtherDrivers
    if (-not (Test-Path $otherDrivers)) { throw "$otherDrivers is missing; build first: dotnet build DbOps.sln -c Release" }
    $rid = 'linux-' + [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture.ToString().ToLowerInvariant()

    # What another module does: Add-Type its drivers, load its own native SQLite, and use both.
    $useOtherDrivers = @"
Add-Type -Path '$otherDrivers/Npgsql.dll', '$otherDrivers/Microsoft.Data.Sqlite.dll'
`$null = [System.Runtime.InteropServices.NativeLibrary]::Load('$otherDrivers/runtimes/$rid/native/libe_sqlite3.so')
`$sqlite = [Microsoft.Data.Sqlite.SqliteConnection]::new('Data Source=:memory:')
`$sqlite.Open(); `$command = `$sqlite.CreateCommand(); `$command.CommandText = 'SELECT 40 + 2'
'other SQLite answers ' + `$command.ExecuteScalar(); `$sqlite.Dispose()
'other Npgsql parses Host=' + [Npgsql.NpgsqlConnectionStringBuilder]::new('Host=db1').Host
"@

    # DbOps backs up a SQLite file and reaches Npgsql: a refused connection is DbOps's error, not a FileLoadException.
    $useDbOps = @"
Import-Module '$ModuleManifest'
`$db = Connect-Database -Path goals.db -Create
`$null = Invoke-DatabaseQuery `$db 'CREATE TABLE goals (id INTEGER PRIMARY KEY); INSERT INTO goals VALUES (1), (2)'
'DbOps backup verified: ' + (Backup-Database `$db -Destination backups -Verify).Verified
try { Connect-Database -ConnectionString 'Host=127.0.0.1;Port=1;Database=x;Username=u;Password=p;Timeout=5' }
catch { 'DbOps PostgreSQL error: ' + `$_.FullyQualifiedErrorId.Split(',')[0] }
"@

    $listNpgsql = @'
[AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Npgsql' } |
    ForEach-Object { "Npgsql $($_.GetName().Version.Major) in $([System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_).Name)" }
'@
}

Describe 'DbOps beside another module''s Npgsql and Microsoft.Data.Sqlite' {
    It 'both work when <Order> loads first' -ForEach @(
        @{ Order = 'the other module'; OtherFirst = $true }
        @{ Order = 'DbOps'; OtherFirst = $false }
    ) {
        $steps = $OtherFirst ? ($useOtherDrivers, $useDbOps) : ($useDbOps, $useOtherDrivers)
        $script = "`$ErrorActionPreference = 'Stop'`n" + ($steps -join "`n") + "`n" + $listNpgsql
        $folder = New-Item -ItemType Directory -Path (Join-Path $TestDrive ($OtherFirst ? 'other-first' : 'dbops-first'))
        $result = Invoke-Pwsh -WorkingDirectory $folder -Arguments '-Command', $script
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Output | Should -Match 'other SQLite answers 42'
        $result.Output | Should -Match 'other Npgsql parses Host=db1'
        $result.Output | Should -Match 'DbOps backup verified: True'
        $result.Output | Should -Match 'DbOps PostgreSQL error: ConnectionFailed'
        $result.Output | Should -Match 'Npgsql 8 in Default'
        $result.Output | Should -Match 'Npgsql 10 in DbOps'
    }
}

Describe 'The module''s load contexts' {
    It 'the cmdlet assembly is in the default context and references no dependency but DbOps.Core' {
        $cmdlets = (Get-Command Backup-Database).ImplementingType.Assembly
        [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($cmdlets) | Should -Be ([System.Runtime.Loader.AssemblyLoadContext]::Default)
        $dependencies = (Get-ChildItem (Join-Path (Split-Path $ModuleManifest) Dependencies) -Filter *.dll).BaseName
        $cmdlets.GetReferencedAssemblies().Name | Where-Object { $_ -in $dependencies } | Should -Be 'DbOps.Core'
    }

    It 'DbOps.Core is in the private context, and its types resolve by name in scripts' {
        $type = [DbOps.Core.Snapshots.SnapshotComparison]
        [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($type.Assembly).Name | Should -Be 'DbOps'
        (Connect-Database -Path (New-TestDatabase)) -is [DbOps.Core.Connections.DbOpsConnection] | Should -BeTrue
    }
}
