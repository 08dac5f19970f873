using System.Collections;
using System.Management.Automation;
using DbOps.Core.Errors;
using DbOps.Core.Queries;

namespace DbOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Runs SQL of your own on a database and returns the rows it selects as objects.</para>
/// <para type="description">For what a runbook needs besides the maintenance cmdlets: building a sample or a scratch
/// table, a one-off fix, a count to check. The SQL runs as written on a connection that may write: several statements
/// run in order, and only a transaction the SQL opens itself (BEGIN ... COMMIT) makes them all-or-nothing. Pass values
/// with -Parameters (@name in the SQL), never spliced into the text. Each row becomes an object with one property per
/// column; statements that return no rows return nothing. -WhatIf shows the SQL and runs nothing.</para>
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "DatabaseQuery", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = HelpLinks.Docs + "Invoke-DatabaseQuery.md")]
[OutputType(typeof(PSObject))]
public sealed class InvokeDatabaseQueryCommand : DbOpsCmdlet
{
    /// <summary>The database: a connection, a SQLite path or a PostgreSQL connection string.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, HelpMessage = "Connection, SQLite path or PostgreSQL connection string.")]
    [OneDatabase]
    public DatabaseArgument Database { get; set; } = null!;

    /// <summary>The SQL: one statement or several, values as @name placeholders.</summary>
    [Parameter(Mandatory = true, Position = 1, HelpMessage = "The SQL to run.")]
    [ValidateNotNullOrEmpty]
    public string Query { get; set; } = "";

    /// <summary>Values for the placeholders by name (@{ id = 42 } for @id), or by position for $1, $2 on PostgreSQL (@{ '1' = 42 }).</summary>
    [Parameter]
    public IDictionary? Parameters { get; set; }

    /// <inheritdoc/>
    protected override void ProcessRecord()
    {
        try
        {
            var connection = ResolveDatabase(Database);
            if (!ShouldProcessStatements(connection.ToString(), "Run SQL", [Query]))
            {
                return;
            }
            var values = ToParameterValues(Parameters);
            foreach (var row in Run((_, token) => DatabaseQuery.RunAsync(connection, Query, values, token)))
            {
                var result = new PSObject();
                foreach (var (column, value) in row)
                {
                    result.Properties.Add(new PSNoteProperty(column, value));
                }
                WriteObject(result);
            }
        }
        catch (DbOpsException e)
        {
            WriteDbOpsError(e, Query);
        }
    }
}
