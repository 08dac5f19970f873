using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.PowerShell;

/// <summary>
/// Tab completion for -Table: the tables of the database already given with -Database (a connection, or a SQLite
/// path). Connection strings are not used, so completing never prompts or waits on a server login; any failure
/// completes nothing.
/// </summary>
public sealed class TableNameCompleter : IArgumentCompleter
{
    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            var value = fakeBoundParameters["Database"] is PSObject o ? o.BaseObject : fakeBoundParameters["Database"];
            var connection = value switch
            {
                DbOpsConnection c => c,
                DatabaseArgument { Connection: { } c } => c,
                string path when !DatabaseConnector.IsPostgresConnectionString(path) && File.Exists(path) =>
                    DatabaseConnector.ConnectSqliteAsync(Path.GetFullPath(path), create: false, CancellationToken.None).GetAwaiter().GetResult(),
                _ => null,
            };
            if (connection is null)
            {
                return [];
            }
            var provider = DatabaseEngines.For(connection);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var session = provider.OpenReadOnlyAsync(connection, timeout.Token).GetAwaiter().GetResult();
            using var db = session.Connection;
            var pattern = WildcardPattern.Get(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
            return provider.ListTablesAsync(db, timeout.Token).GetAwaiter().GetResult()
                .Select(t => t.ToString())
                .Where(name => pattern.IsMatch(name) || pattern.IsMatch(name[(name.IndexOf('.') + 1)..]))
                .Select(name => new CompletionResult(name.Contains(' ') ? $"'{name}'" : name, name, CompletionResultType.ParameterValue, name))
                .ToList();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return [];
        }
    }
}
