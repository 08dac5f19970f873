using System.Buffers;
using System.Text.RegularExpressions;
using Dapper;
using DbOps.Core.Providers;
using DbOps.Core.Schema;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Archive;

/// <summary>
/// SQLite's half of archives: values are read and written with their storage class (INTEGER, REAL, TEXT, BLOB,
/// NULL), so a round trip gives the same values even in columns without type affinity.
/// </summary>
internal static partial class SqliteArchive
{
    /// <summary>Triggers on the table, created after its rows are loaded so they do not fire on them.</summary>
    private const string TriggersSql = "SELECT name AS Name, sql AS Sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = @table AND sql IS NOT NULL ORDER BY name";

    [GeneratedRegex("""^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"(?:[^"]|"")*"|\[[^\]]*\]|`[^`]*`|[^\s(]+)""", RegexOptions.IgnoreCase)]
    private static partial Regex CreateTableName();

    private static string Quote(string identifier) => SqliteProvider.Instance.QuoteIdentifier(identifier);

    public static string Qualified(TableRef table) => $"{Quote(table.Schema)}.{Quote(table.Name)}";

    /// <summary>Reads every row of the table in canonical form, in the caller's transaction.</summary>
    public static async Task ReadRowsAsync(SqliteConnection connection, System.Data.Common.DbTransaction? transaction, TableRef table, IReadOnlyList<string> columns,
        Action<CanonicalRow> onRow, CancellationToken cancellationToken, Action<long>? rowsDone = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = (SqliteTransaction?)transaction;
        command.CommandText = $"SELECT {string.Join(", ", columns.Select(Quote))} FROM {Qualified(table)}";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var row = new CanonicalRow();
        long rows = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            row.Clear();
            for (var i = 0; i < columns.Count; i++)
            {
                SqliteValues.Add(row, reader.GetValue(i));
            }
            onRow(row);
            if (++rows % 8192 == 0)
            {
                rowsDone?.Invoke(rows);
            }
        }
        rowsDone?.Invoke(rows);
    }

    /// <summary>Inserts rows with one prepared statement, in the caller's transaction.</summary>
    public sealed class Inserter : IAsyncDisposable
    {
        private readonly SqliteCommand _command;

        public Inserter(SqliteConnection connection, SqliteTransaction transaction, TableRef table, IReadOnlyList<string> columns)
        {
            _command = connection.CreateCommand();
            _command.Transaction = transaction;
            _command.CommandText = $"INSERT INTO {Qualified(table)} ({string.Join(", ", columns.Select(Quote))}) " +
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
    public static async Task<ArchiveSchemaFile> ReadSchemaAsync(SqliteConnection connection, System.Data.Common.DbTransaction transaction, TableSchema schema, string description, CancellationToken cancellationToken)
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
    public static async Task<string?> ForeignKeyProblemAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction,
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

    /// <summary>The archived CREATE TABLE with another table name (constraints kept; indexes are not recreated).</summary>
    public static string RenameCreateTable(string createSql, string newName)
    {
        var match = CreateTableName().Match(createSql);
        return match.Success ? "CREATE TABLE " + Quote(newName) + createSql[(match.Index + match.Length)..] : createSql;
    }
}
