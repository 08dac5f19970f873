using DbOps.Core.Connections;

namespace DbOps.Core.Journal;

/// <summary>
/// The PowerShell lines a journal entry's <see cref="JournalEntry.Undo"/> holds: complete commands a person can paste,
/// naming the database without secrets (PostgreSQL takes its password from PGPASSWORD or ~/.pgpass).
/// </summary>
internal static partial class UndoCommand
{
    /// <summary>Runs <paramref name="sql"/> on the database with Invoke-DatabaseQuery.</summary>
    public static string Query(DbOpsConnection database, string sql) =>
        $"Invoke-DatabaseQuery -Database {Database(database)} -Query {Quote(sql)}";

    /// <summary>Puts a backup back into the database with Restore-Database, replacing what is there.</summary>
    public static string Restore(DbOpsConnection database, string backupPath) =>
        $"Restore-Database -Path {Quote(backupPath)} -Database {Database(database)} -Force";

    /// <summary>The -Database argument: the SQLite file, or a PostgreSQL connection string without a password.</summary>
    public static string Database(DbOpsConnection database) => Database(database, database.Database);

    /// <summary>The -Database argument for another database on <paramref name="server"/>'s server (PostgreSQL), quoted.</summary>
    public static string Database(DbOpsConnection server, string database) =>
        Quote(Engines.DatabaseEngines.For(server.Provider).Inspection.DatabaseArgument(server, database));

    /// <summary>
    /// A PowerShell single-quoted string: nothing inside is expanded. PowerShell also ends such a string at the
    /// typographic single quotes, so each quote character is doubled.
    /// </summary>
    public static string Quote(string text) => "'" + SingleQuotes().Replace(text, "$0$0") + "'";

    [System.Text.RegularExpressions.GeneratedRegex("['\u2018\u2019\u201A\u201B]")]
    private static partial System.Text.RegularExpressions.Regex SingleQuotes();
}
