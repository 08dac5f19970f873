using System.Diagnostics;
using System.Text;

namespace DbOps.Core.Tools;

/// <summary>The outcome of running a program: its exit code and the last lines it wrote to stderr.</summary>
internal sealed record ToolRun(int ExitCode, string ErrorTail);

/// <summary>
/// Runs a client program (pg_dump, pg_restore) without a shell. Secrets go through the environment,
/// never the command line, where other users could read them.
/// </summary>
internal static class ExternalTool
{
    private const int KeptLines = 20;

    /// <param name="fileName">The program.</param>
    /// <param name="arguments">Its arguments, passed without a shell.</param>
    /// <param name="environment">Variables to set; a null value removes the variable from the child's environment.</param>
    /// <param name="readStdout">Consumes standard output, or null to leave it alone.</param>
    /// <param name="onStderrLine">Sees each line of standard error (progress), or null.</param>
    /// <param name="cancellationToken">Kills the program (and its children).</param>
    /// <param name="writeStdin">Produces standard input, or null for none.</param>
    public static async Task<ToolRun> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?> environment,
        Func<Stream, CancellationToken, Task>? readStdout,
        Action<string>? onStderrLine,
        CancellationToken cancellationToken,
        Func<Stream, CancellationToken, Task>? writeStdin = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = readStdout is not null,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdin = writeStdin is null ? Task.CompletedTask : FeedAsync(process, writeStdin, cancellationToken);
        if (writeStdin is null)
        {
            process.StandardInput.Close();
        }
        var errors = new ErrorLines();
        var stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
            {
                onStderrLine?.Invoke(line);
                errors.Add(line);
            }
        }, CancellationToken.None);

        try
        {
            if (readStdout is not null)
            {
                await readStdout(process.StandardOutput.BaseStream, cancellationToken);
            }
            await process.WaitForExitAsync(cancellationToken);
        }
        catch
        {
            // Cancelled, or the reader failed on bad data: never leave the tool running behind us.
            await KillAsync(process);
            await Task.WhenAll(Quietly(stdin), Quietly(stderr));
            throw;
        }
        await stderr;
        try
        {
            await stdin;
        }
        catch (IOException) when (process.ExitCode != 0)
        {
            // The tool stopped reading because it failed; its exit code and message say why, not the broken pipe.
        }
        return new ToolRun(process.ExitCode, errors.Text);
    }

    /// <summary>Writes the tool's input, then closes it so the tool sees the end.</summary>
    private static async Task FeedAsync(Process process, Func<Stream, CancellationToken, Task> writeStdin, CancellationToken cancellationToken)
    {
        await using var input = process.StandardInput.BaseStream;
        await writeStdin(input, cancellationToken);
    }

    private static async Task KillAsync(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception)
        {
            // Secondary to the failure being reported.
        }
    }

    /// <summary>
    /// What to show of a tool's standard error: from the first line that reports a problem (verbose progress
    /// before it is noise), or else the last lines.
    /// </summary>
    private sealed class ErrorLines
    {
        private readonly List<string> _fromFirstError = [];
        private readonly Queue<string> _last = new();

        public void Add(string line)
        {
            lock (_last)
            {
                if ((_fromFirstError.Count > 0 || IsProblem(line)) && _fromFirstError.Count < KeptLines)
                {
                    _fromFirstError.Add(line);
                }
                _last.Enqueue(line);
                if (_last.Count > KeptLines)
                {
                    _last.Dequeue();
                }
            }
        }

        public string Text
        {
            get
            {
                lock (_last)
                {
                    return string.Join(Environment.NewLine, _fromFirstError.Count > 0 ? _fromFirstError : _last);
                }
            }
        }

        private static bool IsProblem(string line) =>
            line.Contains("error", StringComparison.OrdinalIgnoreCase) || line.Contains("fatal", StringComparison.OrdinalIgnoreCase)
            || line.Contains("could not", StringComparison.OrdinalIgnoreCase) || line.Contains("No space left", StringComparison.OrdinalIgnoreCase);
    }
}
