using DbOps.Core.Archive;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Removal;

namespace DbOps.Core.Tests;

/// <summary>Remove-DeprecatedTable -IncludeDependent on PostgreSQL: a view, a trigger function and its trigger go with the table and come back with it.</summary>
[Collection(PostgresCollection.Name)]
public sealed class DependentRetirementPostgresTests(PostgresCluster cluster) : IDisposable
{
    private const string Dependents = """
        CREATE VIEW recent_imports WITH (security_barrier) AS SELECT id, source FROM legacy_imports WHERE imported_at > '2021-01-01';
        CREATE FUNCTION audit_goal() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO legacy_imports (id, source) VALUES (NEW.id + 100000, 'goal; ' || NEW.title);
            RETURN NEW;
        END $$;
        CREATE TRIGGER goals_audit AFTER INSERT ON goals FOR EACH ROW EXECUTE FUNCTION audit_goal();
        """;

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private async Task<(string Name, DbOpsConnection Db)> GoalsAsync(string extraSql)
    {
        var name = cluster.CreateGoalsTracker();
        cluster.Execute(name, extraSql);
        return (name, await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(name), null, null, CancellationToken.None));
    }

    private async Task<TableArchive> ArchiveAsync(DbOpsConnection db, string table) =>
        await ArchiveService.ExportAsync(new ArchiveExportRequest(db, table, _folder.File("archives"), Verify: true), NullObserver.Instance, CancellationToken.None);

    private static async Task<TableRemoval> RemoveAsync(DbOpsConnection db, TableArchive archive, params string[] include) =>
        Assert.Single(await RemovalService.RemoveAsync(
            new RemovalRequest(db, [RemovalTarget.For(archive)], RemovalRequest.DefaultLockTimeout) { IncludeDependents = include },
            NullObserver.Instance, CancellationToken.None));

    private static Task<ArchiveImportResult> ImportAsync(DbOpsConnection db, TableArchive archive) =>
        ArchiveService.ImportAsync(new ArchiveImportRequest(archive.ManifestPath, db), NullObserver.Instance, CancellationToken.None);

    /// <summary>How many of the view, the function and the trigger exist.</summary>
    private long DependentsLeft(string database) => cluster.Scalar<long>(database, """
        SELECT (SELECT count(*) FROM pg_class WHERE relname = 'recent_imports') + (SELECT count(*) FROM pg_proc WHERE proname = 'audit_goal')
             + (SELECT count(*) FROM pg_trigger WHERE tgname = 'goals_audit')
        """);

    [Fact]
    public async Task A_named_view_and_trigger_function_are_retired_with_the_table_and_work_again_after_import()
    {
        var (name, db) = await GoalsAsync(Dependents);
        var archive = await ArchiveAsync(db, "legacy_imports");
        var viewRows = cluster.Scalar<long>(name, "SELECT count(*) FROM recent_imports");

        var removal = await RemoveAsync(db, archive, "recent_imports", "public.audit_goal", "goals_audit");

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Equal(["trigger function public.audit_goal()", "trigger goals_audit on public.goals", "view public.recent_imports"], removal.RetiredDependents.Order());
        var ddl = removal.Statements.SkipWhile(s => !s.StartsWith("DROP", StringComparison.Ordinal)).ToList();
        // The trigger goes before the function it calls; the table last.
        Assert.True(ddl.IndexOf("DROP TRIGGER goals_audit ON public.goals") < ddl.IndexOf("DROP FUNCTION public.audit_goal()"), string.Join("\n", ddl));
        Assert.Equal("DROP TABLE \"public\".\"legacy_imports\"", ddl[^2]);
        Assert.Equal(0, DependentsLeft(name));
        var saved = await File.ReadAllTextAsync(removal.DependentsPath!);
        Assert.DoesNotContain("OWNER", saved, StringComparison.Ordinal);
        Assert.Contains("FROM public.legacy_imports", saved, StringComparison.Ordinal);
        var entry = OperationsJournal.Open().Read().Last(e => e.Operation == JournalOperations.TableRemoved && e.Database == db.Database);
        Assert.Equal(removal.RetiredDependents.Order(), entry.Objects!.Order());
        Assert.Equal((await File.ReadAllTextAsync(removal.DependentsPath + ".sha256")).Split(' ')[0], entry.Sha256);

        var imported = await ImportAsync(db, archive);

        Assert.Equal(removal.RetiredDependents.Order(), imported.RecreatedDependents.Order());
        Assert.Empty(imported.Skipped);
        Assert.Equal(3, DependentsLeft(name));
        Assert.Equal(viewRows, cluster.Scalar<long>(name, "SELECT count(*) FROM recent_imports"));
        Assert.True(cluster.Scalar<bool>(name, "SELECT 'security_barrier=true' = ANY(reloptions) FROM pg_class WHERE relname = 'recent_imports'"));
        cluster.Execute(name, "INSERT INTO goals (id, title, created_at) VALUES (990001, 'new', date '2026-01-01')");
        Assert.Equal("goal; new", cluster.Scalar<string>(name, "SELECT source FROM legacy_imports WHERE id = 1090001"));
    }

    [Fact]
    public async Task A_trigger_that_calls_a_named_function_but_is_not_named_refuses_the_drop_and_nothing_is_dropped()
    {
        var (name, db) = await GoalsAsync(Dependents);
        var archive = await ArchiveAsync(db, "legacy_imports");

        var removal = await RemoveAsync(db, archive, "recent_imports", "audit_goal");

        Assert.Equal(ErrorIds.DependentObjectsExist, removal.ErrorId);
        Assert.Contains("trigger goals_audit on public.goals", removal.Reason, StringComparison.Ordinal);
        Assert.Contains("-IncludeDependent public.goals_audit", removal.Reason, StringComparison.Ordinal);
        Assert.Equal(3, DependentsLeft(name));
        Assert.True(cluster.Scalar<bool>(name, "SELECT to_regclass('public.legacy_imports') IS NOT NULL"));
        Assert.False(File.Exists(RetiredDependents.PathFor(archive.ManifestPath)));
    }

    [Fact]
    public async Task Hostile_names_are_quoted_when_dropped_and_come_back_whole()
    {
        var (name, db) = await GoalsAsync(""""
            CREATE SCHEMA "s ""1"";";
            CREATE TABLE "s ""1"";"."odd ""t""; DROP TABLE goals; --" (id integer PRIMARY KEY, note text);
            INSERT INTO "s ""1"";"."odd ""t""; DROP TABLE goals; --" VALUES (1, 'a'), (2, 'b');
            CREATE VIEW "s ""1"";"."v'iew ""1""; --" AS SELECT note FROM "s ""1"";"."odd ""t""; DROP TABLE goals; --";
            CREATE FUNCTION "s ""1"";"."f(x); --"() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO "s ""1"";"."odd ""t""; DROP TABLE goals; --" VALUES (NEW.id + 100000, 'goal');
                RETURN NEW;
            END $$;
            CREATE TRIGGER "t]r ""g""" AFTER INSERT ON goals FOR EACH ROW EXECUTE FUNCTION "s ""1"";"."f(x); --"();
            """");
        var archive = await ArchiveAsync(db, "\"s \"\"1\"\";\".\"odd \"\"t\"\"; DROP TABLE goals; --\"");
        const string count = "SELECT count(*) FROM \"s \"\"1\"\";\".\"odd \"\"t\"\"; DROP TABLE goals; --\"";

        var removal = await RemoveAsync(db, archive, "\"v'iew \"\"1\"\"; --\"", "s \"1\";.f(x); --", "t]r \"g\"");

        Assert.True(removal.Dropped, removal.Reason);
        Assert.Equal(3, removal.RetiredDependents.Count);
        Assert.True(cluster.Scalar<bool>(name, "SELECT to_regclass('public.goals') IS NOT NULL"));
        Assert.Equal(0, cluster.Scalar<long>(name, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 's \"1\";'"));

        var imported = await ImportAsync(db, archive);

        Assert.Equal(3, imported.RecreatedDependents.Count);
        Assert.Equal(2, cluster.Scalar<long>(name, "SELECT count(*) FROM \"s \"\"1\"\";\".\"v'iew \"\"1\"\"; --\""));
        cluster.Execute(name, "INSERT INTO goals (id, title, created_at) VALUES (990001, 'new', date '2026-01-01')");
        Assert.Equal(3, cluster.Scalar<long>(name, count));
    }
}
