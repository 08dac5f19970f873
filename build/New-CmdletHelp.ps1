<#
.SYNOPSIS
    Writes the module's MAML help (en-US/<cmdlet assembly>-Help.xml) from its one source: docs/cmdlets/<Name>.md for
    the synopsis, description and examples, the parameters' XML doc summaries for the parameter text.
.DESCRIPTION
    Run by the build (src/DbOps.PowerShell/DbOps.PowerShell.csproj, target GenerateCmdletHelp) on the staged module.
    A page is read as:
        # <Name>
        <synopsis: the first paragraph>
        ```<syntax>```
        <description: everything up to the first "## " heading; fenced blocks are kept, indented>
        ## Examples
        ### <title>           one per example: text (the remarks) and one ```powershell block (the code)
    Syntax, parameter attributes and types come from the cmdlets themselves (Get-Command); the -Online link is the
    cmdlet's HelpUri. A page or a parameter text that is missing stops the build.
#>
param(
    [Parameter(Mandatory)][string] $ModuleManifest,
    [Parameter(Mandatory)][string] $XmlDocPath,
    [string] $DocsFolder = (Join-Path $PSScriptRoot .. docs cmdlets)
)
$ErrorActionPreference = 'Stop'

# Markdown inline markup as plain text: **bold**, `code`, [text](link).
function ConvertTo-PlainText([string] $Text) {
    $Text -replace '\*\*', '' -replace '`', '' -replace '\[([^\]]+)\]\([^)]+\)', '$1'
}

# Paragraphs of Markdown lines: prose lines join into one paragraph; list items and table rows stay one per paragraph;
# a fenced block becomes one paragraph per line, indented, so Get-Help keeps its layout.
function ConvertTo-Paragraphs([string[]] $Lines) {
    $paragraphs = [System.Collections.Generic.List[string]]::new()
    $prose = [System.Collections.Generic.List[string]]::new()
    $fenced = $false
    $flush = { if ($prose.Count) { $paragraphs.Add((ConvertTo-PlainText ($prose -join ' '))); $prose.Clear() } }
    foreach ($line in $Lines) {
        if ($line -match '^```') { . $flush; $fenced = -not $fenced; continue }
        if ($fenced) { $paragraphs.Add('    ' + $line); continue }
        if (-not $line.Trim()) { . $flush; continue }
        if ($line -match '^\|\s*-') { continue } # a table's header separator
        if ($line -match '^\s*(- |\|)') {
            . $flush
            $row = $line.Trim() -replace '^- ', '' -replace '^\|\s*|\s*\|$', '' -replace '\s*\|\s*', ' | '
            $paragraphs.Add((ConvertTo-PlainText ($line -match '^\s*- ' ? "- $row" : $row)))
            continue
        }
        if ($line -match '^\s{2,}\S' -and $paragraphs.Count -and $paragraphs[-1] -match '^- ' -and -not $prose.Count) {
            $paragraphs[-1] += ' ' + (ConvertTo-PlainText $line.Trim()) # a list item's continuation line
            continue
        }
        $prose.Add($line.Trim())
    }
    . $flush
    $paragraphs
}

function Read-CmdletPage([string] $Path) {
    $lines = Get-Content $Path
    $name = (Split-Path $Path -LeafBase)
    if ($lines[0] -ne "# $name") { throw "$Path must start with '# $name'." }
    $fences = @(0..($lines.Count - 1) | Where-Object { $lines[$_] -match '^```' })
    $headings = @(0..($lines.Count - 1) | Where-Object { $lines[$_] -match '^## ' })
    $firstHeading = $headings ? $headings[0] : $lines.Count
    $synopsis = ConvertTo-Paragraphs $lines[1..($fences[0] - 1)]
    if (@($synopsis).Count -ne 1) { throw "$Path`: the synopsis is one paragraph between the title and the syntax block." }
    $descriptionStart = $fences[1] + 1
    $description = $descriptionStart -lt $firstHeading ? @(ConvertTo-Paragraphs $lines[$descriptionStart..($firstHeading - 1)]) : @()

    $examples = @()
    $start = [array]::IndexOf($lines, '## Examples')
    if ($start -ge 0) {
        $end = @($headings | Where-Object { $_ -gt $start })[0] ?? $lines.Count
        $current = $null
        $inCode = $false
        foreach ($line in $lines[($start + 1)..($end - 1)]) {
            if ($line -match '^### (.+)') {
                $current = [pscustomobject]@{ Title = $Matches[1]; Code = [System.Collections.Generic.List[string]]::new(); Remarks = [System.Collections.Generic.List[string]]::new() }
                $examples += $current
            }
            elseif ($line -eq '```powershell') { $inCode = $true }
            elseif ($inCode -and $line -eq '```') { $inCode = $false }
            elseif ($inCode) { $current.Code.Add($line) }
            elseif ($current) { $current.Remarks.Add($line) }
        }
    }
    [pscustomobject]@{ Synopsis = $synopsis; Description = $description; Examples = $examples }
}

# The text of an XML doc summary: <c>, <see cref>, <paramref> as their names.
function Get-DocText([System.Xml.XmlNode] $Node) {
    $text = foreach ($child in $Node.ChildNodes) {
        switch ($child.LocalName) {
            'see' { ($child.cref ?? $child.langword) -replace '^.*[.:]', '' }
            'paramref' { $child.name }
            default { $child.NodeType -eq 'Text' ? $child.Value : (Get-DocText $child) }
        }
    }
    (($text -join '') -replace '\s+', ' ').Trim()
}

$docs = @{}
foreach ($member in ([xml](Get-Content -Raw $XmlDocPath)).doc.members.member) { $docs[$member.name] = $member }

$module = Import-Module $ModuleManifest -PassThru
$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
$commands = Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name
$helpFiles = @($commands.HelpFile | Sort-Object -Unique)
if ($helpFiles.Count -ne 1) { throw "The cmdlets name more than one help file: $helpFiles" }
$output = Join-Path $module.ModuleBase en-US $helpFiles[0]

$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$xml = [System.Xml.XmlWriter]::Create($output, $settings)
$maml = 'http://schemas.microsoft.com/maml/2004/10'
$cmd = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'

function Write-Paragraphs([string] $Element, [string] $Namespace, [string[]] $Paragraphs) {
    $xml.WriteStartElement($Element, $Namespace)
    foreach ($p in $Paragraphs) { $xml.WriteElementString('para', $maml, $p) }
    $xml.WriteEndElement()
}

function Write-Parameter($Command, $Parameter, $SetInfo, [switch] $InSyntax) {
    $attribute = @($Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
    $set = $SetInfo ? @($attribute | Where-Object ParameterSetName -in $SetInfo.Name, '__AllParameterSets')[0] : $attribute[0]
    $pipeline = @(if ($attribute.ValueFromPipeline -contains $true) { 'ByValue' }; if ($attribute.ValueFromPipelineByPropertyName -contains $true) { 'ByPropertyName' })
    $position = $set.Position -ge 0 ? "$($set.Position)" : 'named'
    $required = $SetInfo ? $set.Mandatory : ($attribute.Mandatory -contains $true)
    $property = $Command.ImplementingType.GetProperty($Parameter.Name)
    $member = $docs["P:$($property.DeclaringType.FullName).$($property.Name)"]
    $summary = $member ? $member.SelectSingleNode('summary') : $null
    if (-not $summary) { throw "$($Command.Name) -$($Parameter.Name) has no XML doc summary to show as its help." }
    $type = $Parameter.ParameterType

    $xml.WriteStartElement('parameter', $cmd)
    $xml.WriteAttributeString('required', "$required".ToLowerInvariant())
    $xml.WriteAttributeString('variableLength', "$($type.IsArray)".ToLowerInvariant())
    $xml.WriteAttributeString('globbing', 'false')
    $xml.WriteAttributeString('pipelineInput', $pipeline ? "True ($($pipeline -join ', '))" : 'False')
    $xml.WriteAttributeString('position', $position)
    $xml.WriteAttributeString('aliases', $Parameter.Aliases.Count ? ($Parameter.Aliases -join ', ') : 'none')
    $xml.WriteElementString('name', $maml, $Parameter.Name)
    Write-Paragraphs 'description' $maml (Get-DocText $summary)
    if ($type -ne [switch]) {
        $xml.WriteStartElement('parameterValue', $cmd)
        $xml.WriteAttributeString('required', 'true')
        $xml.WriteAttributeString('variableLength', "$($type.IsArray)".ToLowerInvariant())
        $xml.WriteString($type.Name)
        $xml.WriteEndElement()
    }
    if (-not $InSyntax) {
        $xml.WriteStartElement('type', $dev)
        $xml.WriteElementString('name', $maml, $type.FullName)
        $xml.WriteEndElement()
        $xml.WriteElementString('defaultValue', $dev, 'None')
    }
    $xml.WriteEndElement()
}

$xml.WriteStartElement('helpItems', 'http://msh')
$xml.WriteAttributeString('schema', 'maml')
foreach ($command in $commands) {
    $page = Join-Path $DocsFolder "$($command.Name).md"
    if (-not (Test-Path $page)) { throw "$($command.Name) has no page $page to build its help from." }
    $help = Read-CmdletPage $page
    $parameters = @($command.Parameters.Values | Where-Object Name -notin $common)

    $xml.WriteStartElement('command', 'command', $cmd)
    $xml.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $xml.WriteAttributeString('xmlns', 'dev', $null, $dev)
    $xml.WriteStartElement('details', $cmd)
    $xml.WriteElementString('name', $cmd, $command.Name)
    $xml.WriteElementString('verb', $cmd, $command.Verb)
    $xml.WriteElementString('noun', $cmd, $command.Noun)
    Write-Paragraphs 'description' $maml $help.Synopsis
    $xml.WriteEndElement()
    Write-Paragraphs 'description' $maml $help.Description

    $xml.WriteStartElement('syntax', $cmd)
    foreach ($set in $command.ParameterSets) {
        $xml.WriteStartElement('syntaxItem', $cmd)
        $xml.WriteElementString('name', $maml, $command.Name)
        foreach ($parameter in $set.Parameters | Where-Object Name -notin $common | Sort-Object { $_.Position -lt 0 }, Position) {
            Write-Parameter $command $command.Parameters[$parameter.Name] $set -InSyntax
        }
        $xml.WriteEndElement()
    }
    $xml.WriteEndElement()

    $xml.WriteStartElement('parameters', $cmd)
    foreach ($parameter in $parameters) { Write-Parameter $command $parameter $null }
    $xml.WriteEndElement()

    $xml.WriteStartElement('returnValues', $cmd)
    foreach ($type in $command.OutputType.Type) {
        $xml.WriteStartElement('returnValue', $cmd)
        $xml.WriteStartElement('type', $dev)
        $xml.WriteElementString('name', $maml, $type.FullName)
        $xml.WriteEndElement()
        $xml.WriteEndElement()
    }
    $xml.WriteEndElement()

    $xml.WriteStartElement('examples', $cmd)
    $number = 0
    foreach ($example in $help.Examples) {
        $number++
        $xml.WriteStartElement('example', $cmd)
        $xml.WriteElementString('title', $maml, "--- Example $number`: $($example.Title) ---")
        $xml.WriteElementString('code', $dev, ($example.Code -join "`n"))
        Write-Paragraphs 'remarks' $dev (ConvertTo-Paragraphs $example.Remarks)
        $xml.WriteEndElement()
    }
    $xml.WriteEndElement()

    $xml.WriteStartElement('relatedLinks', $cmd)
    $xml.WriteStartElement('navigationLink', $maml)
    $xml.WriteElementString('linkText', $maml, 'Online Version:')
    $xml.WriteElementString('uri', $maml, $command.HelpUri)
    $xml.WriteEndElement()
    $xml.WriteEndElement()
    $xml.WriteEndElement()
}
$xml.WriteEndElement()
$xml.Dispose()
Write-Host "Cmdlet help for $($commands.Count) cmdlets written to $output"
