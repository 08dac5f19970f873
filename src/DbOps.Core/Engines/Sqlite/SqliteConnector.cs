using Dapper;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

/// <summary>
/// Opens a SQLite file once to prove it is a database. An existing file is opened read-only, so the probe works on
/// a file DbOps may not write, and closing it cannot checkpoint (write) a WAL database.
/// </summary>
internal static class SqliteConnector
{
    private const int SqliteCantOpen = 14;
    private const int SqliteNotADatabase = 26;

    /// <summary>Opens a SQLite file. A missing file is an error unless <paramref name="create"/> is set.</summary>
    public static async Task<DbOpsConnection> ConnectAsync(string fullPath, bool create, CancellationToken cancellationToken)
    {
        var exists = File.Exists(fullPath);
        if (!exists && !create)
        {
            throw new DbOpsException(ErrorIds.DatabaseNotFound, ErrorKind.NotFound,
                $"The SQLite database '{fullPath}' does not exist. Check the path, or pass -Create to create an empty database.",
                fullPath);
        }
        if (!exists)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        }
        try
        {
            await using var connection = await SqliteEngine.OpenFileAsync(
                fullPath, exists ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate, cancellationToken);
            // Reading the schema is what fails on a file that is not a database.
            await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM sqlite_schema");
            var version = await connection.ExecuteScalarAsync<string>("SELECT sqlite_version()") ?? "";
            return Describe(fullPath, version);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteNotADatabase)
        {
            throw new DbOpsException(ErrorIds.NotADatabase, ErrorKind.InvalidData,
                $"'{fullPath}' is not a SQLite database (SQLite says: {e.Message}). Check the path.", fullPath, e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteCantOpen && IsWalDatabase(fullPath))
        {
            throw new DbOpsException(ErrorIds.WalDatabaseNotReadable, ErrorKind.InvalidState,
                $"The SQLite database '{fullPath}' is in WAL mode, and SQLite reads a WAL database only with its -wal and -shm " +
                "files beside it; one is missing and cannot be created in this folder (https://www.sqlite.org/wal.html#readonly). " +
                "Read it from a folder DbOps may write to (copy the file and any -wal file together), or switch it out of WAL " +
                "mode (PRAGMA journal_mode=DELETE) before making it read-only.",
                fullPath, e);
        }
        catch (SqliteException e)
        {
            throw new DbOpsException(ErrorIds.ConnectionFailed, ErrorKind.ConnectionError,
                $"Could not open the SQLite database '{fullPath}': {e.Message}", fullPath, e);
        }
    }

    /// <summary>Describes a SQLite file that may not exist yet (a restore target) without creating or opening it.</summary>
    public static DbOpsConnection Describe(string fullPath) => Describe(fullPath, LibraryVersion());

    private static DbOpsConnection Describe(string fullPath, string version) =>
        new(DatabaseProvider.SQLite, fullPath, null, null, version,
            new SqliteConnectionStringBuilder { DataSource = fullPath, Pooling = false }.ConnectionString, null);

    private static string LibraryVersion()
    {
        // Creating a connection object runs Microsoft.Data.Sqlite's one-time native library set-up.
        using var unused = new SqliteConnection();
        return SQLitePCL.raw.sqlite3_libversion().utf8_to_string();
    }

    /// <summary>
    /// True when the file's header says WAL mode (bytes 18 and 19 are 2:
    /// https://www.sqlite.org/fileformat.html#file_format_version_numbers).
    /// </summary>
    private static bool IsWalDatabase(string fullPath)
    {
        try
        {
            var header = new byte[20];
            using (var file = File.OpenRead(fullPath))
            {
                file.ReadExactly(header);
            }
            return header[18] == 2 && header[19] == 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) // EndOfStreamException is an IOException
        {
            return false;
        }
    }
}
