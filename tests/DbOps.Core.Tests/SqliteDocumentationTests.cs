using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Documentation;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Engines;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

public sealed class SqliteDocumentationTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>Tables, columns and foreign keys as SQLite's own pragmas list them (not through DbOps' Schema layer).</summary>
    private static (List<CatalogTable> Tables, List<CatalogForeignKey> ForeignKeys) Catalog(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var tables = new List<CatalogTable>();
        var keys = new List<CatalogForeignKey>();
        foreach (var name in Query(connection, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", null, r => r.GetString(0)))
        {
            tables.Add(new CatalogTable(name, Query(connection, "SELECT name FROM pragma_table_xinfo($t) ORDER BY cid", name, r => r.GetString(0))));
            foreach (var fk in Query(connection, "SELECT id, \"table\", group_concat(\"from\", ', ') FROM (SELECT * FROM pragma_foreign_key_list($t) ORDER BY id, seq) GROUP BY id", name,
                         r => (Parent: r.GetString(1), Columns: r.GetString(2))))
            {
                var parent = Query(connection, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $t COLLATE NOCASE", fk.Parent, r => r.GetString(0)).Single();
                keys.Add(new CatalogForeignKey(name, parent, fk.Columns.Split(", ")));
            }
        }
        return (tables, keys);
    }

    private static List<T> Query<T>(SqliteConnection connection, string sql, string? table, Func<SqliteDataReader, T> read)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        if (table is not null)
        {
            command.Parameters.AddWithValue("$t", table);
        }
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(read(reader));
        }
        return rows;
    }

    [Fact]
    public async Task Chinook_documentation_holds_every_table_column_and_foreign_key_and_both_diagrams_parse()
    {
        var chinook = await Sqlite.ChinookAsync(_folder);
        var observer = new RecordingObserver();
        var before = await File.ReadAllBytesAsync(chinook.Database);

        var result = await DocumentationChecks.ExportAsync(chinook, _folder, observer: observer);

        var (tables, keys) = Catalog(chinook.Database);
        Assert.Equal(11, tables.Count);
        Assert.Equal(11, keys.Count);
        DocumentationChecks.AssertDocumentsCatalog(result, tables, keys);
        Assert.Equal(await File.ReadAllBytesAsync(chinook.Database), before);
        Assert.Equal(["chinook.mmd", "chinook.dot", "chinook.svg", "chinook.md"], result.Files.Select(Path.GetFileName));
        var markdown = await File.ReadAllTextAsync(result.MarkdownPath);
        Assert.Contains("Rows: **3,503** (exact count)", DocumentationChecks.Section(markdown, "Track"));
        Assert.Contains(observer.ProgressReports, p => p.Status.StartsWith("Profiling Track (", StringComparison.Ordinal));
        Assert.Empty(Directory.GetFiles(_folder.File("docs"), ".*"));
        if (!OperatingSystem.IsWindows())
        {
            Assert.All(result.Files, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
        }
    }

    [Fact]
    public async Task Goals_tracker_draws_the_inferred_sessions_goal_id_relationship_dashed_and_labelled()
    {
        var goals = await Sqlite.GoalsTrackerAsync(_folder);

        var result = await DocumentationChecks.ExportAsync(goals, _folder);

        var (tables, keys) = Catalog(goals.Database);
        var diagram = DocumentationChecks.AssertDocumentsCatalog(result, tables, keys);
        Assert.Equal((2, 1), (result.DeclaredRelationships, result.InferredRelationships));
        var inferred = Assert.Single(diagram.Relationships, r => !r.Identifying);
        Assert.Equal(("goals", "sessions", "goal_id (inferred)"), (inferred.Left, inferred.Right, inferred.Role));
        var edge = Assert.Single(GraphvizCli.Edges(result.DotPath), e => e.Style == "dashed");
        Assert.Equal(("sessions", "goals"), (edge.Tail, edge.Head));
        Assert.Contains("referenced by `sessions(goal_id)` — *inferred*", await File.ReadAllTextAsync(result.MarkdownPath));
    }

    [Fact]
    public async Task Profiles_count_nulls_and_distinct_values_with_one_aggregate_query_and_never_read_values()
    {
        var path = _folder.File("profile.db");
        var connection = await Sqlite.CreateAsync(path, """
            CREATE TABLE t (id INTEGER PRIMARY KEY, color TEXT, secret TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
            INSERT INTO t SELECT i, CASE WHEN i % 4 = 0 THEN NULL ELSE 'c' || (i % 3) END, 'password-' || i FROM n;
            """);

        var result = await DocumentationChecks.ExportAsync(connection, _folder);

        var markdown = await File.ReadAllTextAsync(result.MarkdownPath);
        Assert.Contains("| 2 | `color` | `TEXT` | yes |  |  | 25% | 3 |", markdown);
        Assert.Contains("| 3 | `secret` | `TEXT` | yes |  |  | 0% | 200 (unique) |", markdown);
        Assert.DoesNotContain("password-", markdown);
        Assert.Contains("one aggregate query", markdown);

        var bare = await DocumentationService.ExportAsync(new DocumentationRequest(connection, _folder.File("bare"), Profile: false, JournalPath: _folder.File("j.jsonl")),
            NullObserver.Instance, CancellationToken.None);
        Assert.False(bare.Profiled);
        Assert.Contains("Columns not profiled (-NoProfile)", await File.ReadAllTextAsync(bare.MarkdownPath));
    }

    [Fact]
    public async Task A_diagram_too_long_for_Mermaid_is_embedded_without_columns_and_kept_whole_in_the_mmd_file()
    {
        var sql = new System.Text.StringBuilder();
        for (var t = 0; t < 40; t++)
        {
            var columns = string.Join(", ", Enumerable.Range(0, 60).Select(c => $"a_rather_long_column_name_{c} TEXT"));
            sql.Append($"CREATE TABLE table_{t} (id INTEGER PRIMARY KEY, table_{(t + 1) % 40}_id INTEGER, {columns});\n");
        }
        var connection = await Sqlite.CreateAsync(_folder.File("wide.db"), sql.ToString());

        var result = await DocumentationChecks.ExportAsync(connection, _folder, profile: false);

        var full = await File.ReadAllTextAsync(result.MermaidPath);
        Assert.True(full.Length > MermaidDiagram.MaxTextSize, $"{full.Length} characters");
        Assert.Equal(40 * 62, MermaidErValidator.Parse(full).Entities.Values.Sum(e => e.Attributes.Count));
        var markdown = await File.ReadAllTextAsync(result.MarkdownPath);
        var start = markdown.IndexOf("```mermaid\n", StringComparison.Ordinal) + "```mermaid\n".Length;
        var embedded = markdown[start..markdown.IndexOf("\n```\n", start, StringComparison.Ordinal)];
        Assert.True(embedded.Length <= MermaidDiagram.MaxTextSize);
        var diagram = MermaidErValidator.Parse(embedded);
        Assert.Equal(40, diagram.Entities.Count);
        Assert.Equal(40, diagram.Relationships.Count(r => !r.Identifying));
        Assert.All(diagram.Entities.Values, e => Assert.Empty(e.Attributes));
        Assert.Contains("without their columns", markdown);
    }

    [Fact]
    public async Task Without_Graphviz_no_SVG_is_written_and_a_verbose_message_says_why()
    {
        var goals = await Sqlite.GoalsTrackerAsync(_folder);
        var observer = new RecordingObserver();

        var result = await DocumentationService.ExportAsync(
            new DocumentationRequest(goals, _folder.File("docs"), JournalPath: _folder.File("j.jsonl"), DotPath: _folder.File("no-graphviz-here")),
            observer, CancellationToken.None);

        Assert.Null(result.SvgPath);
        Assert.Equal(3, result.Files.Count);
        Assert.False(File.Exists(Path.ChangeExtension(result.DotPath, ".svg")));
        Assert.Contains(observer.VerboseMessages, m => m.Contains("no SVG was rendered", StringComparison.Ordinal));
        Assert.DoesNotContain(".svg", await File.ReadAllTextAsync(result.MarkdownPath));
    }

    [Fact]
    public async Task Hostile_names_give_valid_Mermaid_and_DOT_and_keep_every_table_and_relationship()
    {
        var path = _folder.File("hostile.db");
        var connection = await Sqlite.CreateAsync(path, """
            CREATE TABLE "class" ("end" INTEGER PRIMARY KEY, "PK" TEXT, "to" TEXT, "direction TB" TEXT, "1st col" INTEGER, "~a~b~" TEXT);
            CREATE TABLE "my table" (id INTEGER PRIMARY KEY, "class_end" INTEGER REFERENCES "class"("end"), "we""ird" TEXT, "per%cent" TEXT,
                                     "back\slash" TEXT, "a.b" TEXT, "`tick`" TEXT, "pipe|col" TEXT, "{brace}" TEXT, "ünïcödé" TEXT, "日本語" TEXT);
            CREATE TABLE "a.b" (id INTEGER PRIMARY KEY, "my table_id" INTEGER REFERENCES "my table"(id));
            CREATE TABLE "a b" (id INTEGER PRIMARY KEY, "a.b_id" INTEGER REFERENCES "a.b"(id), "weird type" "character varying(20) ~x~ %% end");
            CREATE TABLE "one" (id INTEGER PRIMARY KEY);
            CREATE TABLE "erDiagram" (id INTEGER PRIMARY KEY, one_id INTEGER);
            CREATE TABLE "1999" (id INTEGER PRIMARY KEY, "direction lr" INTEGER REFERENCES "one"(id));
            CREATE TABLE "u" ("uk" INTEGER PRIMARY KEY, "fk" INTEGER REFERENCES "u"("uk"));
            CREATE TABLE "%%{init: {'theme':'dark'}}%%" (id INTEGER PRIMARY KEY);
            CREATE TABLE "direction TB" (id INTEGER PRIMARY KEY);
            """);

        var result = await DocumentationChecks.ExportAsync(connection, _folder);

        var mermaid = await File.ReadAllTextAsync(result.MermaidPath);
        var diagram = MermaidErValidator.Parse(mermaid);
        var (tables, keys) = Catalog(path);
        Assert.Equal(tables.Count, diagram.Entities.Count);
        Assert.Equal(keys.Count, diagram.Relationships.Count(r => r.Identifying));
        Assert.Equal(1, diagram.Relationships.Count(r => !r.Identifying)); // erDiagram.one_id -> one.id
        Assert.Equal(diagram.Entities.Count, diagram.Entities.Values.Select(e => e.Id).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.Contains(diagram.Entities.Values, e => e.Alias == "my table");
        Assert.Contains(diagram.Entities.Values, e => e.Alias == "a.b");
        Assert.DoesNotContain("%", mermaid);
        Assert.DoesNotContain("direction TB", mermaid, StringComparison.OrdinalIgnoreCase);
        var classTable = diagram.Entities.Values.Single(e => e.Alias == "class");
        Assert.Equal(["end", "PK_", "to", "direction_TB", "_1st_col", "_a_b_"], classTable.Attributes.Select(a => a.Name));
        Assert.Contains(classTable.Attributes, a => a.Name == "PK_" && a.Comment == "PK");

        var (exit, _, error) = GraphvizCli.Run(result.DotPath, "svg");
        Assert.True(exit == 0, error);
        var edges = GraphvizCli.Edges(result.DotPath);
        Assert.Contains(edges, e => e.Tail == "my table" && e.Head == "class");
        Assert.Contains(edges, e => e.Tail == "u" && e.Head == "u");
        var markdown = await File.ReadAllTextAsync(result.MarkdownPath);
        Assert.Contains("### %%{init: {'theme':'dark'}}%%", markdown);
        Assert.Contains("| `pipe\\|col` |", markdown);
        Assert.Contains("`` `tick` ``", markdown);
    }

    [Fact]
    public async Task Journal_marks_archived_and_removed_tables_and_names_the_last_verified_backup_with_its_commands()
    {
        var goals = await Sqlite.GoalsTrackerAsync(_folder);
        var journalPath = _folder.File("ops.jsonl");

        var none = await DocumentationChecks.ExportAsync(goals, _folder, journalPath);
        var noBackup = await File.ReadAllTextAsync(none.MarkdownPath);
        Assert.Contains("**There is no verified backup of this database**", noBackup);
        Assert.Contains($"Backup-Database -Database '{goals.Database}' -Destination <folder> -Verify", noBackup);
        Assert.Null(none.LastVerifiedBackup);

        var backup = await BackupService.BackupAsync(new BackupRequest(goals, _folder.File("backups"), Verify: true, JournalPath: journalPath),
            NullObserver.Instance, CancellationToken.None);
        await BackupService.BackupAsync(new BackupRequest(goals, _folder.File("backups"), Name: "later.sqlite", JournalPath: journalPath),
            NullObserver.Instance, CancellationToken.None);
        var journal = OperationsJournal.Open(journalPath);
        journal.Append(JournalEntry.For(goals, JournalOperations.ArchiveCreated) with
            { Schema = "main", Table = "tmp_migration_2019", Rows = 3, Path = "/archive/tmp_migration_2019.manifest.json", Checksum = "abc123", Verified = true });
        journal.Append(JournalEntry.For(goals, JournalOperations.TableRemoved) with
            { Schema = "main", Table = "old_audit", Rows = 42, Path = "/archive/old_audit.manifest.json", Checksum = "def456" });
        journal.Append(JournalEntry.For(goals, JournalOperations.TableRemoved) with { Schema = "main", Table = "goals", Rows = 1 });
        journal.Append(JournalEntry.For(goals, JournalOperations.ArchiveCreated) with { Schema = "main", Table = "goals", Path = "/archive/goals.manifest.json" });
        var other = await Sqlite.CreateAsync(_folder.File("other.db"), "CREATE TABLE x (id INTEGER)");
        journal.Append(JournalEntry.For(other, JournalOperations.TableRemoved) with { Schema = "main", Table = "elsewhere" });

        var result = await DocumentationChecks.ExportAsync(goals, _folder, journalPath);

        var markdown = await File.ReadAllTextAsync(result.MarkdownPath);
        Assert.Equal((2, 1), (result.ArchivedTables, result.RemovedTables));
        Assert.Equal(backup.Path, result.LastVerifiedBackup);
        Assert.Contains("### tmp\\_migration\\_2019 (archived)", markdown);
        Assert.Contains("**Archived** on", DocumentationChecks.Section(markdown, "tmp_migration_2019"));
        var removed = markdown[markdown.IndexOf("## Removed tables", StringComparison.Ordinal)..markdown.IndexOf("## Backup and restore", StringComparison.Ordinal)];
        Assert.Contains("| `old_audit` |", removed);
        Assert.Contains("`/archive/old_audit.manifest.json`", removed);
        Assert.DoesNotContain("elsewhere", removed);
        Assert.DoesNotContain("`goals`", removed);
        var restore = markdown[markdown.IndexOf("## Backup and restore", StringComparison.Ordinal)..];
        Assert.Contains($"`{backup.Path}` ({backup.SizeBytes:N0} bytes", restore);
        Assert.Contains(backup.Sha256, restore);
        Assert.Contains($"Test-Backup -Path '{backup.Path}'", restore);
        Assert.Contains($"Restore-Database -Path '{backup.Path}' -Database '{_folder.File("goals-restored.db")}'", restore);
        Assert.Contains($"Restore-Database -Path '{backup.Path}' -Database '{goals.Database}' -Force", restore);
        Assert.Contains("later.sqlite", restore); // the newer, unverified backup is pointed out
        Assert.Contains("goals (archived)", MermaidErValidator.Parse(await File.ReadAllTextAsync(result.MermaidPath)).Entities["goals"].Alias);
        var (exit, svg, error) = GraphvizCli.Run(result.DotPath, "svg");
        Assert.True(exit == 0, error);
        Assert.Contains("archived", svg);
        Assert.NotNull(result.SvgPath);
    }

    [Fact]
    public async Task Table_selection_documents_only_those_tables_and_NoClobber_refuses_to_replace_files()
    {
        var goals = await Sqlite.GoalsTrackerAsync(_folder);

        var result = await DocumentationChecks.ExportAsync(goals, _folder, tables: ["goals", "SESSIONS"]);

        Assert.Equal(2, result.TableCount);
        Assert.Equal((0, 1), (result.DeclaredRelationships, result.InferredRelationships));
        var markdown = await File.ReadAllTextAsync(result.MarkdownPath);
        Assert.Contains("Only the tables named with -Table are documented.", markdown);
        Assert.Contains("referenced by `activity_instances(session_id)` — declared", markdown);

        await DocumentationChecks.ExportAsync(goals, _folder); // regenerating replaces the files by default
        await Assertions.ThrowsDbOps(Errors.ErrorIds.DestinationExists, () => DocumentationService.ExportAsync(
            new DocumentationRequest(goals, _folder.File("docs"), NoClobber: true), NullObserver.Instance, CancellationToken.None));
        await Assertions.ThrowsDbOps(Errors.ErrorIds.TableNotFound, () => DocumentationChecks.ExportAsync(goals, _folder, tables: ["nope"]));
        await Assertions.ThrowsDbOps(Errors.ErrorIds.InvalidDocumentationName, () => DocumentationService.ExportAsync(
            new DocumentationRequest(goals, _folder.File("docs"), Name: "../x"), NullObserver.Instance, CancellationToken.None));
    }
}
