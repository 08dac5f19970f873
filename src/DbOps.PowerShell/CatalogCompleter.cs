using System.Collections;
using System.Data.Common;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text.RegularExpressions;
using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.PowerShell;

/// <summary>
/// What every completer that lists names from a catalog shares: it reads the database already given with -Database
/// (a connection, a SQLite path or a PostgreSQL connection string), gives up after <see cref="Deadline"/> so an
/// unreachable server never holds the prompt, completes nothing on any failure, and quotes names for the command line.
/// </summary>
public abstract partial class CatalogCompleter : IArgumentCompleter
{
    /// <summary>Connecting and reading the catalog together; a prompt waiting longer than this feels hung.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            // Read on this (the pipeline) thread: the location belongs to the runspace.
            if (Connector(ValueOf(fakeBoundParameters, "Database")) is not { } connect)
            {
                return [];
            }
            var read = Task.Run(async () =>
            {
                using var deadline = new CancellationTokenSource(Deadline);
                var connection = await connect(deadline.Token);
                var engine = DatabaseEngines.For(connection);
                await using var session = await engine.OpenReadOnlyAsync(connection, deadline.Token);
                return await ReadNamesAsync(engine, session.Connection, fakeBoundParameters, deadline.Token);
            });
            if (!read.Wait(Deadline))
            {
                return [];   // the deadline cancels the read, which ends on its own
            }
            var pattern = WildcardPattern.Get(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
            return read.Result
                .Where(n => pattern.IsMatch(n.ListItem) || pattern.IsMatch(n.ListItem[(n.ListItem.IndexOf('.') + 1)..]))
                .Select(n => new CompletionResult(QuoteArgument(n.Text), n.ListItem, CompletionResultType.ParameterValue, n.ToolTip))
                .ToList();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return [];
        }
    }

    /// <summary>The names this parameter takes, read from the open catalog.</summary>
    /// <param name="engine">The database's engine.</param>
    /// <param name="connection">A read-only connection.</param>
    /// <param name="fakeBoundParameters">The other parameters on the command line (-Table for columns).</param>
    /// <param name="cancellationToken">Cancelled at the deadline.</param>
    private protected abstract Task<IEnumerable<CatalogName>> ReadNamesAsync(
        IDatabaseEngine engine, DbConnection connection, IDictionary fakeBoundParameters, CancellationToken cancellationToken);

    /// <summary>One completion before command-line quoting.</summary>
    /// <param name="Text">What the parameter reads back as this object.</param>
    /// <param name="ListItem">What the list shows and the typed word is matched against (schema.name or name).</param>
    /// <param name="ToolTip">More about the object.</param>
    private protected sealed record CatalogName(string Text, string ListItem, string ToolTip);

    /// <summary>The value of another parameter on the command line, unwrapped, or null.</summary>
    private protected static object? ValueOf(IDictionary fakeBoundParameters, string parameter) =>
        fakeBoundParameters[parameter] is PSObject o ? o.BaseObject : fakeBoundParameters[parameter];

    /// <summary>How to connect to the -Database value, or null when it names no single database.</summary>
    private static Func<CancellationToken, Task<DbOpsConnection>>? Connector(object? database) =>
        database switch
        {
            DbOpsConnection c => _ => Task.FromResult(c),
            DatabaseArgument { Connection: { } c } => _ => Task.FromResult(c),
            string text when DatabaseConnector.IsPostgresConnectionString(text) =>
                token => DatabaseConnector.ConnectPostgresAsync(text, null, null, token),
            string path when ProviderPath(path) is { } full && File.Exists(full) =>
                token => DatabaseConnector.ConnectSqliteAsync(full, create: false, token),
            FileInfo { Exists: true } file => token => DatabaseConnector.ConnectSqliteAsync(file.FullName, create: false, token),
            _ => null,
        };

    /// <summary>
    /// A path as the cmdlet will read it: relative to the PowerShell location, not the process's. A completer has no
    /// SessionState of its own, and the runspace's proxy refuses calls while the completion pipeline runs.
    /// </summary>
    private static string? ProviderPath(string path)
    {
        using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
        ps.AddScript("$ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($args[0])").AddArgument(path);
        return ps.Invoke<string>().FirstOrDefault();
    }

    /// <summary>Single quotes around a name the PowerShell parser would otherwise split or expand.</summary>
    private static string QuoteArgument(string text) =>
        BareWord().IsMatch(text) ? text : $"'{CodeGeneration.EscapeSingleQuotedStringContent(text)}'";

    [GeneratedRegex(@"^[\p{L}\p{N}_][\p{L}\p{N}_.\-]*$")]
    private static partial Regex BareWord();
}
