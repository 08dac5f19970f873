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
    private const int TailLines = 20;

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
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdin = writeStdin is null ? Task.CompletedTask : FeedAsync(process, writeStdin, cancellationToken);
        if (writeStdin is null)
        {
            process.StandardInput.Close();
        }
        var tail = new Queue<string>();
        var stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
            {
                onStderrLine?.Invoke(line);
                lock (tail)
                {
                    tail.Enqueue(line);
                    if (tail.Count > TailLines)
                    {
                        tail.Dequeue();
                    }
                }
            }
        }, CancellationToken.None);

        try
        {
            if (readStdout is not null)
            {
                await readStdout(process.StandardOutput.BaseStream, cancellationToken);
            }
            await process.WaitForExitAsync(cancellationToken);
            await stdin;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        catch
        {
            // The reader failed (e.g. bad data): do not leave the tool running behind us.
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            throw;
        }
        await stderr;
        lock (tail)
        {
            return new ToolRun(process.ExitCode, string.Join(Environment.NewLine, tail));
        }
    }

    /// <summary>Writes the tool's input, then closes it so the tool sees the end.</summary>
    private static async Task FeedAsync(Process process, Func<Stream, CancellationToken, Task> writeStdin, CancellationToken cancellationToken)
    {
        await using var input = process.StandardInput.BaseStream;
        await writeStdin(input, cancellationToken);
    }
}
