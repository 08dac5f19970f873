BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)
}

Describe 'The DbOps module' {
    It 'is imported from the build output, out/DbOps' {
        (Get-Module DbOps).ModuleBase | Should -Be (Split-Path $ModuleManifest)
    }

    It 'exports exactly the cmdlets its manifest lists' {
        $listed = (Import-PowerShellDataFile $ModuleManifest).CmdletsToExport
        (Get-Command -Module DbOps).Name | Sort-Object | Should -Be ($listed | Sort-Object)
    }
}
