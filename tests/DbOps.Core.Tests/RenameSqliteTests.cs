using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Renames;
using Microsoft.Data.Sqlite;

namespace DbOps.Core.Tests;

public sealed class RenameSqliteTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Journal => _folder.File("journal.jsonl");

    private const string Campaigns = """
        CREATE TABLE campaigns (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, leads INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX campaigns_by_leads ON campaigns (leads);
        CREATE TABLE leads (id INTEGER PRIMARY KEY, campaign_id INTEGER NOT NULL REFERENCES campaigns (id));
        INSERT INTO campaigns (name) VALUES ('spring'), ('autumn');
        CREATE VIEW busy_campaigns AS SELECT c.name, c.leads FROM campaigns c WHERE c.leads > 0;
        CREATE TRIGGER count_lead AFTER INSERT ON leads BEGIN UPDATE campaigns SET leads = leads + 1 WHERE id = NEW.campaign_id; END;
        CREATE TRIGGER campaigns_named BEFORE UPDATE OF name ON campaigns BEGIN SELECT RAISE(ABORT, 'names are fixed'); END;
        """;

    private async Task<(string Path, DbOpsConnection Db)> CampaignsAsync()
    {
        var path = _folder.File("campaigns.db");
        return (path, await Sqlite.CreateAsync(path, Campaigns));
    }

    private Task<TableRename> RenameAsync(DbOpsConnection db, string table, string newName, bool view = false, bool replaceView = false) =>
        RenameService.RenameAsync(new RenameRequest(db, table, newName)
        {
            CompatibilityView = view,
            ReplaceCompatibilityView = replaceView,
            JournalPath = Journal,
        }, NullObserver.Instance, CancellationToken.None);

    private static List<string?> Column(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<string?>();
        while (reader.Read())
        {
            values.Add(reader.IsDBNull(0) ? null : Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture));
        }
        return values;
    }

    [Fact]
    public async Task Rename_keeps_views_triggers_and_foreign_keys_working_because_SQLite_rewrites_them()
    {
        var (path, db) = await CampaignsAsync();

        var result = await RenameAsync(db, "campaigns", "lead_generation_campaigns");

        Assert.True(result.Renamed);
        // The view, the trigger on another table and the foreign key now name the new table: SQLite rewrote their SQL.
        Assert.Contains("lead_generation_campaigns", Column(path, "SELECT sql FROM sqlite_schema WHERE name = 'busy_campaigns'")[0]);
        Assert.Contains("lead_generation_campaigns", Column(path, "SELECT sql FROM sqlite_schema WHERE name = 'count_lead'")[0]);
        Assert.Equal(["lead_generation_campaigns"], Column(path, "SELECT \"table\" FROM pragma_foreign_key_list('leads')"));
        // ... and they work: the trigger on leads writes the renamed table, the view reads it, the table's own trigger still fires.
        Sqlite.Execute(path, "PRAGMA foreign_keys = ON; INSERT INTO leads (campaign_id) VALUES (1), (1);");
        Assert.Equal(["spring"], Column(path, "SELECT name FROM busy_campaigns"));
        Assert.Empty(Column(path, "SELECT * FROM pragma_foreign_key_check"));
        var trigger = Assert.Throws<SqliteException>(() => Sqlite.Execute(path, "UPDATE lead_generation_campaigns SET name = 'x'"));
        Assert.Contains("names are fixed", trigger.Message);
        // The automatic index of UNIQUE and the AUTOINCREMENT counter follow the table; a named index keeps its name and is reported.
        Assert.Equal(["sqlite_autoindex_lead_generation_campaigns_1"], Column(path, "SELECT name FROM sqlite_schema WHERE name LIKE 'sqlite_autoindex_%'"));
        Assert.Equal(["lead_generation_campaigns"], Column(path, "SELECT name FROM sqlite_sequence"));
        Sqlite.Execute(path, "INSERT INTO lead_generation_campaigns (name) VALUES ('winter')");
        Assert.Equal(["3"], Column(path, "SELECT id FROM lead_generation_campaigns WHERE name = 'winter'"));
        Assert.Equal(2, result.KeptNames.Count);
        Assert.Contains(result.KeptNames, k => k.StartsWith("index campaigns_by_leads", StringComparison.Ordinal));
        Assert.Contains(result.KeptNames, k => k.StartsWith("trigger campaigns_named", StringComparison.Ordinal));
        Assert.Empty(Column(path, "SELECT name FROM sqlite_schema WHERE name = 'campaigns'"));
    }

    [Fact]
    public async Task Rename_is_journaled_once_with_the_undo_line_and_the_undo_restores_the_name()
    {
        var (path, db) = await CampaignsAsync();

        var result = await RenameAsync(db, "campaigns", "lead_generation_campaigns");

        var entry = Assert.Single(OperationsJournal.Open(Journal).Read());
        Assert.Equal(JournalOperations.TableRenamed, entry.Operation);
        Assert.Equal(("main", "campaigns", "main.lead_generation_campaigns"), (entry.Schema, entry.Table, entry.Target));
        Assert.Equal(result.Undo, entry.Undo);
        Assert.Equal($"Rename-Table -Database '{db.Database}' -Table '\"main\".\"lead_generation_campaigns\"' -NewName 'campaigns'", result.Undo);

        await RenameAsync(db, "\"main\".\"lead_generation_campaigns\"", "campaigns");
        Assert.Equal(["2"], Column(path, "SELECT count(*) FROM campaigns"));
        Assert.Contains("campaigns", Column(path, "SELECT \"table\" FROM pragma_foreign_key_list('leads')"));
    }

    [Fact]
    public async Task Compatibility_view_keeps_old_readers_working_and_the_undo_replaces_it()
    {
        var (path, db) = await CampaignsAsync();

        var result = await RenameAsync(db, "campaigns", "lead_generation_campaigns", view: true);

        Assert.Equal("campaigns", result.CompatibilityView);
        Assert.Equal(["view"], Column(path, "SELECT type FROM sqlite_schema WHERE name = 'campaigns'"));
        Assert.Equal(["autumn", "spring"], Column(path, "SELECT name FROM campaigns ORDER BY name"));
        Assert.EndsWith("-ReplaceCompatibilityView", result.Undo);

        var taken = await Assertions.ThrowsDbOps(ErrorIds.TableNameTaken, () => RenameAsync(db, "lead_generation_campaigns", "campaigns"));
        Assert.Contains("-ReplaceCompatibilityView", taken.Message);
        await RenameAsync(db, "lead_generation_campaigns", "campaigns", replaceView: true);

        Assert.Equal(["table"], Column(path, "SELECT type FROM sqlite_schema WHERE name = 'campaigns'"));
        Assert.Empty(Column(path, "SELECT name FROM sqlite_schema WHERE name = 'lead_generation_campaigns'"));
    }

    [Theory]
    [InlineData("leads")]
    [InlineData("LEADS")]
    [InlineData("busy_campaigns")]
    [InlineData("campaigns_by_leads")]
    public async Task Rename_onto_a_taken_name_is_refused_and_changes_nothing(string taken)
    {
        var (path, db) = await CampaignsAsync();
        var before = Column(path, "SELECT sql FROM sqlite_schema ORDER BY name");

        await Assertions.ThrowsDbOps(ErrorIds.TableNameTaken, () => RenameAsync(db, "campaigns", taken));

        Assert.Equal(before, Column(path, "SELECT sql FROM sqlite_schema ORDER BY name"));
        Assert.False(File.Exists(Journal));
    }

    [Fact]
    public async Task A_view_that_is_not_a_compatibility_view_is_never_replaced()
    {
        var (path, db) = await CampaignsAsync();

        await Assertions.ThrowsDbOps(ErrorIds.TableNameTaken, () => RenameAsync(db, "campaigns", "busy_campaigns", replaceView: true));

        Assert.Equal(["view"], Column(path, "SELECT type FROM sqlite_schema WHERE name = 'busy_campaigns'"));
    }

    [Fact]
    public async Task The_plan_lists_the_statements_and_changes_nothing()
    {
        var (path, db) = await CampaignsAsync();

        var plan = await RenameService.PlanAsync(new RenameRequest(db, "campaigns", "lead_generation_campaigns") { CompatibilityView = true }, CancellationToken.None);

        Assert.False(plan.Renamed);
        Assert.Equal("WhatIf", plan.Status);
        Assert.Contains("ALTER TABLE \"campaigns\" RENAME TO \"lead_generation_campaigns\"", plan.Statements);
        Assert.Contains("CREATE VIEW \"campaigns\" AS SELECT * FROM \"lead_generation_campaigns\"", plan.Statements);
        Assert.Equal("COMMIT", plan.Statements[^1]);
        Assert.Equal(["table"], Column(path, "SELECT type FROM sqlite_schema WHERE name = 'campaigns'"));
        Assert.False(File.Exists(Journal));
    }

    [Fact]
    public async Task Hostile_names_are_quoted_on_the_way_in_and_out()
    {
        var path = _folder.File("hostile.db");
        const string hostile = "we\"ird; DROP TABLE keep--";
        var db = await Sqlite.CreateAsync(path, """
            CREATE TABLE keep (id INTEGER PRIMARY KEY);
            CREATE TABLE "we""ird; DROP TABLE keep--" (id INTEGER PRIMARY KEY, v TEXT);
            INSERT INTO "we""ird; DROP TABLE keep--" VALUES (1, 'x');
            """);
        const string newName = "new \"name\"'; DROP TABLE keep; --";

        var result = await RenameAsync(db, TableRefQuoted(hostile), newName, view: true);

        Assert.True(result.Renamed);
        Assert.Equal(["keep"], Column(path, "SELECT name FROM sqlite_schema WHERE name = 'keep'"));
        Assert.Equal(["x"], Column(path, "SELECT v FROM \"new \"\"name\"\"'; DROP TABLE keep; --\""));
        Assert.Equal(["x"], Column(path, "SELECT v FROM \"we\"\"ird; DROP TABLE keep--\""));

        await RenameAsync(db, TableRefQuoted(newName), hostile, replaceView: true);
        Assert.Equal(["table"], Column(path, "SELECT type FROM sqlite_schema WHERE name = 'we\"ird; DROP TABLE keep--'"));
    }

    [Fact]
    public async Task A_missing_table_or_an_empty_new_name_is_refused()
    {
        var (_, db) = await CampaignsAsync();

        await Assertions.ThrowsDbOps(ErrorIds.TableNotFound, () => RenameAsync(db, "no_such_table", "x"));
        await Assertions.ThrowsDbOps(ErrorIds.InvalidSpecification, () => RenameAsync(db, "campaigns", " "));
    }

    private static string TableRefQuoted(string name) => DbOps.Core.Engines.TableRef.QuoteIdentifier(name);
}
