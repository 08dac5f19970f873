using System.Buffers;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Schema;
using DbOps.Core.Tools;
using Npgsql;

namespace DbOps.Core.Engines;

/// <summary>
/// PostgreSQL's half of archives: rows travel as the server's own CSV (COPY ... TO STDOUT / FROM STDIN), so every
/// type round-trips through its own text input and output functions, and the checksum is computed from the same
/// bytes as they stream. The schema file is pg_dump's DDL for the table, split into sections (see
/// <see cref="ArchiveSchemaFile"/>), with the enum and domain types, schemas and sequences it needs prepended.
/// </summary>
internal sealed partial class PostgresArchive : IArchiveDialect
{
    public static readonly PostgresArchive Instance = new();

    private const int ChunkBytes = 1 << 18;

    /// <summary>
    /// The session settings under which every value's text is canonical: they fix the text of dates, times,
    /// intervals, floating-point numbers, bytea and money, which otherwise follow the client's settings. With
    /// row_security off, a row-level security policy that would hide rows from this role makes the read fail
    /// instead of silently leaving those rows out of an archive, a count or a checksum.
    /// </summary>
    public const string CanonicalSettingsSql =
        "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'; SET extra_float_digits = 3; " +
        "SET bytea_output = 'hex'; SET lc_monetary = 'C'; SET client_encoding = 'UTF8'; SET row_security = off";

    /// <summary>The table's row estimate, for progress only (counting would read the table twice).</summary>
    /// <summary>
    /// Enum and domain types the table's columns use, directly, as array elements or as a domain's base, deepest
    /// first so each type's dependencies come before it. Run with an empty search_path so names come qualified.
    /// </summary>
    private const string TypesSql = """
        WITH RECURSIVE used(oid, depth) AS (
            SELECT a.atttypid, 0 FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = to_regclass(@name) AND a.attnum > 0 AND NOT a.attisdropped
            UNION
            SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END, u.depth + 1
            FROM used u JOIN pg_catalog.pg_type t ON t.oid = u.oid
            WHERE (t.typtype = 'd' OR (t.typelem <> 0 AND t.typlen = -1)) AND u.depth < 20
        )
        SELECT quote_ident(n.nspname) AS "Schema", quote_ident(n.nspname) || '.' || quote_ident(t.typname) AS "Name",
               t.typtype::text AS "Kind", max(u.depth) AS "Depth",
               (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) AS "Labels",
               pg_catalog.format_type(t.typbasetype, t.typtypmod) AS "Base",
               (SELECT ' COLLATE ' || quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_catalog.pg_collation co
                JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
                WHERE co.oid = t.typcollation AND t.typtype = 'd' AND t.typcollation <> (SELECT b.typcollation FROM pg_catalog.pg_type b WHERE b.oid = t.typbasetype)) AS "Collation",
               t.typdefault AS "Default", t.typnotnull AS "NotNull",
               (SELECT string_agg(' CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_catalog.pg_get_constraintdef(c.oid), '' ORDER BY c.conname)
                FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid) AS "Checks"
        FROM used u JOIN pg_catalog.pg_type t ON t.oid = u.oid JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        GROUP BY n.nspname, t.typname, t.typtype, t.oid, t.typbasetype, t.typtypmod, t.typcollation, t.typdefault, t.typnotnull
        ORDER BY max(u.depth) DESC, 2
        """;

    /// <summary>
    /// Sequences the table's column defaults call that the table does not own (pg_dump -t leaves those out), with
    /// their parameters and position, so an import elsewhere can recreate them.
    /// </summary>
    private const string SequencesSql = """
        SELECT DISTINCT quote_ident(n.nspname) AS "Schema", quote_ident(n.nspname) || '.' || quote_ident(s.relname) AS "Name",
               pg_catalog.format_type(q.seqtypid, NULL) AS "Type", q.seqstart AS "Start", q.seqincrement AS "Increment",
               q.seqmin AS "Min", q.seqmax AS "Max", q.seqcache AS "Cache", q.seqcycle AS "Cycle",
               pg_catalog.pg_sequence_last_value(s.oid) AS "LastValue"
        FROM pg_catalog.pg_attrdef ad
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
                                    AND d.refclassid = 'pg_catalog.pg_class'::regclass
        JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
        JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
        JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
        WHERE ad.adrelid = to_regclass(@name)
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend o
                          WHERE o.classid = 'pg_catalog.pg_class'::regclass AND o.objid = s.oid
                            AND o.refobjid = ad.adrelid AND o.deptype IN ('a', 'i'))
        ORDER BY 2
        """;

    /// <summary>Sequences the (new) table owns, by serial or identity, to move past the loaded keys.</summary>
    private const string OwnedSequencesSql = """
        SELECT pg_catalog.pg_get_serial_sequence(@name, a.attname) AS "Sequence", a.attname::text AS "Column"
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = to_regclass(@name) AND a.attnum > 0 AND NOT a.attisdropped
          AND pg_catalog.pg_get_serial_sequence(@name, a.attname) IS NOT NULL
        """;

    /// <summary>
    /// The ordinary tables the table inherits from (INHERITS), the most distant first: pg_dump writes an inheriting table
    /// without its inherited columns, so it cannot be created without them. A partition's parent is not one of them (a
    /// partition is dumped with all its columns and attached afterwards).
    /// </summary>
    private const string AncestorsSql = """
        WITH RECURSIVE ancestors(oid, depth) AS (
            SELECT i.inhparent, 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = to_regclass(@name)
            UNION
            SELECT i.inhparent, a.depth + 1 FROM ancestors a JOIN pg_catalog.pg_inherits i ON i.inhrelid = a.oid WHERE a.depth < 20
        )
        SELECT n.nspname::text AS "Schema", c.relname::text AS "Name"
        FROM ancestors a JOIN pg_catalog.pg_class c ON c.oid = a.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r'
        GROUP BY n.nspname, c.relname
        ORDER BY max(a.depth) DESC, 1, 2
        """;

    // Names are printed raw, so the schema may hold "; " too: it runs to the last "; Owner: " of the line.
    [GeneratedRegex(@"^--\r?\n-- (?:Data for )?Name: (?<name>.*?); Type: (?<type>[^;]+); Schema: [^\n]*; Owner: [^;\n]*\r?\n--\r?\n", RegexOptions.Multiline)]
    private static partial Regex TocHeader();

    [GeneratedRegex(@"^\\(un)?restrict [^\n]*\n?", RegexOptions.Multiline)]
    private static partial Regex RestrictLine();

    public CsvDialect Csv => CsvDialect.PostgreSQL;

    public bool SameDatabase(string archived, string live) => string.Equals(archived, live, StringComparison.Ordinal);

    public TableRef TargetTable(string name, string archivedSchema)
    {
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? new TableRef(archivedSchema, name) : new TableRef(name[..dot], name[(dot + 1)..]);
    }

    /// <summary>The catalog is read inside the snapshot, so it describes exactly the rows the snapshot reads.</summary>
    public async Task<(DatabaseSchema Schema, DbTransaction Snapshot)> ReadSchemaAndBeginSnapshotAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var snapshot = await PostgresEngine.Instance.BeginSnapshotAsync(connection, cancellationToken);
        try
        {
            return (await SchemaReader.ReadAsync(PostgresEngine.Instance, connection, cancellationToken), snapshot);
        }
        catch
        {
            await snapshot.DisposeAsync();
            throw;
        }
    }

    public async Task UseCanonicalTextAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(new CommandDefinition(CanonicalSettingsSql, cancellationToken: cancellationToken));

    /// <summary>pg_dump's DDL, taken in the export's own snapshot (exported to it by id), while the rows stream.</summary>
    public async Task<Task<ArchiveSchemaFile>> StartSchemaFileAsync(DbOpsConnection source, DbConnection connection, DbTransaction snapshot, TableSchema table,
        string? toolPath, CancellationToken cancellationToken)
    {
        var id = await connection.ExecuteScalarAsync<string>(new CommandDefinition("SELECT pg_catalog.pg_export_snapshot()", cancellationToken: cancellationToken));
        return await ReadSchemaAsync(connection, source, table.Table, id, toolPath, cancellationToken);
    }

    /// <summary>The catalog's estimate (0 when there is none): counting would read the table twice.</summary>
    public async Task<long> ExpectedRowsAsync(DbConnection connection, DbTransaction snapshot, TableRef table, CancellationToken cancellationToken) =>
        await PostgresSnapshotCatalog.Instance.EstimateRowsAsync(connection, table, cancellationToken) ?? 0;

    public Task ReadRowsAsync(DbConnection connection, DbTransaction? transaction, TableRef table, IReadOnlyList<string> columns, string? where,
        Action<CanonicalRow> onRow, CancellationToken cancellationToken) =>
        CopyOutAsync((NpgsqlConnection)connection, table, columns, where, null, onRow, cancellationToken);

    /// <summary>Every value's text output round-trips through its type's input function, so the server's CSV is the archive's.</summary>
    public Task ExportRowsAsync(DbConnection connection, DbTransaction snapshot, TableRef table, IReadOnlyList<string> columns, string? where, Stream? csv,
        Action<CanonicalRow> onRow, Action<long> rowsDone, CancellationToken cancellationToken) =>
        CopyOutAsync((NpgsqlConnection)connection, table, columns, where, csv, onRow, cancellationToken, rowsDone);

    /// <summary>
    /// Issue 22: the table is cut by page (ctid) ranges, not key ranges. In one shared snapshot every visible row has
    /// exactly one ctid, so ranges of pages partition any table, with or without a key, whatever its key's type or
    /// spread; they balance by size; and a TID range scan (PostgreSQL 14) reads only its own pages, where a key range
    /// read costs each connection an index walk or a filtered scan of the whole table. The last range is open, so
    /// pages added after the size was read are covered. Key ranges are what a split across two databases needs
    /// (Compare-TableData, Copy-TableData); an export reads one snapshot of one table.
    /// </summary>
    public async Task<ParallelReadPlan> PlanParallelReadAsync(DbOpsConnection source, DbConnection connection, DbTransaction snapshot, TableRef table,
        int ranges, CancellationToken cancellationToken)
    {
        if (PostgresClientTools.MajorVersion(source.ServerVersion) < 14)
        {
            return ParallelReadPlan.NotPossible($"PostgreSQL {source.ServerVersion} cannot read a range of a table's pages without scanning all of them " +
                                                "(TID range scans came with PostgreSQL 14)");
        }
        var (kind, pages) = await connection.QuerySingleAsync<(string, long)>(new CommandDefinition(
            "SELECT CASE WHEN c.relhassubclass THEN 'inherited' ELSE c.relkind::text END, " +
            "pg_catalog.pg_relation_size(c.oid) / current_setting('block_size')::bigint FROM pg_catalog.pg_class c WHERE c.oid = to_regclass(@name)",
            new { name = table.ToQuotedName() }, snapshot, cancellationToken: cancellationToken));
        if (kind != "r")
        {
            // A range is read by a query, and a query of a table with children reads theirs too, which COPY of the table leaves out.
            return ParallelReadPlan.NotPossible(kind == "inherited"
                ? $"{table} has inheritance children or partitions, whose rows a range read would take in too"
                : $"{table} is not a plain table with pages of its own");
        }
        var (id, _) = await ShareSnapshotAsync(connection, snapshot, cancellationToken);
        var points = Enumerable.Range(1, ranges - 1).Select(i => pages * i / ranges).Where(p => p > 0).Distinct().ToList();
        return new ParallelReadPlan(id, points);
    }

    /// <summary>
    /// pg_export_snapshot (PostgreSQL 9.2) in the REPEATABLE READ snapshot <see cref="PostgresEngine.BeginSnapshotAsync"/> began;
    /// the id stays valid while that transaction is open, so it must stay open until every other connection has joined.
    /// </summary>
    public async Task<(string? Id, string? WhyNot)> ShareSnapshotAsync(DbConnection connection, DbTransaction snapshot, CancellationToken cancellationToken) =>
        (await connection.ExecuteScalarAsync<string>(new CommandDefinition("SELECT pg_catalog.pg_export_snapshot()", transaction: snapshot,
            cancellationToken: cancellationToken)), null);

    /// <summary>The snapshot id is the server's own text (hex digits and dashes); it is quoted all the same.</summary>
    public async Task<DbTransaction> JoinSnapshotAsync(DbConnection connection, string snapshotId, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            $"SET TRANSACTION READ ONLY; SET TRANSACTION SNAPSHOT '{snapshotId.Replace("'", "''", StringComparison.Ordinal)}'",
            transaction: transaction, cancellationToken: cancellationToken));
        return transaction;
    }

    public string RangeCondition(long? from, long? to) => (from, to) switch
    {
        (null, null) => "true",
        (null, { } end) => $"ctid < '({end},0)'::tid",
        ({ } start, null) => $"ctid >= '({start},0)'::tid",
        ({ } start, { } end) => $"ctid >= '({start},0)'::tid AND ctid < '({end},0)'::tid",
    };

    public async Task<ScratchSession> OpenScratchAsync(DbOpsConnection source, string folder, IOperationObserver observer, CancellationToken cancellationToken)
    {
        var scratch = await PostgresScratchDatabase.CreateAsync(source, "verify the archive",
            "import the archive with Import-TableArchive -TargetTable into a database of your choice", observer, cancellationToken);
        try
        {
            return new ScratchSession(await PostgresEngine.Instance.OpenWritableAsync(scratch.Connection, cancellationToken), scratch.DisposeAsync);
        }
        catch
        {
            await scratch.DisposeAsync();
            throw;
        }
    }

    public async Task<DbTransaction> BeginLoadAsync(WritableSession session, CancellationToken cancellationToken) =>
        await session.Connection.BeginTransactionAsync(cancellationToken);

    public Task LoadAsync(WritableSession session, DbTransaction transaction, TableRef table, IReadOnlyList<string> columns, ArchiveRows rows, bool freeze,
        CancellationToken cancellationToken) =>
        CopyInAsync((NpgsqlConnection)session.Connection, table, columns, rows.CopyCsvAsync, freeze, cancellationToken);

    /// <summary>Foreign keys are recreated after the load (the schema file's dependent part), and checked as they are.</summary>
    public Task<string?> ForeignKeyProblemAsync(DbConnection connection, DbTransaction transaction, TableRef table, CancellationToken cancellationToken) =>
        Task.FromResult<string?>(null);

    /// <summary>
    /// Streams the table as COPY's CSV: each chunk goes to <paramref name="tee"/> (the archive file) as the server
    /// sent it, and through the parser, which hands every row in canonical form to <paramref name="onRow"/>. With
    /// <paramref name="where"/>, COPY reads a query of the rows it chooses, which gives the same CSV for them.
    /// </summary>
    private static async Task CopyOutAsync(NpgsqlConnection connection, TableRef table, IReadOnlyList<string> columns, string? where, Stream? tee,
        Action<CanonicalRow> onRow, CancellationToken cancellationToken, Action<long>? rowsDone = null)
    {
        var parser = new CsvRowParser(CsvDialect.PostgreSQL, columns.Count, onRow);
        var copied = where is null ? $"{table.ToQuotedName()} ({ColumnList(columns)})" : $"(SELECT {ColumnList(columns)} FROM {table.ToQuotedName()} WHERE ({where}))";
        var sql = $"COPY {copied} TO STDOUT (FORMAT csv)";
        // The text API decodes to characters; its underlying stream gives the server's bytes untouched, faster.
        using var reader = (StreamReader)await connection.BeginTextExportAsync(sql, cancellationToken);
        var source = reader.BaseStream;
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            while (true)
            {
                // The copy stream returns one server message (about one row) per read: gather a large chunk first.
                var filled = 0;
                int read;
                while (filled < buffer.Length - 4096 && (read = await source.ReadAsync(buffer.AsMemory(filled), cancellationToken)) > 0)
                {
                    filled += read;
                }
                if (filled == 0)
                {
                    break;
                }
                if (tee is not null)
                {
                    await tee.WriteAsync(buffer.AsMemory(0, filled), cancellationToken);
                }
                parser.Feed(buffer.AsSpan(0, filled));
                rowsDone?.Invoke(parser.Rows);
            }
            parser.Finish();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Loads CSV bytes that <paramref name="produce"/> writes into the table with COPY ... FROM STDIN. With
    /// <paramref name="freeze"/> (only for a table created in the same transaction) the rows are written frozen, so
    /// reading them back for the checksum does not have to set hint bits on every page.
    /// </summary>
    private static async Task CopyInAsync(NpgsqlConnection connection, TableRef table, IReadOnlyList<string> columns,
        Func<Stream, Task> produce, bool freeze, CancellationToken cancellationToken)
    {
        var sql = $"COPY {table.ToQuotedName()} ({ColumnList(columns)}) FROM STDIN (FORMAT csv{(freeze ? ", FREEZE" : "")})";
        var writer = (NpgsqlCopyTextWriter)await connection.BeginTextImportAsync(sql, cancellationToken);
        try
        {
            await produce(writer.BaseStream);
        }
        catch
        {
            try
            {
                await writer.CancelAsync();
                await writer.DisposeAsync();
            }
            catch (Exception e) when (e is NpgsqlException or IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                // The import is abandoned either way (on a lost connection the COPY is already gone); the first error is the one to report.
            }
            throw;
        }
        await writer.DisposeAsync();
    }

    /// <summary>
    /// The archive's schema file: prerequisites (schemas, enum and domain types, sequences the defaults use), read from
    /// the catalog now; then pg_dump's DDL for the table, taken in the export's own snapshot and split into its entries,
    /// by the task this returns. pg_dump is located first, so a missing or old one fails before any row is read.
    /// </summary>
    private static async Task<Task<ArchiveSchemaFile>> ReadSchemaAsync(
        DbConnection connection, DbOpsConnection source, TableRef table, string? snapshot, string? toolPath, CancellationToken cancellationToken)
    {
        // pg_dump --version runs while the catalog is read.
        var locating = PostgresClientTools.LocateAsync("pg_dump", PostgresClientTools.MajorVersion(source.ServerVersion), toolPath, cancellationToken);
        var name = table.ToQuotedName();
        List<TypeRow> types;
        List<SequenceRow> sequences;
        List<TableRef> ancestors;
        try
        {
            await connection.ExecuteAsync(new CommandDefinition("SELECT pg_catalog.set_config('search_path', '', true)", cancellationToken: cancellationToken));
            types = (await connection.QueryAsync<TypeRow>(new CommandDefinition(TypesSql, new { name }, cancellationToken: cancellationToken))).ToList();
            sequences = (await connection.QueryAsync<SequenceRow>(new CommandDefinition(SequencesSql, new { name }, cancellationToken: cancellationToken))).ToList();
            ancestors = (await connection.QueryAsync<(string Schema, string Name)>(new CommandDefinition(AncestorsSql, new { name }, cancellationToken: cancellationToken)))
                .Select(a => new TableRef(a.Schema, a.Name)).ToList();
            await connection.ExecuteAsync(new CommandDefinition("RESET search_path", cancellationToken: cancellationToken));
        }
        catch
        {
            // The catalog's error is the one to report; the look-up's, if any, is observed here and dropped.
            _ = locating.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw;
        }
        var pgDump = await locating;
        var file = new ArchiveSchemaFile($"{table} from {source} (PostgreSQL {source.ServerVersion}), DDL by {pgDump.VersionText}");

        // pg_dump's DDL for one table, in the export's snapshot, split into its entries.
        async Task<List<(string Type, string Sql)>> DumpAsync(TableRef dumped)
        {
            var ddl = new StringBuilder();
            string[] arguments =
            [
                "--schema-only", "--no-owner", "--no-privileges", "--no-password", "--strict-names",
                $"--table={PatternFor(dumped)}", .. snapshot is null ? Array.Empty<string>() : [$"--snapshot={snapshot}"],
            ];
            var run = await ExternalTool.RunAsync(pgDump.Path, arguments, PostgresClientTools.EnvironmentFor(source),
                async (stdout, token) => ddl.Append(await new StreamReader(stdout, Encoding.UTF8).ReadToEndAsync(token)), null, cancellationToken);
            if (run.ExitCode != 0)
            {
                throw new DbOpsException(ErrorIds.ToolFailed, ErrorKind.OperationFailed,
                    $"pg_dump could not write the DDL of {dumped} (exit code {run.ExitCode}): {run.ErrorTail}", table.ToString());
            }
            return [.. SplitDump(ddl.ToString())];
        }

        foreach (var schema in types.Select(t => t.Schema).Concat(sequences.Select(s => s.Schema))
                     .Concat(ancestors.Select(a => Quote(a.Schema))).Prepend(Quote(table.Schema)).Distinct())
        {
            file.Add(ArchiveSchemaFile.Prerequisite, $"schema {schema}", $"CREATE SCHEMA {schema};");
        }
        foreach (var type in types)
        {
            file.Add(ArchiveSchemaFile.Prerequisite, $"type {type.Name}", type.Kind == "e"
                ? $"CREATE TYPE {type.Name} AS ENUM ({type.Labels});"
                : $"CREATE DOMAIN {type.Name} AS {type.Base}{type.Collation}{(type.Default is null ? "" : " DEFAULT " + type.Default)}" +
                  $"{(type.NotNull ? " NOT NULL" : "")}{type.Checks};");
        }
        foreach (var s in sequences)
        {
            var text = new StringBuilder().Append(CultureInfo.InvariantCulture,
                $"CREATE SEQUENCE {s.Name} AS {s.Type} INCREMENT BY {s.Increment} MINVALUE {s.Min} MAXVALUE {s.Max} START WITH {s.Start} CACHE {s.Cache}{(s.Cycle ? " CYCLE" : "")};");
            if (s.LastValue is { } last)
            {
                text.Append(CultureInfo.InvariantCulture, $"\nSELECT pg_catalog.setval('{s.Name.Replace("'", "''")}', {last}, true);");
            }
            file.Add(ArchiveSchemaFile.Prerequisite, $"sequence {s.Name}", text.ToString());
        }

        return FinishAsync();

        async Task<ArchiveSchemaFile> FinishAsync()
        {
            // The ancestors' own tables only (empty where they are missing; their rows, keys and indexes are not this archive's).
            foreach (var ancestor in ancestors)
            {
                var created = (await DumpAsync(ancestor)).FirstOrDefault(e => e.Type == "TABLE").Sql
                    ?? throw new DbOpsException(ErrorIds.ArchiveFailed, ErrorKind.OperationFailed,
                        $"pg_dump wrote no CREATE TABLE for {ancestor}, which {table} inherits from (a foreign table is not supported as an " +
                        "ancestor); nothing was archived. Report this with both tables' DDL (pg_dump --schema-only -t).", table.ToString());
                file.Add(ArchiveSchemaFile.Prerequisite, $"table {PatternFor(ancestor)}", created);
            }
            foreach (var (type, sql) in await DumpAsync(table))
            {
                file.Add(SectionFor(type), type, sql);
            }
            // An archive that cannot recreate its table is useless; refuse it here rather than report it archived.
            if (!file.In(ArchiveSchemaFile.Table).Any(s => s.What == "TABLE"))
            {
                throw new DbOpsException(ErrorIds.ArchiveFailed, ErrorKind.OperationFailed,
                    $"pg_dump's DDL for {table} could not be split into its entries (no CREATE TABLE found); nothing was archived. " +
                    "Report this with the table's schema and name.", table.ToString());
            }
            return file;
        }
    }

    /// <summary>pg_dump's entries: their TOC type and SQL, without the preamble's SET lines and psql meta-commands.</summary>
    internal static IEnumerable<(string Type, string Sql)> SplitDump(string dump)
    {
        dump = RestrictLine().Replace(dump, "");
        var headers = TocHeader().Matches(dump);
        for (var i = 0; i < headers.Count; i++)
        {
            var start = headers[i].Index + headers[i].Length;
            var end = i + 1 < headers.Count ? headers[i + 1].Index : dump.Length;
            var sql = dump[start..end];
            var complete = sql.IndexOf("--\n-- PostgreSQL database dump complete", StringComparison.Ordinal);
            sql = (complete >= 0 ? sql[..complete] : sql).Trim();
            if (sql.Length > 0)
            {
                yield return (headers[i].Groups["type"].Value, sql);
            }
        }
    }

    /// <summary>
    /// What runs before the rows (the table, its sequences and defaults), after them (keys and indexes, built once
    /// rather than row by row), and after them only if it can (objects that depend on other tables or functions).
    /// </summary>
    private static string SectionFor(string tocType) => tocType switch
    {
        "TABLE" or "SEQUENCE" or "SEQUENCE OWNED BY" or "DEFAULT" or "TYPE" or "DOMAIN" => ArchiveSchemaFile.Table,
        "CONSTRAINT" or "CHECK CONSTRAINT" or "INDEX" or "COMMENT" or "STATISTICS" => ArchiveSchemaFile.AfterLoad,
        _ => ArchiveSchemaFile.Dependent, // FK CONSTRAINT, TRIGGER, TABLE ATTACH, INDEX ATTACH, POLICY, RULE, ...
    };

    /// <summary>Runs a prerequisite only when its object is missing from the target.</summary>
    public async Task<bool> PrerequisiteMissingAsync(DbConnection connection, string what, CancellationToken cancellationToken)
    {
        var space = what.IndexOf(' ', StringComparison.Ordinal);
        var (kind, name) = (what[..space], what[(space + 1)..]);
        var sql = kind switch
        {
            "schema" => "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE @name IN (quote_ident(nspname), '\"' || replace(nspname, '\"', '\"\"') || '\"'))",
            "type" => "SELECT to_regtype(@name) IS NULL",
            _ => "SELECT to_regclass(@name) IS NULL",
        };
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(sql, new { name }, cancellationToken: cancellationToken));
    }

    /// <summary>Moves the sequences a newly created table owns past the keys just loaded.</summary>
    public async Task AdvanceOwnedSequencesAsync(WritableSession session, DbTransaction transaction, TableRef table, CancellationToken cancellationToken)
    {
        var connection = session.Connection;
        var name = table.ToQuotedName();
        foreach (var (sequence, column) in await connection.QueryAsync<(string, string)>(
                     new CommandDefinition(OwnedSequencesSql, new { name }, cancellationToken: cancellationToken)))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                $"SELECT pg_catalog.setval(@sequence, max({Quote(column)})) FROM {name} HAVING max({Quote(column)}) IS NOT NULL",
                new { sequence }, cancellationToken: cancellationToken));
        }
    }

    /// <summary>A table with only the archived columns and types: pg_dump's DDL names the archived table throughout.</summary>
    public string CreateRenamedTableSql(ArchiveSchemaFile schema, IReadOnlyList<ArchiveColumn> columns, TableRef target) =>
        $"CREATE TABLE {target.ToQuotedName()} ({string.Join(", ", columns.Select(c => $"{Quote(c.Name)} {c.Type}{(c.Nullable ? "" : " NOT NULL")}"))})";

    private static string ColumnList(IEnumerable<string> columns) => string.Join(", ", columns.Select(Quote));

    private static string Quote(string identifier) => PostgresEngine.Instance.QuoteIdentifier(identifier);

    /// <summary>pg_dump's --table takes a pattern; inside double quotes every character is literal.</summary>
    private static string PatternFor(TableRef table) => $"{Quote(table.Schema)}.{Quote(table.Name)}";

    private sealed class TypeRow
    {
        public string Schema { get; set; } = "";
        public string Name { get; set; } = "";
        public string Kind { get; set; } = "";
        public int Depth { get; set; }
        public string? Labels { get; set; }
        public string? Base { get; set; }
        public string? Collation { get; set; }
        public string? Default { get; set; }
        public bool NotNull { get; set; }
        public string? Checks { get; set; }
    }

    private sealed class SequenceRow
    {
        public string Schema { get; set; } = "";
        public string Name { get; set; } = "";
        public string Type { get; set; } = "";
        public long Start { get; set; }
        public long Increment { get; set; }
        public long Min { get; set; }
        public long Max { get; set; }
        public long Cache { get; set; }
        public bool Cycle { get; set; }
        public long? LastValue { get; set; }
    }
}
