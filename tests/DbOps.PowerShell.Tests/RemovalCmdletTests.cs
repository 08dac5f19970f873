using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

/// <summary>Export-TableArchive | Remove-DeprecatedTable through the engine, as a cleanup runbook runs them.</summary>
public sealed class RemovalCmdletTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    private static object? Prop(PSObject o, string name) => o.Properties[name].Value;

    private const string AppSql = """
        CREATE TABLE goals(id INTEGER PRIMARY KEY, title TEXT NOT NULL);
        CREATE TABLE old_log(id INTEGER PRIMARY KEY, line TEXT);
        CREATE TABLE old_parent(id INTEGER PRIMARY KEY);
        CREATE TABLE old_child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES old_parent(id));
        CREATE TABLE kept(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES goals(id));
        CREATE TABLE empty_t(x);
        INSERT INTO goals VALUES (1, 'ship it');
        INSERT INTO old_parent VALUES (1), (2);
        INSERT INTO old_child VALUES (1, 1), (2, 2);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO old_log SELECT i, 'line ' || i FROM n;
        """;

    private string CreateApp()
    {
        var path = _folder.File("app.db");
        _session.ExecuteSqlite(path, AppSql);
        return path;
    }

    private long TableCount(string path, string name) =>
        (long)_session.SqliteScalar(path, $"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '{name}'");

    [Fact]
    public void Archived_tables_piped_in_are_dropped_dependents_first_and_reported()
    {
        var path = CreateApp();

        var removed = _session.Run("""
            $archives = foreach ($t in 'old_parent', 'old_child', 'old_log') { Export-TableArchive -Database $path -Table $t -Destination $dest -Verify }
            $archives | Remove-DeprecatedTable -Confirm:$false
            """, new { path, dest = _folder.File("archive") });

        Assert.True(_session.Errors.Count == 0, string.Join("; ", _session.Errors));
        Assert.Equal(["old_child", "old_parent", "old_log"], removed.Select(r => (string)Prop(r, "Table")!));
        Assert.All(removed, r => Assert.Equal(true, Prop(r, "Dropped")));
        Assert.Equal("DbOps.Core.Removal.TableRemoval", removed[0].BaseObject.GetType().FullName);
        Assert.Equal(0L, TableCount(path, "old_log"));
        Assert.Equal(1L, TableCount(path, "goals"));
    }

    [Fact]
    public void WhatIf_prints_the_statements_and_drops_nothing()
    {
        var path = CreateApp();

        var output = _session.Run("Remove-DeprecatedTable -Database $path -Table empty_t -WhatIf", new { path });

        Assert.Empty(_session.Errors);
        Assert.Empty(output);
        Assert.Contains("What if:", _session.Host.Output);
        Assert.Contains("DROP TABLE \"main\".\"empty_t\"", _session.Host.Output);
        Assert.Equal(1L, TableCount(path, "empty_t"));
    }

    [Fact]
    public void WhatIf_of_a_batch_that_is_all_refused_writes_no_journal_line()
    {
        var path = CreateApp();
        var journal = Path.Combine(Path.GetDirectoryName(path)!, "whatif-journal.jsonl");
        // An earlier run's intent with no outcome, for a table that is gone: a real run would record its outcome now.
        var intent = $$"""{"time":"2026-01-01T00:00:00+00:00","operation":"TableRemovalStarted","provider":"SQLite","database":{{System.Text.Json.JsonSerializer.Serialize(Path.GetFullPath(path))}},"schema":"main","table":"gone","id":"intent-1"}""";
        File.WriteAllText(journal, intent + "\n");

        _session.Run("Remove-DeprecatedTable -Database $path -Table nosuch -JournalPath $journal -WhatIf", new { path, journal });

        Assert.NotEmpty(_session.Errors);
        Assert.Equal(intent + "\n", File.ReadAllText(journal));
    }

    [Fact]
    public void A_table_with_rows_and_no_archive_is_refused_with_ArchiveRequired_and_an_empty_one_goes()
    {
        var path = CreateApp();

        var output = _session.Run("""
            Remove-DeprecatedTable -Database $path -Table old_log -Confirm:$false
            Remove-DeprecatedTable -Database $path -Table empty_t -Confirm:$false
            """, new { path });

        var error = Assert.Single(_session.Errors);
        Assert.StartsWith("ArchiveRequired", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal(["Refused", "Dropped"], output.Select(o => (string)Prop(o, "Status")!));
        Assert.Equal(1L, TableCount(path, "old_log"));
        Assert.Equal(0L, TableCount(path, "empty_t"));
    }

    [Fact]
    public void The_question_names_how_many_rows_the_archive_holds()
    {
        var path = CreateApp();
        var dest = Path.Combine(Path.GetDirectoryName(path)!, "archive-rows");

        _session.Run("Export-TableArchive -Database $path -Table old_log -Destination $dest | Remove-DeprecatedTable -WhatIf", new { path, dest });

        Assert.Empty(_session.Errors);
        Assert.Contains("What if: Drop old_log (300 rows), archived in '", _session.Host.Output);
        Assert.Equal(1L, TableCount(path, "old_log"));
    }

    [Fact]
    public void The_question_is_one_line_naming_the_table_and_its_archive_and_WhatIf_adds_the_statements()
    {
        var path = CreateApp();

        _session.Host.Answers.Enqueue("&No");
        _session.Run("Remove-DeprecatedTable -Database $path -Table empty_t", new { path });
        _session.Run("Remove-DeprecatedTable -Database $path -Table empty_t -WhatIf", new { path });

        Assert.Empty(_session.Errors);
        var prompt = Assert.Single(_session.Host.Prompts);
        Assert.Contains("Drop empty_t (no archive: only if it is empty).", prompt);
        Assert.DoesNotContain("DROP TABLE", prompt);
        Assert.Contains("What if: Drop empty_t (no archive: only if it is empty).", _session.Host.Output);
        Assert.Contains("DROP TABLE \"main\".\"empty_t\"", _session.Host.Output);
        Assert.Equal(1L, TableCount(path, "empty_t"));
    }

    [Fact]
    public void It_asks_before_each_drop_and_No_leaves_the_table()
    {
        var path = CreateApp();

        _session.Host.Answers.Enqueue("&No");
        var declined = _session.Run("Remove-DeprecatedTable -Database $path -Table empty_t", new { path });
        Assert.Single(_session.Host.Prompts);
        Assert.Empty(declined);
        Assert.Equal(1L, TableCount(path, "empty_t"));

        _session.Host.Answers.Enqueue("&Yes");
        var dropped = Assert.Single(_session.Run("Remove-DeprecatedTable -Database $path -Table empty_t", new { path }));
        Assert.Empty(_session.Errors);
        Assert.Equal("Dropped", Prop(dropped, "Status"));
        Assert.Equal(0L, TableCount(path, "empty_t"));
    }
}
