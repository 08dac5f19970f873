using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace DbOps.Runner;

/// <summary>The PSHost the runbook sees as $Host: console output, prompts and the exit code from <c>exit N</c>.</summary>
internal sealed class RunnerHost(bool interactive) : PSHost
{
    /// <summary>The code the script passed to <c>exit</c>, or null if it did not call exit.</summary>
    public int? ExitCode { get; private set; }

    /// <inheritdoc />
    public override string Name => "DbOps.Runner";

    /// <inheritdoc />
    public override Version Version { get; } = typeof(RunnerHost).Assembly.GetName().Version ?? new Version(0, 0);

    /// <inheritdoc />
    public override Guid InstanceId { get; } = Guid.NewGuid();

    /// <inheritdoc />
    public override CultureInfo CurrentCulture => CultureInfo.CurrentCulture;

    /// <inheritdoc />
    public override CultureInfo CurrentUICulture => CultureInfo.CurrentUICulture;

    /// <inheritdoc />
    public override PSHostUserInterface UI { get; } = new RunnerHostUserInterface(interactive);

    /// <summary>Called by the engine when <c>exit N</c> ends the run.</summary>
    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;

    /// <summary>A runbook run has no interactive shell to nest into (the confirm prompt's [S] Suspend lands here).</summary>
    public override void EnterNestedPrompt() =>
        throw new NotSupportedException("DbOps.Runner has no nested prompt: there is no interactive shell to suspend into.");

    /// <inheritdoc />
    public override void ExitNestedPrompt() =>
        throw new NotSupportedException("DbOps.Runner has no nested prompt.");

    /// <inheritdoc />
    public override void NotifyBeginApplication()
    {
    }

    /// <inheritdoc />
    public override void NotifyEndApplication()
    {
    }
}

/// <summary>
/// Console output for the runbook. Results and Write-Host go to stdout; errors, warnings, verbose, debug, progress
/// and prompts go to stderr, so stdout stays the runbook's output when a scheduler captures it.
/// </summary>
internal sealed class RunnerHostUserInterface(bool interactive) : PSHostUserInterface
{
    private static readonly bool s_noColor = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
    private static readonly bool s_stdoutColor = !Console.IsOutputRedirected && !s_noColor;
    private static readonly bool s_stderrColor = !Console.IsErrorRedirected && !s_noColor;

    private readonly RunnerRawUserInterface _rawUI = new(interactive);
    private readonly Lock _gate = new();
    private bool _progressShown;

    /// <inheritdoc />
    public override PSHostRawUserInterface RawUI => _rawUI;

    /// <summary>True when stdout is a terminal (and NO_COLOR is unset): the engine's $PSStyle escapes are kept only then.</summary>
    public override bool SupportsVirtualTerminal => s_stdoutColor;

    /// <inheritdoc />
    public override void Write(string value) => Out(toStderr: false, value, color: null);

    /// <summary>Writes in colour only when stdout is a terminal and the colours differ from the defaults.</summary>
    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value)
    {
        var color = s_stdoutColor ? Sgr(foregroundColor, backgroundColor) : null;
        Out(toStderr: false, value, color);
    }

    /// <inheritdoc />
    public override void WriteLine(string value) => Write(value + Environment.NewLine);

    /// <inheritdoc />
    public override void WriteErrorLine(string value) => Err(value, ConsoleColor.Red);

    /// <inheritdoc />
    public override void WriteWarningLine(string message) => Err("WARNING: " + message, ConsoleColor.Yellow);

    /// <inheritdoc />
    public override void WriteVerboseLine(string message) => Err("VERBOSE: " + message, ConsoleColor.Yellow);

    /// <inheritdoc />
    public override void WriteDebugLine(string message) => Err("DEBUG: " + message, ConsoleColor.Yellow);

    /// <summary>
    /// Deliberately prints nothing: the engine passes every information record here, shown or not, and itself
    /// prints the ones $InformationPreference (or Write-Host's PSHOST tag) asks for through Write/WriteLine.
    /// </summary>
    public override void WriteInformation(InformationRecord record)
    {
    }

    /// <summary>
    /// One self-overwriting line on a terminal's stderr; nothing when stderr is redirected, where repeated
    /// progress lines would only bury the log.
    /// </summary>
    public override void WriteProgress(long sourceId, ProgressRecord record)
    {
        if (Console.IsErrorRedirected)
        {
            return;
        }

        lock (_gate)
        {
            if (record.RecordType == ProgressRecordType.Completed)
            {
                ClearProgress();
                return;
            }

            var line = record.PercentComplete >= 0
                ? $"{record.Activity}: {record.StatusDescription} [{record.PercentComplete}%]"
                : $"{record.Activity}: {record.StatusDescription}";
            var width = Math.Max(_rawUI.BufferSize.Width - 1, 1);
            line = line.Length > width ? line[..width] : line.PadRight(width);
            Console.Error.Write("\r" + line);
            _progressShown = true;
        }
    }

    /// <summary>Answers from stdin on a terminal; fails closed when no one can answer (see <see cref="NoAnswer"/>).</summary>
    public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
    {
        var options = choices.Select(c => (Label: c.Label.Replace("&", string.Empty, StringComparison.Ordinal), Hotkey: Hotkey(c.Label))).ToList();
        var menu = string.Join("  ", options.Select(o => $"[{o.Hotkey}] {o.Label}")) + "  [?] Help";
        if (defaultChoice >= 0 && defaultChoice < options.Count)
        {
            menu += $" (default is \"{options[defaultChoice].Hotkey}\")";
        }

        WritePromptHeader(caption, message);
        if (!interactive)
        {
            Err(menu, color: null);
            throw NoAnswer("a choice");
        }

        while (true)
        {
            var answer = Ask(menu + ": ").Trim();
            if (answer.Length == 0 && defaultChoice >= 0)
            {
                return defaultChoice;
            }

            if (answer == "?")
            {
                foreach (var (choice, option) in choices.Zip(options))
                {
                    Err($"{option.Hotkey} - {choice.HelpMessage}", color: null);
                }

                continue;
            }

            var index = options.FindIndex(o => answer.Equals(o.Hotkey, StringComparison.OrdinalIgnoreCase)
                || answer.Equals(o.Label, StringComparison.OrdinalIgnoreCase));
            if (index >= 0)
            {
                return index;
            }
        }
    }

    /// <summary>Asks for each field on a terminal (mandatory parameters the script left out land here).</summary>
    public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions)
    {
        WritePromptHeader(caption, message);
        if (!interactive)
        {
            throw NoAnswer("values for " + string.Join(", ", descriptions.Select(d => d.Name)));
        }

        var answers = new Dictionary<string, PSObject>();
        foreach (var field in descriptions)
        {
            var label = string.IsNullOrEmpty(field.Label) ? field.Name : field.Label.Replace("&", string.Empty, StringComparison.Ordinal);
            object value = field.ParameterTypeFullName switch
            {
                "System.Security.SecureString" => AskSecret(label + ": "),
                "System.Management.Automation.PSCredential" => PromptForCredential(caption, message, string.Empty, string.Empty),
                _ => Ask(label + ": "),
            };
            answers[field.Name] = PSObject.AsPSObject(value);
        }

        return answers;
    }

    /// <inheritdoc />
    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
        PromptForCredential(caption, message, userName, targetName, PSCredentialTypes.Default, PSCredentialUIOptions.Default);

    /// <summary>Reads the user name (unless given) and the password without echo, on a terminal only.</summary>
    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
        PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options)
    {
        WritePromptHeader(caption, message);
        if (!interactive)
        {
            throw NoAnswer("a credential");
        }

        if (string.IsNullOrEmpty(userName))
        {
            userName = Ask("User: ");
        }

        return new PSCredential(userName, AskSecret($"Password for user {userName}: "));
    }

    /// <inheritdoc />
    public override string ReadLine()
    {
        if (!interactive)
        {
            throw NoAnswer("a line of input");
        }

        return ReadAnswer();
    }

    /// <inheritdoc />
    public override SecureString ReadLineAsSecureString()
    {
        if (!interactive)
        {
            throw NoAnswer("a secret");
        }

        return ReadSecret();
    }

    /// <summary>
    /// A scheduled run has no one to answer. Taking the default would silently say Yes to ConfirmImpact=High
    /// prompts (Restore-Database confirms automatically), so the command fails instead, as under pwsh -NonInteractive.
    /// </summary>
    private static HostException NoAnswer(string what) => new(
        $"DbOps.Runner needs {what} but runs non-interactively (stdin redirected, --non-interactive or CI=true), so no one can answer. " +
        "Pass the value as a parameter, or -Confirm:$false to proceed without confirmation.",
        innerException: null, "NonInteractivePrompt", ErrorCategory.InvalidOperation);

    private static string Hotkey(string label)
    {
        var amp = label.IndexOf('&', StringComparison.Ordinal);
        return amp >= 0 && amp + 1 < label.Length
            ? char.ToUpperInvariant(label[amp + 1]).ToString()
            : label[..Math.Min(1, label.Length)].ToUpperInvariant();
    }

    private void WritePromptHeader(string caption, string message)
    {
        if (!string.IsNullOrEmpty(caption))
        {
            Err(caption, color: null);
        }

        if (!string.IsNullOrEmpty(message))
        {
            Err(message, color: null);
        }
    }

    private string Ask(string prompt)
    {
        Out(toStderr: true, prompt, color: null);
        return ReadAnswer();
    }

    private static string ReadAnswer() =>
        Console.ReadLine() ?? throw new HostException("Standard input was closed while DbOps.Runner was waiting for an answer.",
            innerException: null, "InputClosed", ErrorCategory.ReadError);

    private SecureString AskSecret(string prompt)
    {
        Out(toStderr: true, prompt, color: null);
        return ReadSecret();
    }

    private static SecureString ReadSecret()
    {
        var secret = new SecureString();
        for (var key = Console.ReadKey(intercept: true); key.Key != ConsoleKey.Enter; key = Console.ReadKey(intercept: true))
        {
            if (key.Key == ConsoleKey.Backspace)
            {
                if (secret.Length > 0)
                {
                    secret.RemoveAt(secret.Length - 1);
                }
            }
            else if (key.KeyChar != '\0')
            {
                secret.AppendChar(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        secret.MakeReadOnly();
        return secret;
    }

    private void Err(string line, ConsoleColor? color) =>
        Out(toStderr: true, line, s_stderrColor && color is { } c ? Sgr(c, null) : null, newLine: true);

    private void Out(bool toStderr, string text, string? color, bool newLine = false)
    {
        // Formatted output carries $PSStyle escapes (table headers); like pwsh's console host, drop them when the
        // stream is not a terminal so logs stay plain text ($PSStyle.OutputRendering can still force either way).
        text = GetOutputString(text, supportsVirtualTerminal: toStderr ? s_stderrColor : s_stdoutColor);
        var writer = toStderr ? Console.Error : Console.Out;
        lock (_gate)
        {
            // A progress line left on the terminal would run into this output.
            ClearProgress();
            writer.Write(color is null ? text : color + text + "\e[0m");
            if (newLine)
            {
                writer.WriteLine();
            }

            writer.Flush();
        }
    }

    private void ClearProgress()
    {
        if (_progressShown)
        {
            Console.Error.Write("\r" + new string(' ', Math.Max(_rawUI.BufferSize.Width - 1, 1)) + "\r");
            _progressShown = false;
        }
    }

    // ANSI escapes rather than Console.ForegroundColor: .NET sends those to the stdout terminal even when the text
    // goes to stderr. Colours equal to RawUI's defaults mean "not chosen" (Write-Host without -ForegroundColor).
    private string? Sgr(ConsoleColor foreground, ConsoleColor? background)
    {
        var codes = new List<int>();
        if (foreground != _rawUI.ForegroundColor)
        {
            codes.Add(AnsiCode(foreground));
        }

        if (background is { } bg && bg != _rawUI.BackgroundColor)
        {
            codes.Add(AnsiCode(bg) + 10);
        }

        return codes.Count == 0 ? null : $"\e[{string.Join(';', codes)}m";
    }

    private static int AnsiCode(ConsoleColor color) => color switch
    {
        ConsoleColor.Black => 30,
        ConsoleColor.DarkRed => 31,
        ConsoleColor.DarkGreen => 32,
        ConsoleColor.DarkYellow => 33,
        ConsoleColor.DarkBlue => 34,
        ConsoleColor.DarkMagenta => 35,
        ConsoleColor.DarkCyan => 36,
        ConsoleColor.Gray => 37,
        ConsoleColor.DarkGray => 90,
        ConsoleColor.Red => 91,
        ConsoleColor.Green => 92,
        ConsoleColor.Yellow => 93,
        ConsoleColor.Blue => 94,
        ConsoleColor.Magenta => 95,
        ConsoleColor.Cyan => 96,
        _ => 97,
    };
}

/// <summary>
/// The console geometry the formatter asks for. There is no screen buffer to read or draw into: a runbook's
/// output is a stream of lines, often into a log file.
/// </summary>
internal sealed class RunnerRawUserInterface(bool interactive) : PSHostRawUserInterface
{
    // Out-Default lays tables out to this width; 120 keeps redirected logs readable without truncating columns early.
    private const int RedirectedWidth = 120;

    /// <inheritdoc />
    public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;

    /// <inheritdoc />
    public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;

    /// <summary>The terminal's width on a terminal, else 120; setting it is ignored.</summary>
    public override Size BufferSize
    {
        get => new(Width, short.MaxValue);
        set { }
    }

    /// <inheritdoc />
    public override Coordinates CursorPosition { get; set; }

    /// <inheritdoc />
    public override int CursorSize { get; set; } = 25;

    /// <inheritdoc />
    public override bool KeyAvailable => interactive && Console.KeyAvailable;

    /// <inheritdoc />
    public override Size MaxPhysicalWindowSize => WindowSize;

    /// <inheritdoc />
    public override Size MaxWindowSize => WindowSize;

    /// <inheritdoc />
    public override Coordinates WindowPosition { get; set; }

    /// <summary>The terminal's size on a terminal, else 120 by 50; setting it is ignored.</summary>
    public override Size WindowSize
    {
        get => new(Width, Console.IsOutputRedirected ? 50 : Math.Max(Console.WindowHeight, 1));
        set { }
    }

    /// <summary>Kept in memory only: retitling the operator's terminal is not the runner's business.</summary>
    public override string WindowTitle { get; set; } = "DbOps.Runner";

    private static int Width
    {
        get
        {
            var width = Console.IsOutputRedirected ? 0 : Console.WindowWidth;
            return width > 0 ? width : RedirectedWidth;
        }
    }

    /// <inheritdoc />
    public override void FlushInputBuffer()
    {
    }

    /// <summary>Reads a key on a terminal.</summary>
    public override KeyInfo ReadKey(ReadKeyOptions options)
    {
        if (!interactive)
        {
            throw new HostException("DbOps.Runner cannot read a key: it runs non-interactively.", innerException: null,
                "NonInteractivePrompt", ErrorCategory.InvalidOperation);
        }

        var key = Console.ReadKey(intercept: options.HasFlag(ReadKeyOptions.NoEcho));
        var state = default(ControlKeyStates);
        if (key.Modifiers.HasFlag(ConsoleModifiers.Shift))
        {
            state |= ControlKeyStates.ShiftPressed;
        }

        if (key.Modifiers.HasFlag(ConsoleModifiers.Alt))
        {
            state |= ControlKeyStates.LeftAltPressed;
        }

        if (key.Modifiers.HasFlag(ConsoleModifiers.Control))
        {
            state |= ControlKeyStates.LeftCtrlPressed;
        }

        return new KeyInfo((int)key.Key, key.KeyChar, state, keyDown: true);
    }

    /// <inheritdoc />
    public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw NoBuffer();

    /// <inheritdoc />
    public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) => throw NoBuffer();

    /// <inheritdoc />
    public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) => throw NoBuffer();

    /// <inheritdoc />
    public override void SetBufferContents(Rectangle rectangle, BufferCell fill) => throw NoBuffer();

    private static NotSupportedException NoBuffer() =>
        new("DbOps.Runner writes lines to stdout/stderr; it has no screen buffer to read or draw into.");
}
