using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Runspaces;
using System.Security;
using System.Text;

namespace DbOps.PowerShell.Tests;

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresCluster>
{
    public const string Name = "PostgreSQL";
}

/// <summary>
/// A PowerShell engine hosted in-process with the DbOps module imported from out/DbOps, as a user would
/// import it. Captures what the host shows (tables, What if lines, warnings, progress) and answers prompts.
/// </summary>
public sealed class PowerShellSession : IDisposable
{
    private readonly Runspace _runspace;

    public PowerShellSession()
    {
        Host = new TestHost();
        var state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(ModuleManifest);
        _runspace = RunspaceFactory.CreateRunspace(Host, state);
        _runspace.Open();
    }

    public TestHost Host { get; }

    public List<ErrorRecord> Errors { get; } = [];

    public List<string> Verbose { get; } = [];

    public List<ProgressRecord> Progress { get; } = [];

    /// <summary>out/DbOps/DbOps.psd1 of this checkout (or DBOPS_MODULE_PATH).</summary>
    public static string ModuleManifest { get; } = Environment.GetEnvironmentVariable("DBOPS_MODULE_PATH") ?? FindModule();

    /// <summary>
    /// Runs SQL on a SQLite file (created if missing) through the module's Invoke-DatabaseQuery, so tests need no
    /// SQLite package of their own. Foreign keys are not enforced, as in a legacy file (the bundled SQLite enforces them
    /// by default).
    /// </summary>
    public void ExecuteSqlite(string path, string sql)
    {
        Run("$null = Invoke-DatabaseQuery (Connect-Database -Path $path -Create) $sql", new { path, sql = "PRAGMA foreign_keys = OFF;\n" + sql });
        Assert.Empty(Errors);
    }

    /// <summary>The first column of the first row <paramref name="sql"/> returns on a SQLite file, through Invoke-DatabaseQuery.</summary>
    public object SqliteScalar(string path, string sql) =>
        Run("Invoke-DatabaseQuery $path $sql", new { path, sql })[0].Properties.First().Value;

    /// <summary>Host output without the ANSI colour codes PowerShell adds to tables.</summary>
    public static string StripAnsi(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\x1b\[[0-9;]*m", "");

    /// <summary>Runs a script; $args-style values are passed as variables named in <paramref name="variables"/>.</summary>
    public Collection<PSObject> Run(string script, object? variables = null)
    {
        using var shell = System.Management.Automation.PowerShell.Create(_runspace);
        foreach (var property in variables?.GetType().GetProperties() ?? [])
        {
            _runspace.SessionStateProxy.SetVariable(property.Name, property.GetValue(variables));
        }
        shell.AddScript(script);
        try
        {
            return shell.Invoke();
        }
        catch (RuntimeException e)
        {
            Errors.Add(e.ErrorRecord);
            return [];
        }
        finally
        {
            Errors.AddRange(shell.Streams.Error);
            Verbose.AddRange(shell.Streams.Verbose.Select(v => v.Message));
            Progress.AddRange(shell.Streams.Progress);
        }
    }

    public void Dispose() => _runspace.Dispose();

    private static string FindModule()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "out", "DbOps", "DbOps.psd1");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException("out/DbOps/DbOps.psd1 was not found; build the solution first (dotnet build DbOps.sln).");
    }
}

/// <summary>A host that records what it shows and answers PromptForChoice from a queue.</summary>
public sealed class TestHost : PSHost
{
    private readonly TestHostUI _ui = new();

    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override string Name => "DbOpsTestHost";
    public override PSHostUserInterface UI => _ui;
    public override Version Version => new(1, 0);

    /// <summary>Everything written to the host.</summary>
    public string Output => _ui.Text.ToString();

    /// <summary>Prompts shown, as "caption: message".</summary>
    public List<string> Prompts => _ui.Prompts;

    /// <summary>Labels to answer the next prompts with, e.g. "&amp;Yes" or "&amp;No".</summary>
    public Queue<string> Answers => _ui.Answers;

    public override void EnterNestedPrompt() => throw new NotSupportedException();
    public override void ExitNestedPrompt() => throw new NotSupportedException();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
    public override void SetShouldExit(int exitCode) { }

    private sealed class TestHostUI : PSHostUserInterface
    {
        public StringBuilder Text { get; } = new();
        public List<string> Prompts { get; } = [];
        public Queue<string> Answers { get; } = new();

        public override PSHostRawUserInterface RawUI { get; } = new TestRawUI();

        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
        {
            Prompts.Add($"{caption}: {message}");
            if (Answers.Count == 0)
            {
                throw new InvalidOperationException($"Unexpected prompt: {caption}: {message}");
            }
            var answer = Answers.Dequeue();
            var index = choices.ToList().FindIndex(c => c.Label == answer);
            return index >= 0 ? index : throw new InvalidOperationException($"No choice '{answer}' in {string.Join(", ", choices.Select(c => c.Label))}");
        }

        public override void Write(string value) => Text.Append(value);
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Text.Append(value);
        public override void WriteLine(string value) => Text.AppendLine(value);
        public override void WriteErrorLine(string value) => Text.AppendLine("ERROR: " + value);
        public override void WriteDebugLine(string message) => Text.AppendLine("DEBUG: " + message);
        public override void WriteVerboseLine(string message) => Text.AppendLine("VERBOSE: " + message);
        public override void WriteWarningLine(string message) => Text.AppendLine("WARNING: " + message);
        public override void WriteProgress(long sourceId, ProgressRecord record) { }

        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) =>
            throw new InvalidOperationException($"Unexpected prompt: {caption}");
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
            throw new InvalidOperationException("Unexpected credential prompt");
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
            PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new InvalidOperationException("Unexpected credential prompt");
        public override string ReadLine() => throw new InvalidOperationException("Unexpected ReadLine");
        public override SecureString ReadLineAsSecureString() => throw new InvalidOperationException("Unexpected ReadLine");
    }

    private sealed class TestRawUI : PSHostRawUserInterface
    {
        public override ConsoleColor BackgroundColor { get; set; }
        public override Size BufferSize { get; set; } = new(160, 300);
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; }
        public override ConsoleColor ForegroundColor { get; set; }
        public override bool KeyAvailable => false;
        public override Size MaxPhysicalWindowSize => new(160, 300);
        public override Size MaxWindowSize => new(160, 300);
        public override Coordinates WindowPosition { get; set; }
        public override Size WindowSize { get; set; } = new(160, 300);
        public override string WindowTitle { get; set; } = "";
        public override void FlushInputBuffer() { }
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException();
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
    }
}
