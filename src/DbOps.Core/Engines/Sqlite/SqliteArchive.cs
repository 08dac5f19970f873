using System.Data;
using System.Data.Common;
using System.Text.Unicode;
using System.Text.RegularExpressions;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.IO;
using DbOps.Core.Progress;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Engines;

/// <summary>
/// SQLite's half of archives: values are read and written with their storage class (INTEGER, REAL, TEXT, BLOB,
/// NULL), so a round trip gives the same values even in columns without type affinity.
/// </summary>
internal sealed partial class SqliteArchive : IArchiveDialect
{
    public static readonly SqliteArchive Instance = new();

    /// <summary>Triggers on the table, created after its rows are loaded so they do not fire on them.</summary>
    private const string TriggersSql = "SELECT name AS Name, sql AS Sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = @table AND sql IS NOT NULL ORDER BY name";

    [GeneratedRegex("""^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"(?:[^"]|"")*"|\[[^\]]*\]|`[^`]*`|[^\s(]+)""", RegexOptions.IgnoreCase)]
    private static partial Regex CreateTableName();

    private static string Quote(string identifier) => SqliteEngine.Instance.QuoteIdentifier(identifier);

    public CsvDialect Csv => CsvDialect.SQLite;

    /// <summary>The database is a file path: Windows compares file names without case.</summary>
    public bool SameDatabase(string archived, string live) =>
        string.Equals(archived, live, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary>SQLite has only main: "main.name" is name.</summary>
    public TableRef TargetTable(string name, string archivedSchema)
    {
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return new TableRef(archivedSchema, dot >= 0 && name[..dot] == SqliteEngine.MainSchema ? name[(dot + 1)..] : name);
    }

    /// <summary>SQLite's catalog reader runs outside transactions, so it reads just before the snapshot starts.</summary>
    public async Task<(DatabaseSchema Schema, DbTransaction Snapshot)> ReadSchemaAndBeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var schema = await SchemaReader.ReadAsync(SqliteEngine.Instance, connection, cancellationToken);
        return (schema, await SqliteEngine.Instance.BeginSnapshotAsync(connection, cancellationToken));
    }

    /// <summary>Values are read with their storage class; no session setting changes them.</summary>
    public Task UseCanonicalTextAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Read whole from the catalog: nothing is left to finish.</summary>
    public async Task<Task<ArchiveSchemaFile>> StartSchemaFileAsync(DbOpsConnection source, DbConnection connection, DbTransaction snapshot, TableSchema table,
        string? toolPath, CancellationToken cancellationToken) =>
        Task.FromResult(await ReadSchemaAsync((SqliteConnection)connection, snapshot, table, $"{table.Table} from {source} (SQLite {source.ServerVersion})", cancellationToken));

    /// <summary>SQLite keeps no estimate: the exact count, in the snapshot.</summary>
    public async Task<long> ExpectedRowsAsync(DbConnection connection, DbTransaction snapshot, TableRef table, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM {table.ToQuotedName()}", transaction: snapshot, cancellationToken: cancellationToken));

    public Task ReadRowsAsync(DbConnection connection, DbTransaction? transaction, TableRef table, IReadOnlyList<string> columns, string? where,
        Action<CanonicalRow> onRow, CancellationToken cancellationToken) =>
        SelectRowsAsync((SqliteConnection)connection, transaction, table, columns, where, onRow, cancellationToken);

    public async Task ExportRowsAsync(DbConnection connection, DbTransaction snapshot, TableRef table, IReadOnlyList<string> columns, string? where, Stream? csv,
        Action<CanonicalRow> onRow, Action<long> rowsDone, CancellationToken cancellationToken)
    {
        var sqlite = (SqliteConnection)connection;
        if (csv is null)
        {
            await SelectRowsAsync(sqlite, snapshot, table, columns, where, onRow, cancellationToken, rowsDone, refuseInvalidText: true);
            return;
        }
        var output = new ChunkedOutput(csv);
        await SelectRowsAsync(sqlite, snapshot, table, columns, where, row =>
        {
            onRow(row);
            CsvText.WriteRow(row, output.Buffer);
            output.FlushIfFull();
        }, cancellationToken, rowsDone, refuseInvalidText: true);
        output.Flush();
    }

    /// <summary>
    /// Issue 22: SQLite's rows are read in this process, and several connections share no snapshot: each read
    /// transaction sees the database as of its own first read, and in WAL mode a writer may commit between two of them
    /// (SQLite's snapshot handles are not available through Microsoft.Data.Sqlite). Without a provably common moment
    /// there is no consistent archive, so the export reads over one connection.
    /// </summary>
    public Task<ParallelReadPlan> PlanParallelReadAsync(DbOpsConnection source, DbConnection connection, DbTransaction snapshot, TableRef table,
        int ranges, CancellationToken cancellationToken) =>
        Task.FromResult(ParallelReadPlan.NotPossible(NoSharedSnapshot));

    /// <summary>
    /// SQLite has no snapshot another connection can join without SQLITE_ENABLE_SNAPSHOT and a WAL file (a read-only
    /// file may be in either journal mode), so a second connection could read a later commit.
    /// </summary>
    private const string NoSharedSnapshot = "SQLite connections cannot share one snapshot";

    public Task<(string? Id, string? WhyNot)> ShareSnapshotAsync(DbConnection connection, DbTransaction snapshot, CancellationToken cancellationToken) =>
        Task.FromResult<(string?, string?)>((null, NoSharedSnapshot));

    public Task<DbTransaction> JoinSnapshotAsync(DbConnection connection, string snapshotId, CancellationToken cancellationToken) =>
        throw new NotSupportedException("SQLite connections cannot share a snapshot.");

    public string RangeCondition(long? from, long? to) => throw new NotSupportedException("SQLite tables are not read in ranges.");

    /// <summary>
    /// Beside the archive, owner-only, under a temporary name: it holds a full copy of the rows, and the next export into
    /// the folder removes it if this process is killed.
    /// </summary>
    public async Task<ScratchSession> OpenScratchAsync(DbOpsConnection source, string folder, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var path = ArtifactFiles.TemporaryPathFor(Path.Combine(folder, "verify.db"));
        try
        {
            using (ArtifactFiles.CreateOwnerOnly(path))
            {
                // An empty file is an empty SQLite database; SQLite gives its journal the same permissions.
            }
            var connection = await SqliteEngine.OpenFileAsync(path, SqliteOpenMode.ReadWrite, cancellationToken);
            return new ScratchSession(new WritableSession(connection), () =>
            {
                ArtifactFiles.DeleteQuietly(path); // opened without pooling: closing released the file
                return ValueTask.CompletedTask;
            });
        }
        catch
        {
            ArtifactFiles.DeleteQuietly(path);
            throw;
        }
    }

    /// <summary>
    /// SQLite declares foreign keys inside CREATE TABLE: they are kept, but not enforced while loading a table whose parents
    /// may not be there (yet); <see cref="ForeignKeyProblemAsync"/> reports afterwards what does not match. The pragma is a
    /// no-op inside a transaction, so it comes first.
    /// </summary>
    public async Task<DbTransaction> BeginLoadAsync(WritableSession session, CancellationToken cancellationToken)
    {
        await session.Connection.ExecuteAsync(new CommandDefinition("PRAGMA foreign_keys = OFF", cancellationToken: cancellationToken));
        return await session.Connection.BeginTransactionAsync(cancellationToken);
    }

    /// <summary>A SQLite schema file has no prerequisites; any such section is not run.</summary>
    public Task<bool> PrerequisiteMissingAsync(DbConnection connection, string what, CancellationToken cancellationToken) => Task.FromResult(false);

    /// <summary>The archived CREATE TABLE with another table name (constraints kept; indexes are not recreated).</summary>
    public string CreateRenamedTableSql(ArchiveSchemaFile schema, IReadOnlyList<ArchiveColumn> columns, TableRef target) =>
        RenameCreateTable(schema.In(ArchiveSchemaFile.Table).First().Sql, target.Name);

    public async Task LoadAsync(WritableSession session, DbTransaction transaction, TableRef table, IReadOnlyList<string> columns, ArchiveRows rows, bool freeze,
        CancellationToken cancellationToken)
    {
        await using var inserter = new Inserter((SqliteConnection)session.Connection, (SqliteTransaction)transaction, table, columns);
        await rows.ReadAsync(inserter.Insert);
    }

    /// <summary>AUTOINCREMENT's counters (sqlite_sequence) move with the inserts themselves.</summary>
    public Task AdvanceOwnedSequencesAsync(WritableSession session, DbTransaction transaction, TableRef table, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>
    /// Reads every row of the table in canonical form, in the caller's transaction. With <paramref name="refuseInvalidText"/>
    /// (an export) TEXT that is not valid UTF-8 stops the read with <see cref="ErrorIds.ArchiveFailed"/>: an archive file
    /// could not hold it exactly.
    /// </summary>
    private static async Task SelectRowsAsync(SqliteConnection connection, DbTransaction? transaction, TableRef table, IReadOnlyList<string> columns,
        string? where, Action<CanonicalRow> onRow, CancellationToken cancellationToken, Action<long>? rowsDone = null, bool refuseInvalidText = false)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = (SqliteTransaction?)transaction;
        // TEXT is taken as the bytes SQLite stores, not decoded to a string: decoding turns bytes that are not UTF-8 into
        // U+FFFD, so a changed value could keep its checksum. For valid UTF-8 the bytes are the same as before. A UTF-16
        // database stores other bytes; there SQLite's own conversion to UTF-8 is used.
        command.CommandText = "PRAGMA encoding";
        var rawText = (string?)await command.ExecuteScalarAsync(cancellationToken) == "UTF-8";
        command.CommandText = $"SELECT {string.Join(", ", columns.Select(Quote))} FROM {table.ToQuotedName()}{(where is null ? "" : $" WHERE ({where})")}";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var row = new CanonicalRow();
        long rows = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            row.Clear();
            for (var i = 0; i < columns.Count; i++)
            {
                if (rawText && !reader.IsDBNull(i) && reader.GetFieldType(i) == typeof(string))
                {
                    var text = reader.GetFieldValue<byte[]>(i);
                    if (refuseInvalidText && !Utf8.IsValid(text))
                    {
                        throw await InvalidTextAsync(connection, transaction, table, columns[i], text, cancellationToken);
                    }
                    row.Add(ValueTag.Text, text);
                }
                else
                {
                    SqliteValues.Add(row, reader.GetValue(i));
                }
            }
            onRow(row);
            if (++rows % 8192 == 0)
            {
                rowsDone?.Invoke(rows);
            }
        }
        rowsDone?.Invoke(rows);
    }

    /// <summary>The refusal of a TEXT value that is not UTF-8, naming its column and (when the table has one) its rowid.</summary>
    private static async Task<DbOpsException> InvalidTextAsync(SqliteConnection connection, DbTransaction? transaction, TableRef table,
        string column, byte[] text, CancellationToken cancellationToken)
    {
        long? rowid = null;
        try
        {
            rowid = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                $"SELECT rowid FROM {table.ToQuotedName()} WHERE typeof({Quote(column)}) = 'text' AND CAST({Quote(column)} AS BLOB) = @text LIMIT 1",
                new { text }, transaction, cancellationToken: cancellationToken));
        }
        catch (SqliteException)
        {
            // A WITHOUT ROWID table: the bytes in the message identify the value.
        }
        var hex = Convert.ToHexString(text.AsSpan(0, Math.Min(text.Length, 32))) + (text.Length > 32 ? "..." : "");
        var which = rowid is { } id ? $"the row with rowid {id}" : "a row";
        var fix = rowid is { } r
            ? $"UPDATE {table.ToQuotedName()} SET {Quote(column)} = CAST({Quote(column)} AS BLOB) WHERE rowid = {r}"
            : $"SET {Quote(column)} = CAST({Quote(column)} AS BLOB) for that row";
        return new DbOpsException(ErrorIds.ArchiveFailed, ErrorKind.InvalidData,
            $"{table} was not archived: column {column} of {which} holds TEXT that is not valid UTF-8 (x'{hex}'), which an archive " +
            $"cannot keep exactly. Store such values as BLOB ({fix}) or correct the text, then export again.", table.ToString());
    }

    /// <summary>Inserts rows with one prepared statement, in the caller's transaction.</summary>
    private sealed class Inserter : IAsyncDisposable
    {
        private readonly SqliteCommand _command;

        public Inserter(SqliteConnection connection, SqliteTransaction transaction, TableRef table, IReadOnlyList<string> columns)
        {
            _command = connection.CreateCommand();
            _command.Transaction = transaction;
            _command.CommandText = $"INSERT INTO {table.ToQuotedName()} ({string.Join(", ", columns.Select(Quote))}) " +
                                   $"VALUES ({string.Join(", ", columns.Select((_, i) => "$p" + i))})";
            for (var i = 0; i < columns.Count; i++)
            {
                _command.Parameters.Add(new SqliteParameter("$p" + i, null));
            }
            _command.Prepare();
        }

        public void Insert(CanonicalRow row)
        {
            var i = 0;
            foreach (var field in row)
            {
                _command.Parameters[i++].Value = SqliteValues.ToParameter(field);
            }
            _command.ExecuteNonQuery();
        }

        public ValueTask DisposeAsync() => _command.DisposeAsync();
    }

    /// <summary>The table's CREATE TABLE, its explicit indexes, and its triggers, as sqlite_schema holds them.</summary>
    private static async Task<ArchiveSchemaFile> ReadSchemaAsync(SqliteConnection connection, DbTransaction transaction, TableSchema schema, string description, CancellationToken cancellationToken)
    {
        var file = new ArchiveSchemaFile(description);
        file.Add(ArchiveSchemaFile.Table, $"table {schema.Table.Name}", schema.CreateSql + ";");
        foreach (var index in schema.Indexes.Where(i => !string.IsNullOrEmpty(i.Definition) && i.Definition.TrimStart().StartsWith("CREATE", StringComparison.OrdinalIgnoreCase)))
        {
            file.Add(ArchiveSchemaFile.AfterLoad, $"index {index.Name}", index.Definition + ";");
        }
        foreach (var (name, sql) in await connection.QueryAsync<(string, string)>(
                     new CommandDefinition(TriggersSql, new { table = schema.Table.Name }, transaction, cancellationToken: cancellationToken)))
        {
            file.Add(ArchiveSchemaFile.Dependent, $"trigger {name}", sql + ";");
        }
        return file;
    }

    /// <summary>What PRAGMA foreign_key_check finds wrong with the loaded table's references, or null when nothing.</summary>
    public async Task<string?> ForeignKeyProblemAsync(DbConnection connection, DbTransaction transaction,
        TableRef table, CancellationToken cancellationToken)
    {
        try
        {
            var violations = (await connection.QueryAsync(new CommandDefinition(
                $"PRAGMA foreign_key_check({Quote(table.Name)})", transaction: transaction, cancellationToken: cancellationToken))).Count();
            return violations == 0 ? null : $"foreign keys: {violations} row(s) refer to parent rows the target lacks";
        }
        catch (SqliteException e)
        {
            return $"foreign keys: cannot be checked ({e.Message.Split('\n')[0]})";
        }
    }

    private static string RenameCreateTable(string createSql, string newName)
    {
        var match = CreateTableName().Match(createSql);
        return match.Success ? "CREATE TABLE " + Quote(newName) + createSql[(match.Index + match.Length)..] : createSql;
    }
}
