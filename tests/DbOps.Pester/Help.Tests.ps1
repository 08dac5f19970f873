# Get-Help for every cmdlet, as dbatools' tests/InModule.Help.Tests.ps1 checks it: generated from docs/cmdlets/<Name>.md
# and the parameters' XML docs by build/New-CmdletHelp.ps1, never auto-generated.
BeforeDiscovery {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)
    $commands = foreach ($command in Get-Command -Module DbOps -CommandType Cmdlet) { @{ Name = $command.Name } }
}

BeforeAll {
    . (Join-Path $PSScriptRoot TestHelpers.ps1)
    $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
}

Describe '<Name> help' -ForEach $commands {
    BeforeAll {
        $command = Get-Command $Name
        $help = Get-Help $Name -Full
    }

    It 'comes from the module''s help file' {
        Test-Path (Join-Path (Split-Path $ModuleManifest) en-US (Split-Path $command.HelpFile -Leaf)) | Should -BeTrue
        $help.Synopsis | Should -Not -BeLike '*`[`<CommonParameters`>`]*' -Because 'an auto-generated synopsis is the syntax'
    }

    It 'has a synopsis and a description' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        ($help.Description.Text -join '') | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples, each with a title and code' {
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        foreach ($example in $help.Examples.Example) {
            $example.Title | Should -Match '^--- Example \d+: \S'
            $example.Code | Should -Not -BeNullOrEmpty
        }
    }

    It 'every example parses and binds: each DbOps parameter it names exists and no argument is left over' {
        foreach ($example in $help.Examples.Example) {
            $errors = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseInput($example.Code, [ref] $null, [ref] $errors)
            $errors | Should -BeNullOrEmpty -Because $example.Title
            $calls = $ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true)
            foreach ($call in $calls | Where-Object { (Get-Command $_.GetCommandName() -ErrorAction Ignore).ModuleName -eq 'DbOps' }) {
                # Bound on its own: pwsh 7.6's static binder throws on a pipeline's later command with several pipeline parameters.
                $alone = [System.Management.Automation.Language.Parser]::ParseInput($call.Extent.Text, [ref] $null, [ref] $null).EndBlock.Statements[0].PipelineElements[0]
                $binding = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($alone, $true)
                $binding.BindingExceptions.Values.Message | Should -BeNullOrEmpty -Because "$($example.Title): $call"
            }
        }
    }

    It 'describes every parameter, with the code''s Mandatory flag, and no parameter the code lacks' {
        $parameters = $command.Parameters.Values | Where-Object Name -notin $common
        foreach ($parameter in $parameters) {
            $text = $help.Parameters.Parameter | Where-Object Name -eq $parameter.Name
            ($text.Description.Text -join '') | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) needs text"
            $text.Required | Should -Be ("$($parameter.Attributes.Where({ $_ -is [Parameter] }).Mandatory -contains $true)".ToLowerInvariant()) -Because "-$($parameter.Name)"
        }
        $help.Parameters.Parameter.Name | Where-Object { $_ -notin $parameters.Name } | Should -BeNullOrEmpty
    }

    It 'links -Online to its page in the repository' {
        $command.HelpUri | Should -Be "https://github.com/dbops-dev/DbOps/blob/main/docs/cmdlets/$Name.md"
        Test-Path (Join-Path $RepoRoot docs cmdlets "$Name.md") | Should -BeTrue
        $help.RelatedLinks.NavigationLink.Uri | Should -Contain $command.HelpUri
    }
}
