@{
    RootModule           = 'DbOps.PowerShell.dll'
    # Imported before the root module: it loads DbOps.Core and its dependencies privately (Dependencies/).
    NestedModules        = @('DbOps.PowerShell.Loader.dll')
    # Stamped from Directory.Build.props <Version> into out/DbOps/DbOps.psd1 by the build.
    ModuleVersion        = '0.1.0'
    GUID                 = '6f1b7c2e-4a59-4d0e-9a51-3c2f7d8e5b10'
    Author               = 'DbOps contributors'
    Copyright            = '(c) 2026 DbOps contributors. MIT License.'
    Description          = 'Safe, scripted maintenance of PostgreSQL and SQLite: verified backups, integrity checks, archives, constraints and query measurements as cmdlets that pipe typed objects.'
    PowerShellVersion    = '7.6'
    CompatiblePSEditions = @('Core')
    CmdletsToExport      = @(
        'Connect-Database'
        'Backup-Database'
        'Test-Backup'
        'Copy-Backup'
        'Remove-Backup'
        'Restore-Database'
        'Get-DatabaseSnapshot'
        'Compare-DatabaseSnapshot'
        'Export-DatabaseDocumentation'
        'Test-DataIntegrity'
        'Export-IntegrityReport'
        'Add-SafeConstraint'
        'Measure-QueryPerformance'
        'Invoke-DatabaseQuery'
        'Get-SlowQuery'
        'Find-MissingIndex'
        'Find-UnusedIndex'
        'Add-SafeIndex'
        'Remove-UnusedIndex'
        'Find-UnusedTable'
        'Start-UsageWatch'
        'Export-TableArchive'
        'Import-TableArchive'
        'Remove-DeprecatedTable'
        'Find-DeprecatedColumn'
        'Rename-Table'
        'Remove-Database'
        'Compare-TableData'
        'Copy-TableData'
        'Get-MaintenanceLog'
        'Export-MaintenanceReport'
        'Remove-TableRow'
        'Update-TableRow'
        'Remove-DeprecatedColumn'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    FormatsToProcess     = @('DbOps.format.ps1xml')
    PrivateData          = @{
        PSData = @{
            Tags         = @('PostgreSQL', 'SQLite', 'Backup', 'Database', 'Maintenance')
            ProjectUri   = 'https://github.com/dbops-dev/DbOps'
            LicenseUri   = 'https://github.com/dbops-dev/DbOps/blob/main/LICENSE'
            ReleaseNotes = 'First release: verified backups, integrity checks, archives, constraints, indexes and query measurements for PostgreSQL and SQLite. Dependencies load in a private AssemblyLoadContext, so DbOps works beside other modules that ship Npgsql or Microsoft.Data.Sqlite. Full list: https://github.com/dbops-dev/DbOps/blob/main/CHANGELOG.md'
        }
    }
}
