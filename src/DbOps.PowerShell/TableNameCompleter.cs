using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Management.Automation.Runspaces;
using DbOps.Core.Connections;
using DbOps.Core.Providers;

namespace DbOps.PowerShell;

/// <summary>
/// Tab completion for a -Table parameter: the tables of the database named by the same command's -Database (a
/// connection, a SQLite path or a PostgreSQL connection string). It gives up quietly after a few seconds or on any
/// error: completion must never hang a prompt or print an error.
/// </summary>
public sealed class TableNameCompleter : IArgumentCompleter
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    /// <inheritdoc/>
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var prefix = wordToComplete.Trim('\'', '"');
        try
        {
            using var cancellation = new CancellationTokenSource(Budget);
            var tables = Task.Run(() => ListAsync(fakeBoundParameters["Database"], cancellation.Token), cancellation.Token).GetAwaiter().GetResult();
            return tables
                .Select(t => t.ToString())
                .Where(name => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                .Select(name => new CompletionResult(name.Contains(' ', StringComparison.Ordinal) ? $"'{name}'" : name, name, CompletionResultType.ParameterValue, name))
                .ToList();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return [];
        }
    }

    private static async Task<IReadOnlyList<TableRef>> ListAsync(object? database, CancellationToken cancellationToken)
    {
        var value = database is PSObject wrapped ? wrapped.BaseObject : database;
        var connection = value switch
        {
            DbOpsConnection c => c,
            DatabaseArgument { Connection: { } c } => c,
            string text when DatabaseConnector.IsPostgresConnectionString(text) => await DatabaseConnector.ConnectPostgresAsync(text, null, null, cancellationToken),
            string path => await DatabaseConnector.ConnectSqliteAsync(FullPath(path), create: false, cancellationToken),
            _ => null,
        };
        if (connection is null)
        {
            return [];
        }
        IDatabaseProvider provider = connection.Provider == DatabaseProvider.PostgreSQL ? PostgresProvider.Instance : SqliteProvider.Instance;
        await using var db = await provider.OpenAsync(connection, readOnly: true, cancellationToken);
        return await provider.ListTablesAsync(db, cancellationToken);
    }

    /// <summary>A relative path is relative to PowerShell's current location, as the cmdlet will resolve it.</summary>
    private static string FullPath(string path) =>
        Path.IsPathRooted(path) || Runspace.DefaultRunspace is not { } runspace
            ? Path.GetFullPath(path)
            : Path.GetFullPath(Path.Combine(runspace.SessionStateProxy.Path.CurrentFileSystemLocation.ProviderPath, path));
}
