using System.Security.Cryptography;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Snapshots;

namespace DbOps.Core.Tests;

internal static class Snapshots
{
    public static Task<DatabaseSnapshot> TakeAsync(DbOpsConnection connection, bool estimate = false) =>
        SnapshotService.CaptureAsync(new SnapshotRequest(connection, estimate), NullObserver.Instance, CancellationToken.None);

    /// <summary>Differences as "ObjectType Change Table.Name" lines, sorted, for exact comparison.</summary>
    public static string[] Lines(SnapshotComparison comparison) =>
        comparison.Differences.Select(d => $"{d.ObjectType} {d.Change} {(d.Table is null || d.ObjectType is "Table" or "Rows" or "Content" ? "" : d.Table + ".")}{d.Name}")
            .Order(StringComparer.Ordinal).ToArray();
}

public sealed class SqliteSnapshotTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Journal => _folder.File("journal.jsonl");

    [Fact]
    public async Task A_snapshot_counts_every_table_exactly_reads_nothing_into_the_file_and_round_trips_through_json()
    {
        var connection = await Sqlite.GoalsTrackerAsync(_folder);
        var hash = SHA256.HashData(File.ReadAllBytes(connection.Database));

        var snapshot = await Snapshots.TakeAsync(connection);

        Assert.Equal(hash, SHA256.HashData(File.ReadAllBytes(connection.Database)));
        Assert.Equal(
            [("activity_groups", 44L), ("activity_instances", 6000L), ("goals", 200L), ("legacy_imports", 350L), ("sessions", 2000L), ("tmp_migration_2019", 0L)],
            snapshot.Tables.Select(t => (t.Name, t.Rows)));
        Assert.False(snapshot.Estimated);
        var instances = snapshot.Tables.Single(t => t.Name == "activity_instances");
        Assert.Contains(instances.Constraints, c => c is { Kind: "ForeignKey", IsValidated: false } && c.Definition.StartsWith("FOREIGN KEY (session_id) REFERENCES sessions (id)"));
        Assert.Equal("ix_activity_instances_session", Assert.Single(instances.Indexes).Name);

        var path = Path.Combine(_folder.Path, "snapshots", "before.json");
        SnapshotService.Save(snapshot, path, overwrite: false);
        var loaded = SnapshotService.Load(path);

        Assert.Equal(path, loaded.Path);
        Assert.Equal(snapshot.TakenAt, loaded.TakenAt);
        Assert.Equal(snapshot.Tables, loaded.Tables, new TableComparer());
        Assert.Empty(SnapshotComparer.Compare(snapshot, loaded, Journal).Differences);
    }

    [Fact]
    public async Task A_scripted_change_is_reported_exactly_and_an_unarchived_drop_is_data_loss()
    {
        var connection = await Sqlite.GoalsTrackerAsync(_folder);
        var before = await Snapshots.TakeAsync(connection);
        Sqlite.Execute(connection.Database, """
            PRAGMA foreign_keys = OFF;
            DELETE FROM sessions WHERE id IN (1, 2, 3);
            INSERT INTO goals (id, title, created_at) VALUES (201, 'new', '2024-01-01');
            DROP TABLE tmp_migration_2019;
            DROP TABLE legacy_imports;
            CREATE INDEX ix_sessions_goal ON sessions (goal_id);
            ALTER TABLE goals ADD COLUMN owner TEXT;
            CREATE VIEW active_goals AS SELECT * FROM goals WHERE status = 'active';
            CREATE TABLE audit (id INTEGER PRIMARY KEY);
            """);
        var after = await Snapshots.TakeAsync(connection);

        var comparison = SnapshotComparer.Compare(before, after, Journal);

        Assert.Equal([
            "Column Added goals.owner", "Index Added sessions.ix_sessions_goal", "Rows Changed goals", "Rows Changed sessions",
            "Table Added audit", "Table Removed legacy_imports", "Table Removed tmp_migration_2019",
            "TableDefinition Altered goals.goals", "View Added main.active_goals"], Snapshots.Lines(comparison));
        Assert.Equal((-3L, true), comparison.Differences.Where(d => d.Name == "sessions").Select(d => (d.RowDelta!.Value, d.DataLoss)).Single());
        Assert.Equal((1L, false), comparison.Differences.Where(d => d is { Name: "goals", ObjectType: "Rows" }).Select(d => (d.RowDelta!.Value, d.DataLoss)).Single());
        var legacy = comparison.Differences.Single(d => d.Name == "legacy_imports");
        Assert.True(legacy.DataLoss);
        Assert.Contains("unexplained", legacy.Explanation);
        Assert.False(comparison.Differences.Single(d => d.Name == "tmp_migration_2019").DataLoss);
        Assert.Equal((6, 5, 1, 2, 1, true), (comparison.TablesBefore, comparison.TablesAfter, comparison.TablesAdded, comparison.TablesRemoved,
            comparison.TablesWithFewerRows, comparison.DataLoss));
    }

    [Fact]
    public async Task A_drop_is_explained_only_by_a_verified_archive_of_exactly_the_rows_it_held()
    {
        var connection = await Sqlite.GoalsTrackerAsync(_folder);
        var real = await DbOps.Core.Archive.ArchiveService.ExportAsync(new DbOps.Core.Archive.ArchiveExportRequest(connection, "legacy_imports", _folder.File("archive"),
            Verify: true, JournalPath: _folder.File("elsewhere.jsonl")), NullObserver.Instance, CancellationToken.None);
        var before = await Snapshots.TakeAsync(connection);
        Sqlite.Execute(connection.Database, "DROP TABLE legacy_imports");
        var after = await Snapshots.TakeAsync(connection);
        var journal = OperationsJournal.Open(Journal);
        JournalEntry Archive(long rows, bool verified, string path) => JournalEntry.For(connection, JournalOperations.ArchiveCreated) with
        {
            Schema = "main", Table = "legacy_imports", Rows = rows, Verified = verified, Path = path,
        };

        journal.Append(Archive(349, verified: true, "/archives/old.manifest.json"));
        var stale = SnapshotComparer.Compare(before, after, Journal).Differences.Single();
        Assert.True(stale.DataLoss);
        Assert.Equal("/archives/old.manifest.json", stale.Archive);

        journal.Append(Archive(350, verified: false, "/archives/unverified.manifest.json"));
        Assert.True(SnapshotComparer.Compare(before, after, Journal).DataLoss);

        // A journal line is a claim: one naming an archive that is not there, or one whose data file lost a row under
        // a re-sealed manifest, explains nothing.
        journal.Append(Archive(350, verified: true, "/archives/forged.manifest.json"));
        Assert.True(SnapshotComparer.Compare(before, after, Journal).DataLoss);
        var tampered = Directory.CreateDirectory(_folder.File("tampered")).FullName;
        foreach (var file in new[] { real.ManifestPath, real.DataPath, real.SchemaPath })
        {
            File.Copy(file, Path.Combine(tampered, Path.GetFileName(file)));
        }
        await ArchiveTampering.EditSecondRowAndResealAsync(Path.Combine(tampered, Path.GetFileName(real.ManifestPath)),
            Path.Combine(tampered, Path.GetFileName(real.DataPath)), deleteRow: true);
        journal.Append(Archive(350, verified: true, Path.Combine(tampered, Path.GetFileName(real.ManifestPath))));
        var refused = SnapshotComparer.Compare(before, after, Journal).Differences.Single();
        Assert.True(refused.DataLoss, refused.Explanation);

        journal.Append(Archive(350, verified: true, real.ManifestPath));
        var explained = SnapshotComparer.Compare(before, after, Journal);
        Assert.False(explained.DataLoss, explained.Differences.Single().Explanation);
        Assert.Equal(real.ManifestPath, explained.Differences.Single().Archive);

        // The same table of another database does not count.
        var other = await Sqlite.CreateAsync(_folder.File("other.db"), "CREATE TABLE legacy_imports (id INTEGER)");
        Assert.False(JournalEntry.For(other, JournalOperations.ArchiveCreated).IsAbout(before.Provider, before.Server, before.Database));
    }

    [Fact]
    public async Task Saved_snapshots_are_not_overwritten_and_damaged_ones_are_refused()
    {
        var snapshot = await Snapshots.TakeAsync(await Sqlite.GoalsTrackerAsync(_folder));
        var path = _folder.File("s.json");
        SnapshotService.Save(snapshot, path, overwrite: false);

        await Assertions.ThrowsDbOps(ErrorIds.DestinationExists, () => Task.Run(() => SnapshotService.Save(snapshot, path, overwrite: false)));
        SnapshotService.Save(snapshot, path, overwrite: true);
        File.WriteAllText(_folder.File("bad.json"), "{\"tables\": [");
        await Assertions.ThrowsDbOps(ErrorIds.SnapshotInvalid, () => Task.Run(() => SnapshotService.Load(_folder.File("bad.json"))));
        await Assertions.ThrowsDbOps(ErrorIds.FileNotFound, () => Task.Run(() => SnapshotService.Load(_folder.File("missing.json"))));
    }

    private sealed class TableComparer : IEqualityComparer<TableSnapshot>
    {
        public bool Equals(TableSnapshot? x, TableSnapshot? y) =>
            x is not null && y is not null && (x.Schema, x.Name, x.Rows, x.SizeBytes, x.Checksum, x.Definition) == (y.Schema, y.Name, y.Rows, y.SizeBytes, y.Checksum, y.Definition)
            && x.Columns.SequenceEqual(y.Columns) && x.Indexes.SequenceEqual(y.Indexes) && x.Constraints.SequenceEqual(y.Constraints)
            && x.Triggers.SequenceEqual(y.Triggers);

        public int GetHashCode(TableSnapshot obj) => obj.Name.GetHashCode();
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresSnapshotTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Policies_security_triggers_views_sequences_and_validation_changes_are_each_one_difference()
    {
        var database = cluster.CreateGoalsTracker();
        cluster.Execute(database, """
            CREATE TABLE notes (id serial PRIMARY KEY, body text);
            CREATE VIEW open_goals AS SELECT id, title FROM goals WHERE status = 'active';
            CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
            CREATE TRIGGER goals_touch BEFORE UPDATE ON goals FOR EACH ROW EXECUTE FUNCTION touch();
            ALTER TABLE goals ENABLE ROW LEVEL SECURITY;
            CREATE POLICY own_goals ON goals USING (root_id IS NOT NULL);
            """);
        var connection = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);
        var before = await Snapshots.TakeAsync(connection);

        var goals = before.Tables.Single(t => t.Name == "goals");
        Assert.Equal((true, false, "own_goals"), (goals.RowLevelSecurity, goals.ForceRowLevelSecurity, goals.Policies.Single().Name));
        Assert.Equal("goals_touch", goals.Triggers.Single().Name);
        Assert.Equal("public.notes.id", before.Sequences.Single().OwnedBy);
        Assert.Equal("open_goals", before.Views.Single().Name);
        Assert.Empty(before.Tables.Single(t => t.Name == "activity_instances").Triggers);
        Assert.All(before.Tables, t => Assert.True(t.SizeBytes > 0, $"{t.Name} has no size"));

        cluster.Execute(database, """
            DELETE FROM activity_instances WHERE session_id > 5000;
            ALTER TABLE activity_instances VALIDATE CONSTRAINT activity_instances_session_id_fkey;
            DROP POLICY own_goals ON goals;
            CREATE POLICY own_goals ON goals USING (root_id > 0);
            ALTER TABLE goals FORCE ROW LEVEL SECURITY;
            ALTER TABLE goals DISABLE TRIGGER goals_touch;
            DROP VIEW open_goals;
            DROP TABLE notes;
            """);
        var after = await Snapshots.TakeAsync(connection);
        var comparison = SnapshotComparer.Compare(before, after, _folder.File("journal.jsonl"));

        Assert.Equal([
            "Constraint Altered activity_instances.activity_instances_session_id_fkey", "Policy Altered goals.own_goals",
            "RowLevelSecurity Altered goals.goals", "Rows Changed activity_instances", "Sequence Removed public.notes_id_seq",
            "Table Removed notes", "Trigger Altered goals.goals_touch", "View Removed public.open_goals"], Snapshots.Lines(comparison));
        Assert.Equal(-25, comparison.Differences.Single(d => d.ObjectType == "Rows").RowDelta);
        Assert.True(comparison.DataLoss);
        // notes was empty, so dropping it lost nothing; the 25 deleted rows are the loss.
        Assert.Equal(["activity_instances"], comparison.Differences.Where(d => d.DataLoss).Select(d => d.Name));
        Assert.EndsWith("NOT VALID", comparison.Differences.Single(d => d.ObjectType == "Constraint").Before);
    }

    [Fact]
    public async Task Estimated_snapshots_use_catalog_statistics_and_never_claim_data_loss()
    {
        var database = cluster.CreateGoalsTracker();
        var connection = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);
        var exact = await Snapshots.TakeAsync(connection);
        cluster.Execute(database, "DELETE FROM legacy_imports WHERE id <= 100; ANALYZE legacy_imports;");

        var estimated = await Snapshots.TakeAsync(connection, estimate: true);

        Assert.True(estimated.Estimated);
        Assert.Equal(250, estimated.Tables.Single(t => t.Name == "legacy_imports").Rows);
        var comparison = SnapshotComparer.Compare(exact, estimated, _folder.File("journal.jsonl"));
        Assert.True(comparison.Estimated);
        Assert.False(comparison.DataLoss);
        Assert.Contains("estimates", comparison.Differences.Single().Explanation);
    }
}

/// <summary>Snapshots and archives share one content checksum, so the journal can explain a drop by content.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SnapshotArchiveTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private async Task ArchivedDropIsExplainedAsync(DbOpsConnection connection, Action<string> run)
    {
        var journal = _folder.File("journal.jsonl");
        var before = await SnapshotService.CaptureAsync(new SnapshotRequest(connection, Checksum: true), NullObserver.Instance, CancellationToken.None);
        var archive = await Archive.ArchiveService.ExportAsync(
            new Archive.ArchiveExportRequest(connection, "legacy_imports", _folder.File("archive"), Verify: true, JournalPath: journal),
            NullObserver.Instance, CancellationToken.None);

        var legacy = before.Tables.Single(t => t.Name == "legacy_imports");
        Assert.Equal((archive.RowCount, archive.Checksum), (legacy.Rows, legacy.Checksum));
        Assert.StartsWith("xxh128sum-v1:", legacy.Checksum);

        run("UPDATE goals SET title = title || '!' WHERE id = 3; DROP TABLE legacy_imports;");
        var after = await SnapshotService.CaptureAsync(new SnapshotRequest(connection, Checksum: true), NullObserver.Instance, CancellationToken.None);
        var comparison = SnapshotComparer.Compare(before, after, journal);

        Assert.False(comparison.DataLoss, string.Join("; ", comparison.Differences.Select(d => d.Explanation)));
        Assert.Equal(archive.ManifestPath, comparison.Differences.Single(d => d.ObjectType == "Table").Archive);
        var content = comparison.Differences.Single(d => d.ObjectType == "Content");
        Assert.Equal(("goals", false), (content.Name, content.DataLoss));
    }

    [Fact]
    public async Task Sqlite_archived_drop_is_explained_by_its_verified_archive_and_an_update_is_changed_content() =>
        await ArchivedDropIsExplainedAsync(await Sqlite.GoalsTrackerAsync(_folder), sql => Sqlite.Execute(_folder.File("goals.db"), sql));

    [Fact]
    public async Task Postgres_archived_drop_is_explained_by_its_verified_archive_and_an_update_is_changed_content()
    {
        var database = cluster.CreateGoalsTracker();
        var connection = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);
        await ArchivedDropIsExplainedAsync(connection, sql => cluster.Execute(database, sql));
    }
}
