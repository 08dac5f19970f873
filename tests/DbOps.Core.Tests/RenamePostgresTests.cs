using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Renames;
using Npgsql;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class RenamePostgresTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Journal => _folder.File("journal.jsonl");

    private const string Campaigns = """
        CREATE TABLE campaigns (id serial PRIMARY KEY, code int GENERATED ALWAYS AS IDENTITY, name text NOT NULL UNIQUE,
                                leads int NOT NULL DEFAULT 0 CONSTRAINT campaigns_leads_check CHECK (leads >= 0));
        CREATE INDEX campaigns_leads_idx ON campaigns (leads);
        CREATE INDEX idx_campaigns_name ON campaigns (lower(name));
        CREATE TABLE leads (id serial PRIMARY KEY, campaign_id int NOT NULL CONSTRAINT leads_campaign_id_fkey REFERENCES campaigns (id));
        CREATE VIEW busy_campaigns AS SELECT name, leads FROM campaigns WHERE leads > 0;
        CREATE FUNCTION campaigns_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.leads := NEW.leads; RETURN NEW; END $$;
        CREATE TRIGGER campaigns_touch BEFORE UPDATE ON campaigns FOR EACH ROW EXECUTE FUNCTION campaigns_touch();
        INSERT INTO campaigns (name) VALUES ('spring'), ('autumn');
        """;

    private async Task<(string Name, DbOpsConnection Db)> CampaignsAsync(string setup = Campaigns)
    {
        var name = cluster.CreateDatabase("ren");
        cluster.Execute(name, setup);
        return (name, await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(name), null, null, CancellationToken.None));
    }

    private Task<TableRename> RenameAsync(DbOpsConnection db, string table, string newName, bool view = false, bool replaceView = false,
        TimeSpan? lockTimeout = null, int retries = 10, IOperationObserver? observer = null) =>
        RenameService.RenameAsync(new RenameRequest(db, table, newName)
        {
            CompatibilityView = view,
            ReplaceCompatibilityView = replaceView,
            LockTimeout = lockTimeout ?? RenameRequest.DefaultLockTimeout,
            MaxRetries = retries,
            JournalPath = Journal,
        }, observer ?? NullObserver.Instance, CancellationToken.None);

    private string? Kind(string database, string name) =>
        cluster.Scalar<string?>(database, $"SELECT relkind::text FROM pg_class WHERE relname = '{name.Replace("'", "''")}' AND relnamespace = 'public'::regnamespace");

    [Fact]
    public async Task Rename_renames_owned_sequences_constraints_indexes_and_triggers_and_reports_the_names_it_kept()
    {
        var (name, db) = await CampaignsAsync();

        var result = await RenameAsync(db, "campaigns", "lead_generation_campaigns");

        Assert.True(result.Renamed);
        Assert.Equal("r", Kind(name, "lead_generation_campaigns"));
        Assert.Null(Kind(name, "campaigns"));
        foreach (var (kind, renamed) in new[]
                 {
                     ("S", "lead_generation_campaigns_id_seq"), ("S", "lead_generation_campaigns_code_seq"), ("i", "lead_generation_campaigns_pkey"),
                     ("i", "lead_generation_campaigns_name_key"), ("i", "lead_generation_campaigns_leads_idx"),
                 })
        {
            Assert.True(Kind(name, renamed) == kind, $"{renamed} should be a {kind}; renamed: {string.Join(", ", result.RenamedObjects)}");
        }
        Assert.Equal(1, cluster.Scalar<long>(name, "SELECT count(*) FROM pg_constraint WHERE conname = 'lead_generation_campaigns_leads_check'"));
        Assert.Equal(1, cluster.Scalar<long>(name, "SELECT count(*) FROM pg_trigger WHERE tgname = 'lead_generation_campaigns_touch'"));
        Assert.Contains(result.KeptNames, k => k.StartsWith("index idx_campaigns_name", StringComparison.Ordinal));
        // The serial default follows its renamed sequence; the view and the foreign key follow the table (they hold its oid).
        cluster.Execute(name, "INSERT INTO lead_generation_campaigns (name, leads) VALUES ('winter', 3); INSERT INTO leads (campaign_id) VALUES (3)");
        Assert.Equal("winter", cluster.Scalar<string>(name, "SELECT name FROM busy_campaigns"));
        Assert.Equal(3, cluster.Scalar<int>(name, "SELECT id FROM lead_generation_campaigns WHERE name = 'winter'"));

        var entry = Assert.Single(OperationsJournal.Open(Journal).Read());
        Assert.Equal((JournalOperations.TableRenamed, "public", "campaigns", "public.lead_generation_campaigns"), (entry.Operation, entry.Schema, entry.Table, entry.Target));
        Assert.Equal(result.Undo, entry.Undo);
        Assert.DoesNotContain(PostgresCluster.Password, entry.Undo);
    }

    [Fact]
    public async Task Compatibility_view_takes_reads_and_writes_under_the_old_name_and_the_undo_restores_every_name()
    {
        var (name, db) = await CampaignsAsync(Campaigns + "CREATE ROLE ren_reader_" + Guid.NewGuid().ToString("N")[..8] + ";");
        var reader = cluster.Scalar<string>(name, "SELECT rolname FROM pg_roles WHERE rolname LIKE 'ren_reader_%' ORDER BY oid DESC LIMIT 1");
        cluster.Execute(name, $"GRANT SELECT ON campaigns TO {reader}");

        var result = await RenameAsync(db, "campaigns", "lead_generation_campaigns", view: true);

        Assert.Equal("public.campaigns", result.CompatibilityView);
        Assert.Equal("v", Kind(name, "campaigns"));
        // Old writers: the simple view passes INSERT (with the table's defaults), UPDATE and DELETE through.
        cluster.Execute(name, "INSERT INTO campaigns (name) VALUES ('winter'); UPDATE campaigns SET leads = 5 WHERE name = 'spring'; DELETE FROM campaigns WHERE name = 'autumn'");
        Assert.Equal("spring=5,winter=0", cluster.Scalar<string>(name, "SELECT string_agg(name || '=' || leads, ',' ORDER BY name) FROM lead_generation_campaigns"));
        Assert.Equal(3, cluster.Scalar<int>(name, "SELECT id FROM lead_generation_campaigns WHERE name = 'winter'"));
        // Old readers keep their right to read.
        Assert.True(cluster.Scalar<bool>(name, $"SELECT has_table_privilege('{reader}', 'public.campaigns', 'SELECT')"));

        await Assertions.ThrowsDbOps(ErrorIds.TableNameTaken, () => RenameAsync(db, "lead_generation_campaigns", "campaigns"));
        Assert.EndsWith("-ReplaceCompatibilityView", result.Undo);
        await RenameAsync(db, "\"public\".\"lead_generation_campaigns\"", "campaigns", replaceView: true);

        Assert.Equal("r", Kind(name, "campaigns"));
        Assert.Equal("S", Kind(name, "campaigns_id_seq"));
        Assert.Equal("i", Kind(name, "campaigns_pkey"));
        Assert.Null(Kind(name, "lead_generation_campaigns"));
        Assert.Equal(2, OperationsJournal.Open(Journal).Read().Count(e => e.Operation == JournalOperations.TableRenamed));
    }

    [Theory]
    [InlineData("leads")]
    [InlineData("busy_campaigns")]
    [InlineData("idx_campaigns_name")]
    [InlineData("leads_id_seq")]
    public async Task Rename_onto_a_taken_name_is_refused_and_changes_nothing(string taken)
    {
        var (name, db) = await CampaignsAsync();

        await Assertions.ThrowsDbOps(ErrorIds.TableNameTaken, () => RenameAsync(db, "campaigns", taken));

        Assert.Equal("r", Kind(name, "campaigns"));
        Assert.False(File.Exists(Journal));
    }

    [Fact]
    public async Task A_name_longer_than_63_bytes_is_refused_rather_than_cut()
    {
        var (name, db) = await CampaignsAsync();

        await Assertions.ThrowsDbOps(ErrorIds.InvalidSpecification, () => RenameAsync(db, "campaigns", new string('é', 32)));

        Assert.Equal("r", Kind(name, "campaigns"));
    }

    [Fact]
    public async Task A_busy_table_is_tried_again_and_renamed_once_the_lock_is_free()
    {
        var (name, db) = await CampaignsAsync();
        await using var holder = new NpgsqlConnection(cluster.ConnectionString(name));
        await holder.OpenAsync();
        var transaction = await holder.BeginTransactionAsync();
        await new NpgsqlCommand("LOCK TABLE campaigns IN ROW EXCLUSIVE MODE", holder, transaction).ExecuteNonQueryAsync();
        var observer = new RecordingObserver();

        var rename = RenameAsync(db, "campaigns", "lead_generation_campaigns", lockTimeout: TimeSpan.FromMilliseconds(20), retries: 1000, observer: observer);
        while (!rename.IsCompleted && !observer.VerboseMessages.ToList().Any(m => m.Contains("retry 2 of", StringComparison.Ordinal)))
        {
            await Task.Delay(10);
        }
        await transaction.RollbackAsync();
        var result = await rename;

        Assert.True(result.Renamed);
        Assert.True(result.LockRetries >= 2, $"{result.LockRetries} retries");
        Assert.Equal("r", Kind(name, "lead_generation_campaigns"));
    }

    [Fact]
    public async Task A_lock_never_granted_is_LockTimeout_after_the_retries_and_nothing_changes()
    {
        var (name, db) = await CampaignsAsync();
        await using var holder = new NpgsqlConnection(cluster.ConnectionString(name));
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await new NpgsqlCommand("LOCK TABLE campaigns IN ACCESS SHARE MODE", holder, transaction).ExecuteNonQueryAsync();

        await Assertions.ThrowsDbOps(ErrorIds.LockTimeout, () => RenameAsync(db, "campaigns", "lead_generation_campaigns", lockTimeout: TimeSpan.FromMilliseconds(20), retries: 1));

        await transaction.RollbackAsync();
        Assert.Equal("r", Kind(name, "campaigns"));
        Assert.False(File.Exists(Journal));
    }

    [Fact]
    public async Task Hostile_names_are_quoted_on_the_way_in_and_out()
    {
        const string hostile = "we\"ird; DROP TABLE keep--";
        const string newName = "new \"name\"'; DROP TABLE keep; --";
        var (name, db) = await CampaignsAsync("""
            CREATE TABLE keep (id int);
            CREATE TABLE "we""ird; DROP TABLE keep--" (id serial PRIMARY KEY, v text);
            INSERT INTO "we""ird; DROP TABLE keep--" (v) VALUES ('x');
            """);

        var result = await RenameAsync(db, "\"we\"\"ird; DROP TABLE keep--\"", newName, view: true);

        Assert.Contains(result.RenamedObjects, o => o.Contains("new \"name\"'; DROP TABLE keep; --_id_seq", StringComparison.Ordinal));
        Assert.Equal("r", Kind(name, "keep"));
        Assert.Equal("x", cluster.Scalar<string>(name, "SELECT v FROM \"we\"\"ird; DROP TABLE keep--\""));
        cluster.Execute(name, "INSERT INTO \"we\"\"ird; DROP TABLE keep--\" (v) VALUES ('y')");
        Assert.Equal(2, cluster.Scalar<long>(name, "SELECT count(*) FROM \"new \"\"name\"\"'; DROP TABLE keep; --\""));

        await RenameAsync(db, "\"public\".\"new \"\"name\"\"'; DROP TABLE keep; --\"", hostile, replaceView: true);
        Assert.Equal("r", Kind(name, hostile));
    }
}
