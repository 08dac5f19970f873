# Every default table view in module/DbOps.format.ps1xml, rendered as a console or a log of that width shows it.
BeforeDiscovery {
    $formatFile = Join-Path $PSScriptRoot .. .. module DbOps.format.ps1xml
    $views = foreach ($view in ([xml](Get-Content -Raw $formatFile)).Configuration.ViewDefinitions.View) {
        foreach ($width in 80, 120) { @{ View = $view.Name; TypeName = $view.ViewSelectedBy.TypeName; Width = $width } }
    }
}

BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)
    . (Join-Path $PSScriptRoot ViewObjects.ps1)

    # What a table rendered at a given width shows wrongly: a header squeezed narrower than its label (it then wraps,
    # one letter per line at worst) or values wrapped into many short lines.
    function Get-LayoutProblem([string] $Text, [string[]] $Labels, [int] $Count) {
        $lines = $Text -split "`r?`n"
        $separator = [array]::FindIndex($lines, [Predicate[string]] { param($line) $line -match '^ *-[- ]*$' })
        if ($separator -lt 0) { return 'no table header' }
        $columns = [regex]::Matches($lines[$separator], '-+')
        for ($i = 0; $i -lt $columns.Count; $i++) {
            if ($columns[$i].Length -lt $Labels[$i].Length) { return "column '$($Labels[$i])' is $($columns[$i].Length) wide: its header wraps" }
        }
        $body = @($lines[($separator + 1)..($lines.Count - 1)] | Where-Object { $_.Trim() }).Count
        if ($body -gt 6 * $Count) { return "$Count object(s) take $body lines: values wrap into fragments" }
    }
}

AfterAll {
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
}

Describe 'Default views' {
    It '<View> at <Width> columns: every shown header fits, no value wraps letter by letter' -ForEach $views {
        # @($null) has one element: a type missing from ViewObjects.ps1 must fail here, not render nothing.
        $objects = @($ViewObjects[$TypeName] | Where-Object { $null -ne $_ })
        $objects.Count | Should -BeGreaterThan 0 -Because "ViewObjects.ps1 must make a $TypeName"
        $labels = (Get-FormatData -TypeName $TypeName).FormatViewDefinition[0].Control.Headers.Label
        $text = $objects | Out-String -Width $Width
        $problem = Get-LayoutProblem $text $labels $objects.Count
        $problem | Should -BeNullOrEmpty -Because "at $Width columns it renders as:`n$text"
    }
}
