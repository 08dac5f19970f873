using DbOps.Core.Errors;
using DbOps.Core.Progress;
using DbOps.Core.Usage;

namespace DbOps.Core.Tests;

/// <summary>Find-UnusedTable's evidence and verdicts.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ArchiveUsageTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task SQLite_dependents_make_a_table_Unknown_and_code_references_make_it_Active()
    {
        var db = await Sqlite.CreateAsync(_folder.File("app.db"), """
            CREATE TABLE parent(id INTEGER PRIMARY KEY);
            CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id));
            CREATE TABLE seen(x);
            CREATE VIEW seen_view AS SELECT x FROM seen;
            CREATE TABLE audit(x);
            CREATE TRIGGER child_audit AFTER INSERT ON child BEGIN INSERT INTO audit VALUES (new.id); END;
            CREATE TABLE lonely(x); INSERT INTO lonely VALUES (1);
            CREATE TABLE used_in_code(x); INSERT INTO used_in_code VALUES (1);
            INSERT INTO parent VALUES (1); INSERT INTO seen VALUES (1); INSERT INTO audit VALUES (1);
            """);
        var code = Directory.CreateDirectory(_folder.File("src")).FullName;
        await File.WriteAllTextAsync(Path.Combine(code, "repo.sql"), "select * from Used_In_Code; -- not lonely_table");
        await File.WriteAllBytesAsync(Path.Combine(code, "blob.bin"), [0, 1, 2, .. "lonely"u8.ToArray()]);

        var usage = (await UsageService.FindAsync(new UnusedTableRequest(db, [code], Exclude: ["chi*"]), NullObserver.Instance, CancellationToken.None))
            .ToDictionary(u => u.Table);

        Assert.DoesNotContain("child", usage.Keys);
        Assert.Equal(UsageVerdict.Unknown, usage["parent"].Verdict);
        Assert.Contains(usage["parent"].Dependents, d => d.Contains("child", StringComparison.Ordinal));
        Assert.Equal(UsageVerdict.Unknown, usage["seen"].Verdict);
        Assert.Contains("view seen_view", usage["seen"].Dependents);
        Assert.Contains("trigger child_audit on child", usage["audit"].Dependents);
        Assert.Equal(UsageVerdict.Unused, usage["lonely"].Verdict);
        Assert.Equal(0, usage["lonely"].CodeReferences);
        Assert.Equal(UsageVerdict.Active, usage["used_in_code"].Verdict);
        Assert.Equal([Path.Combine(code, "repo.sql")], usage["used_in_code"].CodeFiles);
    }

    [Fact]
    public async Task SQLite_without_CodePath_cannot_call_a_table_with_rows_Unused()
    {
        var db = await Sqlite.CreateAsync(_folder.File("app.db"), "CREATE TABLE t(x); INSERT INTO t VALUES (1); CREATE TABLE e(x);");

        var usage = (await UsageService.FindAsync(new UnusedTableRequest(db), NullObserver.Instance, CancellationToken.None)).ToDictionary(u => u.Table);

        Assert.Equal(UsageVerdict.Unknown, usage["t"].Verdict);
        Assert.Contains("-CodePath", usage["t"].Reason);
        Assert.Equal(UsageVerdict.Empty, usage["e"].Verdict);
    }

    [Fact]
    public async Task SQLite_virtual_tables_are_dependents_and_their_shadow_tables_are_not_listed()
    {
        var db = await Sqlite.CreateAsync(_folder.File("fts.db"), """
            CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO docs VALUES (1, 'hello');
            CREATE VIRTUAL TABLE docs_fts USING fts5(body, content='docs', content_rowid='id');
            CREATE VIRTUAL TABLE notes USING fts5(body);
            """);

        var usage = (await UsageService.FindAsync(new UnusedTableRequest(db), NullObserver.Instance, CancellationToken.None)).ToDictionary(u => u.Table);

        Assert.Equal(["docs", "docs_fts", "notes"], usage.Keys.Order());
        Assert.Equal(["virtual table docs_fts"], usage["docs"].Dependents);
        Assert.Empty(usage["docs_fts"].Dependents);
        Assert.Empty(usage["notes"].Dependents);
    }

    [Fact]
    public async Task A_missing_CodePath_folder_is_FileNotFound()
    {
        var db = await Sqlite.CreateAsync(_folder.File("app.db"), "CREATE TABLE t(x)");

        await Assertions.ThrowsDbOps(ErrorIds.FileNotFound, () =>
            UsageService.FindAsync(new UnusedTableRequest(db, [_folder.File("nope")]), NullObserver.Instance, CancellationToken.None));
    }

    [Fact]
    public async Task Pagila_tables_read_by_views_or_referenced_by_foreign_keys_are_not_Unused()
    {
        var db = await DbOps.Core.Connections.DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(cluster.CreatePagila()), null, null, CancellationToken.None);

        var usage = (await UsageService.FindAsync(new UnusedTableRequest(db, MinimumStatsAge: TimeSpan.Zero), NullObserver.Instance, CancellationToken.None))
            .ToDictionary(u => u.QualifiedName);

        Assert.Contains(usage["public.actor"].Dependents, d => d.StartsWith("view public.actor_info", StringComparison.Ordinal));
        Assert.Contains(usage["public.language"].Dependents, d => d.StartsWith("foreign key", StringComparison.Ordinal));
        Assert.DoesNotContain(usage.Values, u => u.Verdict == UsageVerdict.Unused && u.Dependents.Count > 0);
        Assert.All(usage.Values, u => Assert.NotNull(u.StatsAge));
    }
}
