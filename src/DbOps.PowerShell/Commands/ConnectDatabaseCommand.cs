using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Connect-Database cmdlet. Its help is docs/cmdlets/Connect-Database.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommunications.Connect, "Database", DefaultParameterSetName = PathSet, HelpUri = HelpLinks.Docs + "Connect-Database.md")]
[OutputType(typeof(DbOpsConnection))]
public sealed class ConnectDatabaseCommand : DbOpsCmdlet
{
    private const string PathSet = nameof(Path);
    private const string ConnectionStringSet = nameof(ConnectionString);

    /// <summary>The SQLite database file. It must exist unless -Create is given.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, HelpMessage = "Path of the SQLite database file.")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Creates an empty SQLite database when the file does not exist.</summary>
    [Parameter(ParameterSetName = PathSet)]
    public SwitchParameter Create { get; set; }

    /// <summary>
    /// An Npgsql connection string ('Host=db1;Database=sales;Username=ops') or a URI
    /// ('postgresql://ops@db1:5432/sales'). Values left out come from PGHOST, PGPORT, PGDATABASE, PGUSER,
    /// PGPASSWORD and PGSSLMODE; a missing password is looked up in PGPASSFILE or ~/.pgpass.
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ConnectionStringSet, HelpMessage = "PostgreSQL connection string or postgresql:// URI.")]
    [ValidateNotNullOrEmpty]
    public string ConnectionString { get; set; } = "";

    /// <summary>User name and password for PostgreSQL; they override the connection string's.</summary>
    [Parameter(ParameterSetName = ConnectionStringSet)]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            // A connection string given by position binds to -Path; treat it as what it is (and never echo it as a path).
            var connectionString = ParameterSetName == ConnectionStringSet ? ConnectionString
                : DatabaseConnector.IsPostgresConnectionString(Path) ? Path : null;
            var connection = connectionString is null
                ? Run((_, token) => DatabaseConnector.ConnectSqliteAsync(ResolvePath(Path), Create.IsPresent, token))
                : Run((_, token) => DatabaseConnector.ConnectPostgresAsync(connectionString,
                    Credential?.UserName, Credential?.GetNetworkCredential().Password, token));
            WriteVerbose($"Connected to {connection} ({connection.Provider} {connection.ServerVersion}).");
            WriteObject(connection);
        }
        catch (DbOpsException e)
        {
            // A runbook must not carry on without its database.
            ThrowDbOpsError(e);
        }
    }
}
