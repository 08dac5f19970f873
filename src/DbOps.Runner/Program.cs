using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Reflection;
using Microsoft.PowerShell;

namespace DbOps.Runner;

/// <summary>
/// Runs one runbook on an in-process PowerShell engine with the DbOps module imported, the way
/// <c>pwsh -NoProfile -File runbook.ps1 args...</c> would, and turns the outcome into an exit code for schedulers.
/// </summary>
internal static class Program
{
    private const int Succeeded = 0;
    private const int Failed = 1;
    private const int UsageError = 2;
    private const int Interrupted = 130; // 128 + SIGINT, what shells report for Ctrl+C.

    private const string BuildHint = "build it with: dotnet build DbOps.sln -c Release";

    private static readonly string Usage = $"""
        DbOps.Runner: runs a DbOps runbook (.ps1) on machines without pwsh.

        Usage:
          dotnet run --project src/DbOps.Runner -- [options] <script.ps1> [script arguments...]
          DbOps.Runner [options] <script.ps1> [script arguments...]

        Options (before the script path):
          --module <path>     DbOps.psd1 to import. Default: $DBOPS_MODULE_PATH, else the module built
                              with this runner: {DefaultModulePath ?? "(none baked in)"}
          --non-interactive   Never prompt: a prompt (e.g. a -Confirm question) fails the command instead.
                              Also in effect when stdin is redirected or CI=true.
          -h, --help          Show this help.

        Script arguments bind as with pwsh -File: -Name value, -Switch, -Switch:$false, positional values.
        The script runs with the current directory as its location; $PSScriptRoot is the script's folder.
        Added for runbook compatibility: Write-Host, Write-Output, Write-Warning, Write-Verbose, Write-Error.

        Exit codes: 0 success; 1 the script wrote an error or threw; N the script ran `exit N`;
                    2 usage error or module not found; 130 stopped with Ctrl+C.

        """;

    private static string? DefaultModulePath =>
        typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "DbOpsModulePath")?.Value;

    private static int Main(string[] args)
    {
        if (!TryParse(args, out var options, out var problem))
        {
            Console.Error.WriteLine($"DbOps.Runner: {problem}");
            Console.Error.WriteLine("Run with --help for usage.");
            return UsageError;
        }

        if (options is null)
        {
            Console.Out.Write(Usage);
            return Succeeded;
        }

        var (modulePath, source) = options.Module is not null ? (options.Module, "--module")
            : Environment.GetEnvironmentVariable("DBOPS_MODULE_PATH") is { Length: > 0 } fromEnv ? (fromEnv, "DBOPS_MODULE_PATH")
            : (DefaultModulePath ?? string.Empty, "the path built into the runner");
        modulePath = Path.GetFullPath(modulePath);
        if (!File.Exists(modulePath) && !Directory.Exists(modulePath))
        {
            Console.Error.WriteLine($"DbOps.Runner: the DbOps module is not at {modulePath} (from {source}); {BuildHint}");
            return UsageError;
        }

        var script = Path.GetFullPath(options.Script);
        if (!File.Exists(script) || !script.EndsWith(".ps1", StringComparison.OrdinalIgnoreCase))
        {
            Console.Error.WriteLine($"DbOps.Runner: no PowerShell script (.ps1) at {script}");
            return UsageError;
        }

        var ci = Environment.GetEnvironmentVariable("CI");
        var interactive = !options.NonInteractive && !Console.IsInputRedirected
            && !string.Equals(ci, "true", StringComparison.OrdinalIgnoreCase) && ci != "1";
        return Run(modulePath, script, options.ScriptArguments, interactive);
    }

    private static int Run(string modulePath, string script, IReadOnlyList<string> scriptArguments, bool interactive)
    {
        var session = InitialSessionState.CreateDefault2();
        if (OperatingSystem.IsWindows())
        {
            // Naming the file is the consent, as with pwsh -ExecutionPolicy Bypass. Elsewhere there is no execution
            // policy, and setting one makes Runspace.Open throw PlatformNotSupportedException.
            session.ExecutionPolicy = ExecutionPolicy.Bypass;
        }

        session.Commands.Add(CompatibilityCmdlets.Entries);

        var host = new RunnerHost(interactive);
        using var runspace = RunspaceFactory.CreateRunspace(host, session);
        runspace.Open();
        runspace.SessionStateProxy.Path.SetLocation(WildcardPattern.Escape(Environment.CurrentDirectory));

        var imported = Invoke(runspace, host, ps => ps
            .AddCommand("Import-Module").AddParameter("Name", modulePath).AddParameter("ErrorAction", ActionPreference.Stop));
        if (imported != Succeeded)
        {
            return imported;
        }

        var exitPropagates = PropagateExit(runspace);
        var outcome = Invoke(runspace, host, ps => ps.Commands.AddCommand(ScriptCommand(script, scriptArguments)));
        if (host.ExitCode is { } exitCode)
        {
            return exitCode;
        }

        if (!exitPropagates && outcome == Succeeded && runspace.SessionStateProxy.GetVariable("LASTEXITCODE") is int lastExitCode)
        {
            return lastExitCode;
        }

        return outcome;
    }

    /// <summary>
    /// Runs one pipeline with its output rendered by Out-Default (format.ps1xml views, host width) and its error
    /// records printed as they happen; returns 0, 1 (error records or a terminating error) or 130 (Ctrl+C).
    /// </summary>
    private static int Invoke(Runspace runspace, RunnerHost host, Action<PowerShell> build)
    {
        using var ps = PowerShell.Create(runspace);
        build(ps);
        ps.AddCommand("Out-Default");

        var errors = 0;
        ps.Streams.Error.DataAdded += (_, e) =>
        {
            errors++;
            Report(host, ps.Streams.Error[e.Index]);
        };

        // First Ctrl+C stops the pipeline so cmdlets can cancel and clean up; a second one kills the process.
        var stopping = false;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (!stopping)
            {
                stopping = true;
                e.Cancel = true;
                ps.BeginStop(null, null);
            }
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            ps.Invoke();
        }
        catch (PipelineStoppedException) when (stopping)
        {
            // Reported below: a stop requested late may also end the pipeline without this exception.
        }
        catch (RuntimeException e)
        {
            Report(host, e.ErrorRecord);
            return Failed;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        if (stopping)
        {
            host.UI.WriteErrorLine("Stopped (Ctrl+C).");
            return Interrupted;
        }

        return errors > 0 ? Failed : Succeeded;
    }

    /// <summary>Prints "&lt;FullyQualifiedErrorId&gt;: &lt;message&gt;" and where in the script it happened.</summary>
    private static void Report(RunnerHost host, ErrorRecord record)
    {
        var message = record.ToString(); // ErrorDetails.Message when set, else the exception's message.
        var id = record.FullyQualifiedErrorId;
        var text = string.IsNullOrEmpty(id) || id == message ? message : $"{id}: {message}";
        if (record.InvocationInfo?.PositionMessage is { Length: > 0 } position)
        {
            text += Environment.NewLine + position;
        }

        host.UI.WriteErrorLine(text);
    }

    /// <summary>
    /// Arguments bind as under pwsh -File: "-Name" is a parameter name (the engine takes the next argument as its
    /// value unless it is a switch), "-Name:value" binds directly ($true/$false become booleans), the rest are positional.
    /// </summary>
    private static Command ScriptCommand(string script, IReadOnlyList<string> arguments)
    {
        var command = new Command(script);
        string? pending = null;
        foreach (var argument in arguments)
        {
            if (pending is not null)
            {
                command.Parameters.Add(new CommandParameter(pending, argument));
                pending = null;
            }
            else if (argument.Length > 1 && argument[0] == '-')
            {
                var colon = argument.IndexOf(':', StringComparison.Ordinal);
                if (colon < 0)
                {
                    command.Parameters.Add(new CommandParameter(argument));
                }
                else if (colon == argument.Length - 1)
                {
                    pending = argument[..colon];
                }
                else
                {
                    var value = argument[(colon + 1)..];
                    command.Parameters.Add(new CommandParameter(argument[..colon],
                        bool.TryParse(value.TrimStart('$'), out var flag) ? flag : value));
                }
            }
            else
            {
                command.Parameters.Add(new CommandParameter(null, argument));
            }
        }

        if (pending is not null)
        {
            command.Parameters.Add(new CommandParameter(pending));
        }

        return command;
    }

    /// <summary>
    /// By default the engine ends only the script file on <c>exit N</c> and stores N in $LASTEXITCODE, where a
    /// native command's exit code looks the same. pwsh -File sets this internal flag so that <c>exit N</c> reaches
    /// <see cref="RunnerHost.SetShouldExit"/>; the runner does the same. The flag is consumed by the next script
    /// started. If a later engine drops it, the caller falls back to $LASTEXITCODE.
    /// </summary>
    private static bool PropagateExit(Runspace runspace)
    {
        const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        var context = typeof(Runspace).GetProperty("ExecutionContext", Any)?.GetValue(runspace);
        var flag = context?.GetType().GetProperty("ScriptCommandProcessorShouldRethrowExit", Any);
        flag?.SetValue(context, true);
        return flag is not null;
    }

    /// <summary>Splits the command line into runner options and the script with its arguments; null options means --help.</summary>
    private static bool TryParse(string[] args, out RunOptions? options, out string problem)
    {
        (options, problem) = (null, string.Empty);
        string? module = null;
        var nonInteractive = false;
        var i = 0;
        for (; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help" or "-?" or "/?":
                    return true;
                case "--non-interactive":
                    nonInteractive = true;
                    continue;
                case "--module" when i + 1 < args.Length:
                    module = args[++i];
                    continue;
                case "--module":
                    problem = "--module needs a path";
                    return false;
                case "--":
                    i++;
                    break;
                case var option when option.StartsWith('-'):
                    problem = $"unknown option {option}";
                    return false;
            }

            break;
        }

        if (i >= args.Length)
        {
            problem = "no script given";
            return false;
        }

        options = new RunOptions(args[i], args[(i + 1)..], module, nonInteractive);
        return true;
    }

    private sealed record RunOptions(string Script, IReadOnlyList<string> ScriptArguments, string? Module, bool NonInteractive);
}
