BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)
}

Describe 'The DbOps module' {
    It 'is imported from the build output, out/DbOps' {
        (Get-Module DbOps).ModuleBase | Should -Be (Split-Path $ModuleManifest)
    }

    It 'names its project, licence, copyright and release notes, and ships its licence' {
        $manifest = Import-PowerShellDataFile $ModuleManifest
        $manifest.Copyright | Should -Match 'DbOps contributors'
        $psData = $manifest.PrivateData.PSData
        $psData.ProjectUri | Should -Match '^https://'
        $psData.LicenseUri | Should -BeLike "$($psData.ProjectUri)/*/LICENSE"
        $psData.ReleaseNotes | Should -Match 'CHANGELOG\.md'
        Join-Path $RepoRoot LICENSE | Should -Exist
        Join-Path (Split-Path $ModuleManifest) LICENSE | Should -Exist
    }

    It 'has a CHANGELOG section for its version' {
        $version = (Import-PowerShellDataFile $ModuleManifest).ModuleVersion
        Get-Content -Raw (Join-Path $RepoRoot CHANGELOG.md) | Should -Match "## \[$([regex]::Escape($version))\]"
    }

    It 'exports exactly the cmdlets its manifest lists' {
        $listed = (Import-PowerShellDataFile $ModuleManifest).CmdletsToExport
        (Get-Command -Module DbOps).Name | Sort-Object | Should -Be ($listed | Sort-Object)
    }
}
