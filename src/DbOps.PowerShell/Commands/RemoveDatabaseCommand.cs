using System.Management.Automation;
using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Databases;
using DbOps.Core.Errors;

namespace DbOps.PowerShell.Commands;

/// <summary>The Remove-Database cmdlet. Its help is docs/cmdlets/Remove-Database.md (the build turns that page into Get-Help text).</summary>
[Cmdlet(VerbsCommon.Remove, "Database", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = NameSet, HelpUri = HelpLinks.Docs + "Remove-Database.md")]
[OutputType(typeof(DatabaseRemoval))]
public sealed class RemoveDatabaseCommand : DbOpsCmdlet
{
    private const string NameSet = nameof(Name);
    private const string InputObjectSet = nameof(InputObject);

    /// <summary>-Database resolved once (it does not come from the pipeline).</summary>
    private DbOpsConnection? _database;

    /// <summary>PostgreSQL: the database's name on -Database's server. SQLite: the file's path.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = NameSet, HelpMessage = "Database name (PostgreSQL) or file path (SQLite).")]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    /// <summary>PostgreSQL: a connection to another database on the server (e.g. postgres). Not needed for SQLite.</summary>
    [Parameter(Position = 1, ParameterSetName = NameSet)]
    [OneDatabase]
    public DatabaseArgument? Database { get; set; }

    /// <summary>A result of Restore-Database -Create.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    public RestoreResult InputObject { get; set; } = null!;

    /// <summary>Remove a database DbOps did not create.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>End other sessions on the database (PostgreSQL: DROP DATABASE ... WITH (FORCE)); SQLite: delete the files even while in use.</summary>
    [Parameter]
    public SwitchParameter EndSessions { get; set; }

    /// <summary>The operations journal to record the removal in (default: $env:DBOPS_JOURNAL or the user's journal).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JournalPath { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        var name = ParameterSetName == InputObjectSet ? InputObject.Database : Name;
        try
        {
            DbOpsConnection target;
            if (ParameterSetName == InputObjectSet)
            {
                target = InputObject.Target ?? throw new DbOpsException(ErrorIds.DatabaseNotFound, ErrorKind.InvalidArgument,
                    $"This result does not say how to reach {name}; pass -Name and -Database.", name);
            }
            else
            {
                var server = Database is null ? null : _database ??= ResolveDatabase(Database);
                target = RehearsalDatabases.Resolve(server, server?.Provider == DatabaseProvider.PostgreSQL ? Name : ResolvePath(Name));
            }
            var mark = Run((_, token) => RehearsalDatabases.CheckAsync(target, Force, token));
            var action = (mark is null ? "Drop the database, which DbOps did not create" : "Drop the database DbOps created") +
                         (EndSessions ? ", ending every session on it" : "");
            if (ShouldProcess(target.ToString(), action))
            {
                WriteObject(Run((observer, token) => RehearsalDatabases.RemoveAsync(
                    target, mark, EndSessions, JournalPath is null ? null : ResolvePath(JournalPath), observer, token)));
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, name);
        }
    }
}
