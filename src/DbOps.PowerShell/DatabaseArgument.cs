using DbOps.Core.Connections;

namespace DbOps.PowerShell;

/// <summary>
/// What -Database accepts: a connection from Connect-Database, a SQLite file path, or a PostgreSQL connection
/// string or postgresql:// URI. PowerShell converts either form through these constructors; the cmdlet resolves
/// a string when it runs, against its current location.
/// </summary>
public sealed class DatabaseArgument
{
    /// <summary>Wraps a connection made by Connect-Database.</summary>
    public DatabaseArgument(DbOpsConnection connection) => Connection = connection;

    /// <summary>Wraps a SQLite path or a PostgreSQL connection string.</summary>
    public DatabaseArgument(string text) => Text = text;

    /// <summary>Wraps a SQLite file piped from Get-ChildItem or Get-Item: one database per file.</summary>
    public DatabaseArgument(FileInfo file) => (Text, IsFile) = (file.FullName, true);

    /// <summary>The connection, when one was given.</summary>
    public DbOpsConnection? Connection { get; }

    /// <summary>The path or connection string, when one was given. Not shown: it may hold a password.</summary>
    internal string? Text { get; }

    /// <summary>True when it came from a file object (Get-ChildItem), not from text or a connection.</summary>
    internal bool IsFile { get; }

    /// <inheritdoc/>
    public override string ToString() => Connection?.ToString()
        ?? (Text is not null && DatabaseConnector.IsPostgresConnectionString(Text) ? "PostgreSQL connection string" : Text ?? "");
}
