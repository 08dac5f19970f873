using System.Diagnostics;
using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

/// <summary>Find-UnusedTable | Export-TableArchive | Import-TableArchive through the engine, as a runbook runs them.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ArchiveCmdletTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    private static object Prop(PSObject o, string name) => o.Properties[name].Value;

    /// <summary>A SQLite file made through the module's Invoke-DatabaseQuery.</summary>
    private string CreateSqlite(string name, string sql)
    {
        var path = _folder.File(name);
        _session.ExecuteSqlite(path, sql);
        return path;
    }

    private const string GoalsSql = """
        CREATE TABLE goals(id INTEGER PRIMARY KEY, title TEXT NOT NULL);
        CREATE TABLE old_log(id INTEGER PRIMARY KEY, line TEXT, at REAL);
        CREATE TABLE empty_t(x);
        INSERT INTO goals VALUES (1, 'ship it');
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO old_log SELECT i, 'line ' || i, i / 7.0 FROM n;
        """;

    [Fact]
    public void SQLite_find_export_verify_import_as_one_pipeline()
    {
        var path = CreateSqlite("app.db", GoalsSql);
        var code = Directory.CreateDirectory(_folder.File("src")).FullName;
        File.WriteAllText(Path.Combine(code, "Goals.cs"), "var q = \"SELECT * FROM goals\"; // old_logger is another word");

        var usage = _session.Run("Find-UnusedTable -Database $path -CodePath $code", new { path, code });
        Assert.Empty(_session.Errors);
        var verdicts = usage.ToDictionary(u => (string)Prop(u, "Table"), u => Prop(u, "Verdict").ToString());
        Assert.Equal("Active", verdicts["goals"]);
        Assert.Equal("Unused", verdicts["old_log"]);
        Assert.Equal("Empty", verdicts["empty_t"]);

        var imported = _session.Run("""
            Find-UnusedTable -Database $path -CodePath $code | Where-Object Verdict -eq 'Unused' |
                Export-TableArchive -Destination $dest -Verify -Compress | Import-TableArchive -Database $target
            """, new { path, code, dest = _folder.File("archive"), target = _folder.File("restored.db") });

        Assert.Empty(_session.Errors);
        var result = Assert.Single(imported);
        Assert.Equal("DbOps.Core.Archive.ArchiveImportResult", result.BaseObject.GetType().FullName);
        Assert.Equal(300L, Prop(result, "RowCount"));
        Assert.Equal(["old_log.csv.gz", "old_log.manifest.json", "old_log.schema.sql"],
            Directory.GetFiles(_folder.File("archive")).Select(Path.GetFileName).Order());
        Assert.All(Directory.GetFiles(_folder.File("archive")),
            f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
        Assert.Contains(_session.Progress, p => p.Activity.Contains("old_log", StringComparison.Ordinal));
    }

    [Fact]
    public void WhatIf_writes_no_archive_and_creates_no_table()
    {
        var path = CreateSqlite("app.db", GoalsSql);
        var dest = _folder.File("archive");
        _session.Run("Export-TableArchive -Database $path -Table old_log -Destination $dest", new { path, dest });
        var manifest = Path.Combine(dest, "old_log.manifest.json");
        var target = _folder.File("target.db");

        _session.Run("Export-TableArchive -Database $path -Table goals -Destination $dest -WhatIf; Import-TableArchive -Path $manifest -Database $target -WhatIf",
            new { path, dest, manifest, target });

        Assert.Empty(_session.Errors);
        Assert.False(File.Exists(Path.Combine(dest, "goals.manifest.json")));
        Assert.False(File.Exists(target));
        Assert.Contains(_session.Host.Output.Split('\n'), l => l.Contains("What if", StringComparison.Ordinal) && l.Contains("Archive to", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_table_and_an_edited_manifest_are_errors_with_stable_ids()
    {
        var path = CreateSqlite("app.db", GoalsSql);
        var dest = _folder.File("archive");
        _session.Run("'nope', 'old_log' | Export-TableArchive -Database $path -Destination $dest", new { path, dest });
        var error = Assert.Single(_session.Errors);
        Assert.Equal("TableNotFound,DbOps.PowerShell.Commands.ExportTableArchiveCommand", error.FullyQualifiedErrorId);
        _session.Errors.Clear();

        var manifest = Path.Combine(dest, "old_log.manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"line\"", "\"lines\""));
        _session.Run("Import-TableArchive -Path $manifest -Database $target", new { manifest, target = _folder.File("t.db") });

        error = Assert.Single(_session.Errors);
        Assert.Equal("ArchiveCorrupt,DbOps.PowerShell.Commands.ImportTableArchiveCommand", error.FullyQualifiedErrorId);
    }

    [Fact]
    public void PostgreSQL_young_statistics_make_the_verdict_Unknown_and_old_enough_ones_Unused()
    {
        var database = cluster.CreateDatabase("usage");
        cluster.Execute(database, "CREATE TABLE quiet AS SELECT g AS id FROM generate_series(1, 50) g; CREATE TABLE busy (id int)");
        // A session reports its counters when it ends, a moment after it closes: let the loading session's arrive first.
        Thread.Sleep(1500);
        cluster.Execute(database, "SELECT pg_stat_reset()");
        cluster.Execute(database, "INSERT INTO busy VALUES (1)");
        Thread.Sleep(1500);
        var cs = cluster.ConnectionString(database);

        var young = _session.Run("Find-UnusedTable -Database $cs", new { cs });
        var judged = _session.Run("Find-UnusedTable -Database $cs -MinimumStatsAge ([timespan]::Zero)", new { cs });

        Assert.Empty(_session.Errors);
        var quiet = young.Single(u => (string)Prop(u, "Table") == "quiet");
        Assert.Equal("Unknown", Prop(quiet, "Verdict").ToString());
        Assert.Contains("statistics cover only", (string)Prop(quiet, "Reason"));
        Assert.Equal("Unused", Prop(judged.Single(u => (string)Prop(u, "Table") == "quiet"), "Verdict").ToString());
        Assert.Equal("Active", Prop(judged.Single(u => (string)Prop(u, "Table") == "busy"), "Verdict").ToString());

        var archives = _session.Run(
            "Find-UnusedTable -Database $cs -MinimumStatsAge ([timespan]::Zero) | Where-Object Verdict -eq 'Unused' | Export-TableArchive -Destination $dest -Verify",
            new { cs, dest = _folder.File("pg-archive") });
        Assert.Empty(_session.Errors);
        var archive = Assert.Single(archives);
        Assert.True((bool)Prop(archive, "Verified"));
        Assert.Equal(50L, Prop(archive, "RowCount"));
    }

    [Fact]
    public void An_export_killed_mid_write_leaves_nothing_that_looks_complete_and_the_next_run_cleans_up()
    {
        var database = cluster.CreateDatabase("killed");
        cluster.Execute(database, "CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 1500000) g");
        var archives = _folder.File("archives");
        var script = _folder.File("export.ps1");
        File.WriteAllText(script, "param($cs, $dest) Export-TableArchive -Database $cs -Table big -Destination $dest\n");

        using (var pwsh = Process.Start(PwshProcess.StartInfo(script, "-cs", cluster.ConnectionString(database), "-dest", archives))!)
        {
            pwsh.StandardInput.Close();
            var clock = Stopwatch.StartNew();
            while (!(Directory.Exists(archives) && Directory.GetFiles(archives, "*.partial").Any(f => new FileInfo(f).Length > 1 << 20)))
            {
                Assert.False(pwsh.HasExited, $"The export ended before it could be killed: {(pwsh.HasExited ? pwsh.StandardError.ReadToEnd() : "")}");
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "no temporary archive file appeared");
                Thread.Sleep(20);
            }
            PwshProcess.KillTree(pwsh);
        }

        Assert.DoesNotContain(Directory.GetFiles(archives), f => !Path.GetFileName(f).StartsWith('.'));

        var (exitCode, stdout, stderr) = PwshProcess.Run(script, "-cs", cluster.ConnectionString(database), "-dest", archives);

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Equal(["public.big.csv", "public.big.manifest.json", "public.big.schema.sql"],
            Directory.GetFiles(archives).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Table_completes_with_the_tables_of_the_database_given()
    {
        var path = CreateSqlite("app.db", GoalsSql);
        var line = $"Export-TableArchive -Database '{path}' -Destination x -Table o";

        var matches = _session.Run("[System.Management.Automation.CommandCompletion]::CompleteInput($line, $line.Length, $null).CompletionMatches | ForEach-Object CompletionText",
            new { line });

        Assert.Equal(["old_log"], matches.Select(m => m.ToString()));
    }

    [Fact]
    public void The_archive_example_finds_archives_verifies_and_restores_the_legacy_tables()
    {
        var (exitCode, stdout, stderr) = PwshProcess.Run(
            Path.Combine(Path.GetDirectoryName(PowerShellSession.ModuleManifest)!, "..", "..", "examples", "archive-unused.ps1"), "-Folder", _folder.Path);

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("2 table(s) archived and verified.", stdout);
        Assert.True(File.Exists(Path.Combine(_folder.Path, "archive", "legacy_imports.manifest.json")));
        Assert.True(File.Exists(Path.Combine(_folder.Path, "archive", "tmp_migration_2019.manifest.json")));
    }
}
