using DbOps.Core.Connections;

namespace DbOps.Core.Engines;

/// <summary>
/// The one lookup from an engine kind to the code that knows that engine. Everything DbOps says to SQLite lives
/// under Engines/Sqlite, everything it says to PostgreSQL under Engines/Postgres; a third engine is a third folder
/// and a line here.
/// </summary>
internal static class DatabaseEngines
{
    public static IDatabaseEngine For(DatabaseProvider kind) => kind switch
    {
        DatabaseProvider.PostgreSQL => PostgresEngine.Instance,
        DatabaseProvider.SQLite => SqliteEngine.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "DbOps has no engine for this provider."),
    };

    public static IDatabaseEngine For(DbOpsConnection connection) => For(connection.Provider);

    /// <summary>True when any engine reads <paramref name="error"/> as a lost session; for code that does not know the engine.</summary>
    public static bool IsConnectionLost(Exception error) => All.Any(engine => engine.IsConnectionLost(error));

    private static readonly IDatabaseEngine[] All = [PostgresEngine.Instance, SqliteEngine.Instance];
}
