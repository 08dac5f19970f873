using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Removal;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

/// <summary>Remove-DeprecatedTable -IncludeDependent on SQLite: named views and triggers go with the table and come back with it.</summary>
public sealed class DependentRetirementSqliteTests : IDisposable
{
    private const string View = "CREATE VIEW recent_imports AS SELECT id, source FROM legacy_imports WHERE imported_at > '2021'";
    private const string Trigger = "CREATE TRIGGER goals_audit AFTER INSERT ON goals BEGIN INSERT INTO legacy_imports(source) VALUES ('goal ' || new.id); END";

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private async Task<TableArchive> ArchiveAsync(DbOpsConnection db, string table) =>
        await ArchiveService.ExportAsync(new ArchiveExportRequest(db, table, _folder.File("archives"), Verify: true), NullObserver.Instance, CancellationToken.None);

    private static async Task<TableRemoval> RemoveAsync(DbOpsConnection db, TableArchive archive, params string[] include) =>
        Assert.Single(await RemovalService.RemoveAsync(
            new RemovalRequest(db, [RemovalTarget.For(archive)], RemovalRequest.DefaultLockTimeout) { IncludeDependents = include },
            NullObserver.Instance, CancellationToken.None));

    private static Task<ArchiveImportResult> ImportAsync(DbOpsConnection db, TableArchive archive) =>
        ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, db), NullObserver.Instance, CancellationToken.None);

    private static long Objects(DbOpsConnection db, string name)
    {
        using var connection = new SqliteConnection($"Data Source={db.Database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_schema WHERE name = $name";
        command.Parameters.AddWithValue("$name", name);
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public async Task A_named_view_and_trigger_are_retired_with_the_table_and_work_again_after_import()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, View + ";" + Trigger);
        var archive = await ArchiveAsync(db, "legacy_imports");
        var viewRows = Sqlite.Count(db.Database, "recent_imports");

        var removal = await RemoveAsync(db, archive, "recent_imports", "goals_audit");

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Equal(["trigger goals_audit on goals", "view recent_imports"], removal.RetiredDependents.Order());
        var ddl = removal.Statements.SkipWhile(s => !s.StartsWith("DROP", StringComparison.Ordinal)).ToList();
        Assert.Equal("DROP TABLE \"main\".\"legacy_imports\"", ddl[^2]);
        Assert.Equal(["DROP TRIGGER \"goals_audit\"", "DROP VIEW \"recent_imports\""], ddl[..2].Order());
        Assert.Equal((0, 0), (Objects(db, "recent_imports"), Objects(db, "goals_audit")));
        Assert.Equal(RetiredDependents.PathFor(archive.ManifestPath), removal.DependentsPath);
        var sha256 = (await File.ReadAllTextAsync(removal.DependentsPath + ".sha256")).Split(' ')[0];
        var entry = OperationsJournal.Open().Read().Last(e => e.Operation == JournalOperations.TableRemoved && e.Database == db.Database);
        Assert.Equal(removal.RetiredDependents.Order(), entry.Objects!.Order());
        Assert.Equal(sha256, entry.Sha256);

        var imported = await ImportAsync(db, archive);

        Assert.Equal(["view recent_imports", "trigger goals_audit on goals"], imported.RecreatedDependents.Order().Reverse());
        Assert.Empty(imported.Skipped);
        Assert.Equal(viewRows, Sqlite.Count(db.Database, "recent_imports"));
        var rows = Sqlite.Count(db.Database, "legacy_imports");
        Sqlite.Execute(db.Database, "INSERT INTO goals(id, title, created_at) VALUES (990001, 'new', '2026-01-01')");
        Assert.Equal(rows + 1, Sqlite.Count(db.Database, "legacy_imports"));
    }

    [Fact]
    public async Task A_dependent_that_is_not_named_refuses_the_drop_naming_it_and_the_next_step_and_nothing_is_dropped()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, View + ";" + Trigger);
        var archive = await ArchiveAsync(db, "legacy_imports");

        var removal = await RemoveAsync(db, archive, "recent_imports");

        Assert.Equal(ErrorIds.DependentObjectsExist, removal.ErrorId);
        Assert.Contains("trigger goals_audit on goals", removal.Reason, StringComparison.Ordinal);
        Assert.Contains("-IncludeDependent goals_audit", removal.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain("view recent_imports", removal.Reason, StringComparison.Ordinal);
        Assert.Equal((1, 1, 1), (Objects(db, "recent_imports"), Objects(db, "goals_audit"), Objects(db, "legacy_imports")));
        Assert.False(File.Exists(RetiredDependents.PathFor(archive.ManifestPath)));
    }

    [Fact]
    public async Task A_name_that_no_dependent_has_is_refused_before_anything_runs()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        var archive = await ArchiveAsync(db, "legacy_imports");

        var error = await Assertions.ThrowsDbOps(ErrorIds.InvalidSpecification, () => RemovalService.PlanAsync(
            new RemovalRequest(db, [RemovalTarget.For(archive)], RemovalRequest.DefaultLockTimeout) { IncludeDependents = ["goals"] }, CancellationToken.None));

        Assert.Contains("'goals'", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, Objects(db, "legacy_imports"));
    }

    [Fact]
    public async Task Hostile_names_are_quoted_when_dropped_and_come_back_whole()
    {
        const string table = "odd \"t\"; DROP TABLE goals; --";
        const string view = "v'iew \"1\"; --";
        const string trigger = "t]r [g";
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, $"""
            CREATE TABLE "odd ""t""; DROP TABLE goals; --" (id INTEGER PRIMARY KEY, note TEXT);
            INSERT INTO "odd ""t""; DROP TABLE goals; --"(note) VALUES ('a'), ('b');
            CREATE VIEW "v'iew ""1""; --" AS SELECT note FROM "odd ""t""; DROP TABLE goals; --";
            CREATE TRIGGER "t]r [g" AFTER INSERT ON goals BEGIN INSERT INTO "odd ""t""; DROP TABLE goals; --"(note) VALUES ('goal'); END;
            """);
        var archive = await ArchiveAsync(db, table);

        var removal = await RemoveAsync(db, archive, view, trigger);

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Equal((0, 0, 0), (Objects(db, table), Objects(db, view), Objects(db, trigger)));
        Assert.Equal(1, Objects(db, "goals"));

        var imported = await ImportAsync(db, archive);

        Assert.Equal(2, imported.RecreatedDependents.Count);
        Assert.Equal(2, Sqlite.Count(db.Database, view));
        Sqlite.Execute(db.Database, "INSERT INTO goals(id, title, created_at) VALUES (990001, 'new', '2026-01-01')");
        Assert.Equal(3, Sqlite.Count(db.Database, table));
    }

    [Fact]
    public async Task A_dependents_file_that_differs_from_its_checksum_stops_the_import()
    {
        var db = await Sqlite.GoalsTrackerAsync(_folder);
        Sqlite.Execute(db.Database, View);
        var archive = await ArchiveAsync(db, "legacy_imports");
        var removal = await RemoveAsync(db, archive, "recent_imports");
        Assert.True(removal.Dropped, removal.Reason);
        await File.AppendAllTextAsync(removal.DependentsPath!, "\nCREATE VIEW intruder AS SELECT 1;\n");

        await Assertions.ThrowsDbOps(ErrorIds.ArchiveCorrupt, () => ImportAsync(db, archive));

        Assert.Equal((0, 0), (Objects(db, "legacy_imports"), Objects(db, "intruder")));
    }
}
