using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DbOps.PowerShell.Tests;

/// <summary>
/// Every cmdlet that only reads a database works where it may only read: as a PostgreSQL role that holds nothing but
/// pg_read_all_data, on a SQLite file behind a read-only mount, and on a WAL database whose -wal file it leaves as it
/// was. A cmdlet that opened the file for writing would checkpoint the WAL database (its -wal changes), and one that
/// wrote would fail on the mount and as the role.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ReadOnlyCmdletTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    /// <summary>
    /// The read-only cmdlets, each with a run on the goals tracker: $db is the database (a SQLite path or a PostgreSQL
    /// connection string), $out a writable folder for what the cmdlet writes. Left out because they write the database:
    /// Add-SafeConstraint, Add-SafeIndex, Remove-UnusedIndex, Remove-DeprecatedTable, Import-TableArchive,
    /// Restore-Database; and on PostgreSQL the -Verify of Backup-Database and Export-TableArchive and Test-Backup, which
    /// restore into a scratch database they create. Export-IntegrityReport reads no database.
    /// </summary>
    private static readonly (string Cmdlet, string Script)[] BothEngines =
    [
        ("Connect-Database", "Connect-Database $db"),
        ("Test-DataIntegrity", "Test-DataIntegrity -Database $db"),
        ("Find-UnusedTable", "Find-UnusedTable -Database $db"),
        ("Find-UnusedIndex", "Find-UnusedIndex -Database $db"),
        ("Find-MissingIndex", "Find-MissingIndex -Database $db"),
        ("Get-DatabaseSnapshot", "Get-DatabaseSnapshot -Database $db -Checksum"),
        ("Compare-DatabaseSnapshot", "Compare-DatabaseSnapshot -Before (Get-DatabaseSnapshot -Database $db) -After (Get-DatabaseSnapshot -Database $db)"),
        ("Export-DatabaseDocumentation", "Export-DatabaseDocumentation -Database $db -Destination (Join-Path $out docs)"),
        ("Export-TableArchive", "Export-TableArchive -Database $db -Table legacy_imports -Destination (Join-Path $out archives)"),
        ("Measure-QueryPerformance", "Measure-QueryPerformance -Database $db -Query 'SELECT count(*) FROM goals' -Iterations 3 -Warmup 1"),
        ("Backup-Database", "Backup-Database -Database $db -Destination (Join-Path $out backups)"),
    ];

    /// <summary>On SQLite the checks of an archive and of a backup read the copies, never the database.</summary>
    private static readonly (string Cmdlet, string Script)[] SqliteOnly =
    [
        ("Export-TableArchive -Verify", "Export-TableArchive -Database $db -Table tmp_migration_2019 -Destination (Join-Path $out verified) -Verify"),
        ("Backup-Database -Verify | Test-Backup", "Backup-Database -Database $db -Destination (Join-Path $out verified) -Verify | Test-Backup"),
    ];

    /// <summary>The statistics readers PostgreSQL alone has.</summary>
    private static readonly (string Cmdlet, string Script)[] PostgresOnly =
    [
        ("Get-SlowQuery", "Get-SlowQuery -Database $db"),
        ("Start-UsageWatch", "Start-UsageWatch -Database $db -Path (Join-Path $out usage.json)"),
    ];

    /// <summary>Runs every script against <paramref name="db"/>; returns one line per cmdlet that failed or returned nothing.</summary>
    private List<string> RunAll(IEnumerable<(string Cmdlet, string Script)> runs, string db)
    {
        var failures = new List<string>();
        foreach (var (cmdlet, script) in runs)
        {
            _session.Errors.Clear();
            var output = _session.Run(script, new { db, @out = _folder.Path });
            failures.AddRange(_session.Errors.Select(e => $"{cmdlet}: {e.FullyQualifiedErrorId}: {e.ErrorDetails?.Message ?? e.Exception.Message}"));
            if (_session.Errors.Count == 0 && output.Count == 0 && !cmdlet.StartsWith("Find-", StringComparison.Ordinal))
            {
                failures.Add($"{cmdlet}: returned nothing");
            }
        }
        return failures;
    }

    private string GoalsDatabase(string folder)
    {
        var path = Path.Combine(folder, "goals.db");
        _session.Run(". ([System.IO.Path]::Combine($examples, 'New-GoalsDatabase.ps1')); $null = New-GoalsDatabase -Path $path",
            new { examples = Path.Combine(Datasets.RepoRoot, "examples"), path });
        Assert.Empty(_session.Errors);
        return path;
    }

    private static (string Hash, DateTime Written) Fingerprint(string path) =>
        (Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))), File.GetLastWriteTimeUtc(path));

    [Fact]
    public void Every_read_only_cmdlet_works_as_a_PostgreSQL_role_that_holds_only_pg_read_all_data()
    {
        var database = cluster.CreateGoalsTracker();
        var role = "reader_" + Guid.NewGuid().ToString("N")[..8];
        cluster.Execute(database, $"""
            CREATE EXTENSION pg_stat_statements;
            CREATE ROLE {role} LOGIN PASSWORD 'reader-pw';
            GRANT pg_read_all_data TO {role};
            """);
        var db = new NpgsqlConnectionStringBuilder(cluster.ConnectionString(database)) { Username = role, Password = "reader-pw" }.ConnectionString;

        Assert.Equal([], RunAll([.. BothEngines, .. PostgresOnly], db));

        // The test of the test: the role can write nothing, so a cmdlet that tried would have failed above.
        var refused = Assert.Throws<PostgresException>(() => cluster.Execute(database, $"SET ROLE {role}; DELETE FROM legacy_imports"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
    }

    [RootFact]
    public void Every_read_only_cmdlet_works_on_a_SQLite_file_behind_a_read_only_mount()
    {
        var source = Path.Combine(_folder.Path, "source");
        GoalsDatabase(source);
        using var mount = new ReadOnlyMount(source);
        var db = mount.File("goals.db");
        var before = Fingerprint(db);

        Assert.Equal([], RunAll([.. BothEngines, .. SqliteOnly], db));
        Assert.Equal(before, Fingerprint(db));

        // The test of the test: the mount refuses writes to root too, through the file system and through SQLite.
        Assert.ThrowsAny<IOException>(() => new FileStream(db, FileMode.Open, FileAccess.ReadWrite).Dispose());
        _session.Run("Invoke-DatabaseQuery $db 'DELETE FROM legacy_imports'", new { db });
        Assert.Contains("readonly database", Assert.Single(_session.Errors).Exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_read_only_cmdlet_reads_a_WAL_database_through_its_wal_file_and_leaves_that_file_as_it_was()
    {
        // A WAL database as a live application leaves it: rows still in the -wal file, not yet checkpointed into the
        // database file. Copying the pair while the writer holds it open gives that state with no writer left. The writer
        // is this test's own SQLite (the module's drivers are private to it), as an application beside DbOps would be.
        var live = GoalsDatabase(Path.Combine(_folder.Path, "live"));
        var db = _folder.File("wal.db");
        using (var writer = new SqliteConnection($"Data Source={live};Pooling=False"))
        {
            writer.Open();
            using var command = writer.CreateCommand();
            command.CommandText = "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE only_in_wal (id INTEGER PRIMARY KEY); INSERT INTO only_in_wal VALUES (1), (2), (3)";
            command.ExecuteNonQuery();
            File.Copy(live, db);
            File.Copy(live + "-wal", db + "-wal");
        }
        var database = Fingerprint(db);
        var wal = Fingerprint(db + "-wal");

        Assert.Equal([], RunAll([.. BothEngines, .. SqliteOnly], db));
        // What was read includes the rows that live only in the -wal file.
        Assert.Equal(3L, Assert.Single(_session.Run(
            "(Get-DatabaseSnapshot -Database $db).Tables | Where-Object Name -eq 'only_in_wal' | ForEach-Object Rows", new { db })).BaseObject);
        Assert.Equal(database, Fingerprint(db));
        Assert.Equal(wal, Fingerprint(db + "-wal"));

        // The test of the test: opening the database for writing and closing it checkpoints the -wal file away.
        _session.ExecuteSqlite(db, "SELECT 1");
        Assert.False(File.Exists(db + "-wal") && Fingerprint(db + "-wal") == wal);
    }

    [RootFact]
    public void A_WAL_database_behind_a_read_only_mount_without_its_wal_and_shm_files_is_WalDatabaseNotReadable()
    {
        var source = Path.Combine(_folder.Path, "source");
        var path = GoalsDatabase(source);
        _session.ExecuteSqlite(path, "PRAGMA journal_mode = WAL"); // closing the last connection removes -wal and -shm
        Assert.False(File.Exists(path + "-shm"));
        using var mount = new ReadOnlyMount(source);

        _session.Run("Test-DataIntegrity -Database $db", new { db = mount.File("goals.db") });

        var error = Assert.Single(_session.Errors);
        Assert.Equal("WalDatabaseNotReadable,DbOps.PowerShell.Commands.TestDataIntegrityCommand", error.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidOperation, error.CategoryInfo.Category);
    }
}
