<#
.SYNOPSIS
    Copies the pinned pwsh tool (an IL-only build) and precompiles PowerShell's own assemblies ReadyToRun, as the
    platform packages of PowerShell ship them, so whole-process benchmarks can be run with either.
.EXAMPLE
    dotnet pwsh bench/precompile-pwsh.ps1 -Destination /tmp/pwsh-r2r
    dotnet run -c Release --no-build --project bench/DbOps.Bench -- process --pwsh /tmp/pwsh-r2r/pwsh.dll
.NOTES
    crossgen2 comes from NuGet's Microsoft.NETCore.App.Crossgen2.<runtime> package, which any ReadyToRun publish restores
    (dotnet pwsh ./build.ps1 -Task Package -ReadyToRun linux-x64 does).
#>
param(
    [Parameter(Mandatory)] [string] $Destination
)
$ErrorActionPreference = 'Stop'
$runtime = [System.Runtime.InteropServices.RuntimeInformation]::RuntimeIdentifier
$framework = Split-Path ([object].Assembly.Location)
$frameworkVersion = Split-Path $framework -Leaf
$packages = $env:NUGET_PACKAGES ?? (Join-Path $HOME .nuget packages)
$crossgen = Join-Path $packages "microsoft.netcore.app.crossgen2.$runtime" $frameworkVersion tools crossgen2
if (-not (Test-Path $crossgen)) {
    throw "crossgen2 $frameworkVersion for $runtime is not in $packages. Restore it first: dotnet pwsh ./build.ps1 -Task Package -ReadyToRun $runtime"
}

# Replaces only an earlier copy: a folder that holds something else is left alone.
if ((Test-Path $Destination) -and (Get-ChildItem $Destination -Force | Select-Object -First 1) -and -not (Test-Path (Join-Path $Destination pwsh.dll))) {
    throw "$Destination is not empty and holds no pwsh.dll; choose an empty folder or an earlier copy."
}
Remove-Item $Destination -Recurse -Force -ErrorAction Ignore
Copy-Item $PSHOME $Destination -Recurse
# The assemblies a pwsh -File run of DbOps executes; the rest start no faster and are left as they are.
$assemblies = 'pwsh', 'System.Management.Automation', 'Microsoft.PowerShell.ConsoleHost', 'Microsoft.PowerShell.Commands.Utility',
    'Microsoft.PowerShell.Commands.Management', 'Microsoft.PowerShell.Security', 'Microsoft.PowerShell.MarkdownRender',
    'Microsoft.ApplicationInsights', 'Newtonsoft.Json', 'System.Management'
$compiled = Join-Path ([IO.Path]::GetTempPath()) "precompiled-pwsh-$PID"
$null = New-Item -ItemType Directory $compiled
try {
    foreach ($name in $assemblies) {
        # A response file: pwsh would expand the references' wildcards itself.
        $arguments = Join-Path $compiled "$name.rsp"
        Set-Content $arguments (Join-Path $PSHOME "$name.dll"), '-o', (Join-Path $compiled "$name.dll"),
            '-r', (Join-Path $framework '*.dll'), '-r', (Join-Path $PSHOME '*.dll'),
            '--targetos', ($IsWindows ? 'windows' : $IsMacOS ? 'osx' : 'linux'), '--targetarch', ($runtime -replace '^.*-', ''), '-O'
        & $crossgen "@$arguments" | Out-Null
        if ($LASTEXITCODE -ne 0) { throw "crossgen2 failed on $name.dll (exit code $LASTEXITCODE)" }
    }
    Copy-Item (Join-Path $compiled '*.dll') $Destination -Force
}
finally {
    Remove-Item $compiled -Recurse -Force -ErrorAction Ignore
}
"Precompiled pwsh in $Destination; run it as: dotnet $(Join-Path $Destination pwsh.dll)"
