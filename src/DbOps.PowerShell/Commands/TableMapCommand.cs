using System.Collections;
using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Moves;

namespace DbOps.PowerShell.Commands;

/// <summary>The parameters Compare-TableData and Copy-TableData share: the two sides, the key and the column map.</summary>
public abstract class TableMapCommand : DbOpsCmdlet
{
    /// <summary>The database that holds both tables: a connection from Connect-Database, a SQLite path, or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>The source table ("t" or "schema.t"), or use -SourceQuery.</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string? Source { get; set; }

    /// <summary>The target table, or use -TargetQuery.</summary>
    [Parameter(Position = 2)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string? Target { get; set; }

    /// <summary>A read-only SELECT whose rows are the source.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SourceQuery { get; set; }

    /// <summary>The key: column names shared by both sides (-Key id; -Key a,b), or source = target pairs (-Key @{ legacy_id = 'id' }).</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public object[] Key { get; set; } = [];

    /// <summary>Source column = target column (or, for Compare-TableData, a target-side SQL expression); $null leaves a same-named column out.</summary>
    [Parameter]
    public IDictionary? Map { get; set; }

    /// <summary>Target column = source-side SQL expression that derives it: @{ status = "CASE WHEN is_approved THEN 'approved' ELSE 'pending' END" }.</summary>
    [Parameter]
    public IDictionary? Expression { get; set; }

    /// <summary>A condition on the source's columns that limits it to a subset.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Where { get; set; }

    /// <summary>The map the parameters describe, on <paramref name="database"/>.</summary>
    private protected TableMap BuildMap(DbOpsConnection database, string? targetQuery) => new()
    {
        Source = database,
        SourceTable = Source,
        SourceQuery = SourceQuery,
        TargetTable = Target,
        TargetQuery = targetQuery,
        Keys = Keys(Key),
        Map = Entries(Map).Select(e => new KeyValuePair<string, string?>(e.Key, e.Value)).ToList(),
        Expressions = Entries(Expression).Select(e => new KeyValuePair<string, string>(e.Key,
            e.Value ?? throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument, $"-Expression {e.Key} is empty; give the SQL that derives it."))).ToList(),
        Where = Where,
    };

    private static List<KeyPair> Keys(object[] key)
    {
        var pairs = new List<KeyPair>();
        foreach (var item in key.Select(Unwrap))
        {
            if (item is IDictionary dictionary)
            {
                pairs.AddRange(Entries(dictionary).Select(e => new KeyPair(e.Key, e.Value ?? "")));
            }
            else
            {
                pairs.AddRange((item?.ToString() ?? "").Split(',', StringSplitOptions.TrimEntries).Select(name => new KeyPair(name, name)));
            }
        }
        return pairs;
    }

    private static IEnumerable<(string Key, string? Value)> Entries(IDictionary? dictionary)
    {
        foreach (DictionaryEntry entry in dictionary ?? new Hashtable())
        {
            yield return (Unwrap(entry.Key)?.ToString() ?? "", Unwrap(entry.Value)?.ToString());
        }
    }

    private static object? Unwrap(object? value) => value is PSObject o ? o.BaseObject : value;
}
