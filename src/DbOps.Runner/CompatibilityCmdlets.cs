// The commands DbOps.Runner adds to the hosted engine, and why.
//
// System.Management.Automation 7.6.9 is the only PowerShell engine that NuGet serves. It ships only the Core
// cmdlets. Reflection over every Cmdlet type in that assembly finds five formatting/output cmdlets: Format-Default,
// Out-Default, Out-Host, Out-LineOutput and Out-Null. InitialSessionState.CreateDefault2() already registers all
// five, so there is nothing to borrow from the engine. Format-Table, Format-List, Format-Wide, Format-Custom,
// Out-String, Select-/Sort-/Measure-Object, the Write-* cmdlets and the Management cmdlets (Join-Path,
// Test-Path, ...) all live in Microsoft.PowerShell.Commands.Utility/Management, which no registry we can reach serves.
//
// Runbooks report to the operator with Write-*, so the runner adds exactly these five. They take pwsh's parameters
// and write to pwsh's streams, so a runbook behaves the same under pwsh and under the runner:
//   Write-Host     an information record tagged PSHOST, as pwsh does; the host prints it (in colour on a terminal).
//   Write-Output   objects to the success stream (also what the built-in `echo` alias points at).
//   Write-Warning, Write-Verbose, Write-Error   the warning, verbose and error streams.
// Nothing else is imitated. A runbook that needs another missing command fails under the runner with
// CommandNotFoundException instead of running against a look-alike that behaves slightly differently.

using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;

namespace DbOps.Runner;

/// <summary>The session-state entries for the commands the runner adds (see the note at the top of this file).</summary>
internal static class CompatibilityCmdlets
{
    /// <summary>Entries to add to <see cref="InitialSessionState.Commands"/>.</summary>
    public static IEnumerable<SessionStateCmdletEntry> Entries { get; } =
    [
        new("Write-Host", typeof(WriteHostCommand), helpFileName: null),
        new("Write-Output", typeof(WriteOutputCommand), helpFileName: null),
        new("Write-Warning", typeof(WriteWarningCommand), helpFileName: null),
        new("Write-Verbose", typeof(WriteVerboseCommand), helpFileName: null),
        new("Write-Error", typeof(WriteErrorCommand), helpFileName: null),
    ];
}

/// <summary>Write-Host, as in pwsh: writes to the host through the information stream.</summary>
[Cmdlet(VerbsCommunications.Write, "Host")]
public sealed class WriteHostCommand : PSCmdlet
{
    /// <summary>What to write. Collections are written item by item, joined by <see cref="Separator"/>.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromRemainingArguments = true)]
    [Alias("Msg", "Message")]
    public object? Object { get; set; }

    /// <summary>Leaves the cursor on the same line.</summary>
    [Parameter]
    public SwitchParameter NoNewline { get; set; }

    /// <summary>Written between the items of a collection.</summary>
    [Parameter]
    public object Separator { get; set; } = " ";

    /// <summary>Text colour; only shown when standard output is a terminal.</summary>
    [Parameter]
    public ConsoleColor ForegroundColor
    {
        get => _foreground ?? default;
        set => _foreground = value;
    }

    /// <summary>Background colour; only shown when standard output is a terminal.</summary>
    [Parameter]
    public ConsoleColor BackgroundColor
    {
        get => _background ?? default;
        set => _background = value;
    }

    private ConsoleColor? _foreground;
    private ConsoleColor? _background;

    /// <summary>Writes one information record per input, as pwsh's Write-Host does, so 6> redirection works too.</summary>
    protected override void ProcessRecord()
    {
        var message = new HostInformationMessage
        {
            Message = Render(Object) ?? string.Empty,
            NoNewLine = NoNewline.IsPresent,
            ForegroundColor = _foreground,
            BackgroundColor = _background,
        };
        WriteInformation(message, ["PSHOST"]);
    }

    // pwsh's rule: strings as they are, enumerables flattened with the separator, everything else by ToString().
    private string? Render(object? value)
    {
        switch (value)
        {
            case null:
                return null;
            case string text:
                return text;
            case PSObject { BaseObject: string text }:
                return text;
            case IEnumerable items:
                var result = new StringBuilder();
                var first = true;
                foreach (var item in items)
                {
                    if (!first)
                    {
                        result.Append(Separator);
                    }

                    result.Append(Render(item));
                    first = false;
                }

                return result.ToString();
            default:
                return value.ToString();
        }
    }
}

/// <summary>Write-Output, as in pwsh: sends objects down the pipeline.</summary>
[Cmdlet(VerbsCommunications.Write, "Output")]
public sealed class WriteOutputCommand : PSCmdlet
{
    /// <summary>The objects to send.</summary>
    [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true, ValueFromRemainingArguments = true)]
    [AllowNull]
    [AllowEmptyCollection]
    public PSObject? InputObject { get; set; }

    /// <summary>Sends a collection as one object instead of item by item.</summary>
    [Parameter]
    public SwitchParameter NoEnumerate { get; set; }

    /// <summary>Writes the input, enumerated unless -NoEnumerate.</summary>
    protected override void ProcessRecord() => WriteObject(InputObject, enumerateCollection: !NoEnumerate.IsPresent);
}

/// <summary>Write-Warning, as in pwsh.</summary>
[Cmdlet(VerbsCommunications.Write, "Warning")]
public sealed class WriteWarningCommand : PSCmdlet
{
    /// <summary>The warning text.</summary>
    [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true)]
    [AllowEmptyString]
    [Alias("Msg")]
    public string Message { get; set; } = string.Empty;

    /// <summary>Writes the warning; $WarningPreference and -WarningAction decide whether it is shown.</summary>
    protected override void ProcessRecord() => WriteWarning(Message);
}

/// <summary>Write-Verbose, as in pwsh.</summary>
[Cmdlet(VerbsCommunications.Write, "Verbose")]
public sealed class WriteVerboseCommand : PSCmdlet
{
    /// <summary>The verbose text.</summary>
    [Parameter(Position = 0, Mandatory = true, ValueFromPipeline = true)]
    [AllowEmptyString]
    [Alias("Msg")]
    public string Message { get; set; } = string.Empty;

    /// <summary>Writes the message; $VerbosePreference and -Verbose decide whether it is shown.</summary>
    protected override void ProcessRecord() => WriteVerbose(Message);
}

/// <summary>Write-Error, as in pwsh: writes a non-terminating error record.</summary>
[Cmdlet(VerbsCommunications.Write, "Error", DefaultParameterSetName = MessageSet)]
public sealed class WriteErrorCommand : PSCmdlet
{
    private const string MessageSet = "NoException";
    private const string ExceptionSet = "WithException";
    private const string ErrorRecordSet = "ErrorRecord";

    /// <summary>The error message.</summary>
    [Parameter(ParameterSetName = MessageSet, Position = 0, Mandatory = true, ValueFromPipeline = true)]
    [Parameter(ParameterSetName = ExceptionSet)]
    [AllowNull]
    [AllowEmptyString]
    [Alias("Msg")]
    public string? Message { get; set; }

    /// <summary>The exception the error record carries.</summary>
    [Parameter(ParameterSetName = ExceptionSet, Mandatory = true)]
    public Exception? Exception { get; set; }

    /// <summary>An existing error record to write as it is.</summary>
    [Parameter(ParameterSetName = ErrorRecordSet, Mandatory = true)]
    public ErrorRecord? ErrorRecord { get; set; }

    /// <summary>The error category.</summary>
    [Parameter(ParameterSetName = MessageSet)]
    [Parameter(ParameterSetName = ExceptionSet)]
    public ErrorCategory Category { get; set; } = ErrorCategory.NotSpecified;

    /// <summary>The error id; pwsh's default id when omitted, so scripts that match on it keep working.</summary>
    [Parameter(ParameterSetName = MessageSet)]
    [Parameter(ParameterSetName = ExceptionSet)]
    public string ErrorId { get; set; } = "Microsoft.PowerShell.Commands.WriteErrorException";

    /// <summary>The object the error is about.</summary>
    [Parameter(ParameterSetName = MessageSet)]
    [Parameter(ParameterSetName = ExceptionSet)]
    public object? TargetObject { get; set; }

    /// <summary>Writes the error record; $ErrorActionPreference and -ErrorAction decide what happens next.</summary>
    protected override void ProcessRecord()
    {
        if (ErrorRecord is not null)
        {
            WriteError(ErrorRecord);
            return;
        }

        var exception = Exception ?? new WriteErrorException(Message ?? string.Empty);
        var record = new ErrorRecord(exception, ErrorId, Category, TargetObject);
        if (Exception is not null && !string.IsNullOrEmpty(Message))
        {
            record.ErrorDetails = new ErrorDetails(Message);
        }

        WriteError(record);
    }
}

/// <summary>The exception behind a Write-Error -Message record (pwsh has a type of the same name).</summary>
internal sealed class WriteErrorException(string message) : Exception(message);
