using DbOps.Core.Backup;
using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Progress;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class PostgresBackupTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Backups => Path.Combine(_folder.Path, "backups");

    private Task<DbOpsConnection> ConnectAsync(string database) =>
        DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(database), null, null, CancellationToken.None);

    /// <summary>The scratch databases that exist now and did not before <paramref name="before"/> was taken: what an operation left.</summary>
    private int ScratchDatabasesLeftSince(HashSet<string> before) =>
        ScratchDatabaseNames().Count(name => !before.Contains(name));

    private HashSet<string> ScratchDatabaseNames() =>
        cluster.Scalar<string>("postgres", "SELECT coalesce(string_agg(datname, ','), '') FROM pg_database WHERE datname LIKE 'dbops_verify_%'")
            .Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();

    [Fact]
    public async Task Backup_of_pagila_counts_every_table_from_the_dump_and_verifies_in_a_scratch_database()
    {
        var source = await ConnectAsync(cluster.CreatePagila());
        var observer = new RecordingObserver();
        var scratchBefore = ScratchDatabaseNames();

        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups, Verify: true), observer, CancellationToken.None);

        Assert.True(result.Verified, result.Verification?.Reason);
        Assert.Equal("pg_dump-custom", result.Format);
        Assert.Contains("pg_dump (PostgreSQL)", result.ToolVersion);
        Assert.Equal(1000, result.Tables.Single(t => t.Name == "film").Rows);
        Assert.Equal(16044, result.Tables.Single(t => t.Name == "rental").Rows);
        // payment is partitioned: its rows live in the monthly partitions.
        Assert.Equal(16049, result.Tables.Where(t => t.Name.StartsWith("payment_p2022_", StringComparison.Ordinal)).Sum(t => t.Rows));
        Assert.DoesNotContain(result.Tables, t => t.Name == "payment");
        Assert.Equal(0, ScratchDatabasesLeftSince(scratchBefore));
        Assert.Contains(observer.ProgressReports, p => p.Status.StartsWith("Dumping public.", StringComparison.Ordinal));
        // Rows were counted while pg_dump wrote, not by the slower second pass kept as a fallback.
        Assert.DoesNotContain(observer.VerboseMessages, m => m.Contains("counting from the finished file", StringComparison.Ordinal));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(result.Path));
        Assert.DoesNotContain(PostgresCluster.Password, await File.ReadAllTextAsync(result.ManifestPath));
    }

    [Fact]
    public async Task Backup_counts_come_from_the_dump_not_the_live_database()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t(id int); INSERT INTO t SELECT generate_series(1, 250);");

        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        cluster.Execute(source.Database, "INSERT INTO t VALUES (251)");

        Assert.Equal(250, result.Tables.Single().Rows);
        var check = await BackupService.VerifyAsync(result.Path, source, null, NullObserver.Instance, CancellationToken.None);
        Assert.True(check.Verified, check.Reason);
        Assert.Equal(250, check.Tables.Single().Actual);
    }

    [Fact]
    public async Task Hostile_schema_and_table_names_are_dumped_counted_and_restored()
    {
        var source = await cluster.CreateConnectedAsync("""
            CREATE SCHEMA "Sch ema";
            CREATE TABLE "Sch ema"."we""ird; DROP TABLE t;--" (id int, note text);
            INSERT INTO "Sch ema"."we""ird; DROP TABLE t;--" VALUES (1, E'line\nbreak'), (2, '\.'), (3, E'tab\there');
            CREATE TABLE t(id int);
            CREATE TABLE "new
            line" (id int);
            INSERT INTO "new
            line" VALUES (1), (2);
            """);

        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups, Verify: true), NullObserver.Instance, CancellationToken.None);

        Assert.True(result.Verified, result.Verification?.Reason);
        Assert.Equal(3, result.Tables.Count);
        Assert.Equal(3, result.Tables.Single(t => t.Schema == "Sch ema").Rows);
        Assert.Equal(0, result.Tables.Single(t => t.Name == "t").Rows);
        Assert.Equal(2, result.Tables.Single(t => t.Name == "new\nline").Rows);
    }

    [Fact]
    public async Task A_missing_pg_dump_is_ToolNotFound_and_leaves_nothing_behind()
    {
        var source = await ConnectAsync("postgres");
        var empty = Directory.CreateDirectory(_folder.File("no-tools")).FullName;

        var error = await Assertions.ThrowsDbOps(ErrorIds.ToolNotFound,
            () => BackupService.BackupAsync(new BackupRequest(source, Backups, ToolPath: empty), NullObserver.Instance, CancellationToken.None));

        Assert.Contains("postgresql-client", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Backups));
    }

    [Fact]
    public async Task A_pg_dump_older_than_the_server_is_refused_with_how_to_fix_it()
    {
        var source = await ConnectAsync("postgres");
        var fake = _folder.File("pg_dump");
        await File.WriteAllTextAsync(fake, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var error = await Assertions.ThrowsDbOps(ErrorIds.ToolVersionTooOld,
            () => BackupService.BackupAsync(new BackupRequest(source, Backups, ToolPath: fake), NullObserver.Instance, CancellationToken.None));
        Assert.Contains("version 9", error.Message);
    }

    [RootFact]
    public async Task Backup_to_a_full_disk_leaves_no_partial_file_and_no_manifest()
    {
        var database = cluster.CreateDatabase();
        // Random text does not compress, so the dump is far larger than the disk.
        cluster.Execute(database, "CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 60000) g");
        var source = await ConnectAsync(database);
        using var disk = new SmallDisk(sizeKiB: 512);

        await Assertions.ThrowsDbOps(ErrorIds.InsufficientDiskSpace,
            () => BackupService.BackupAsync(new BackupRequest(source, disk.Path), NullObserver.Instance, CancellationToken.None));
        Assert.Empty(Directory.GetFileSystemEntries(disk.Path));
    }

    [Fact]
    public async Task Verify_reports_a_truncated_dump_as_corrupt()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g");
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        var scratchBefore = ScratchDatabaseNames();
        await using (var file = new FileStream(result.Path, FileMode.Open, FileAccess.Write))
        {
            file.SetLength(file.Length / 2);
        }

        var check = await BackupService.VerifyAsync(result.Path, source, null, NullObserver.Instance, CancellationToken.None);

        Assert.False(check.Verified);
        Assert.Equal(ErrorIds.BackupCorrupt, check.ErrorId);
        Assert.Equal(0, ScratchDatabasesLeftSince(scratchBefore));
    }

    [Fact]
    public async Task Verify_finds_the_server_from_the_manifest_when_none_is_given()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 10) g");
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        var saved = Environment.GetEnvironmentVariable("PGPASSWORD");
        try
        {
            Environment.SetEnvironmentVariable("PGPASSWORD", PostgresCluster.Password);
            var check = await BackupService.VerifyAsync(result.ManifestPath, null, null, NullObserver.Instance, CancellationToken.None);
            Assert.True(check.Verified, check.Reason);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PGPASSWORD", saved);
        }
    }

    [Fact]
    public async Task Restore_fills_an_empty_database_and_refuses_a_non_empty_one_without_force()
    {
        var source = await ConnectAsync(cluster.CreatePagila());
        var backup = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        var target = await ConnectAsync(cluster.CreateDatabase("restore"));
        var options = new RestoreOptions(Force: false, NoOwner: true);

        var restored = await BackupService.RestoreAsync(backup.Path, target, options, null, NullObserver.Instance, CancellationToken.None);
        Assert.Equal("Restored", restored.Status);
        Assert.Equal(backup.TotalRows, restored.TotalRows);

        cluster.Execute(target.Database, "DELETE FROM payment_p2022_01");
        await Assertions.ThrowsDbOps(ErrorIds.TargetNotEmpty,
            () => BackupService.RestoreAsync(backup.Path, target, options, null, NullObserver.Instance, CancellationToken.None));

        var forced = await BackupService.RestoreAsync(backup.Path, target, options with { Force = true }, null, NullObserver.Instance, CancellationToken.None);
        Assert.Equal("Restored", forced.Status);
        Assert.Equal(16044L, cluster.Scalar<long>(target.Database, "SELECT count(*) FROM rental"));
    }

    [Fact]
    public async Task Restore_refuses_a_backup_of_the_other_provider()
    {
        using var folder = new TempFolder();
        var sqlite = await Sqlite.ChinookAsync(folder);
        var backup = await BackupService.BackupAsync(new BackupRequest(sqlite, Backups), NullObserver.Instance, CancellationToken.None);
        var target = await ConnectAsync(cluster.CreateDatabase());

        await Assertions.ThrowsDbOps(ErrorIds.ProviderMismatch,
            () => BackupService.RestoreAsync(backup.Path, target, new RestoreOptions(false, false), null, NullObserver.Instance, CancellationToken.None));
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresSafetyTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string Backups => Path.Combine(_folder.Path, "backups");

    /// <summary>A login role without CREATEDB that owns a new database holding one table of 5 rows.</summary>
    private (DbOpsConnection Connection, string Database) OwnerWithoutCreatedb()
    {
        var role = $"owner_{Guid.NewGuid():N}"[..20];
        cluster.Execute("postgres", $"CREATE ROLE {role} LOGIN NOCREATEDB PASSWORD 'owner-pw'");
        var database = cluster.CreateDatabase("owned");
        cluster.Execute("postgres", $"ALTER DATABASE {database} OWNER TO {role}");
        cluster.Execute(database, $"CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 5) g; ALTER TABLE t OWNER TO {role}");
        var connection = DatabaseConnector.ConnectPostgresAsync(
            $"Host={cluster.Host};Port={cluster.Port};Username={role};Password=owner-pw;Database={database}", null, null, CancellationToken.None).Result;
        return (connection, database);
    }

    [Fact]
    public async Task Restore_force_without_the_right_to_recreate_refuses_before_dropping_anything()
    {
        var (owner, database) = OwnerWithoutCreatedb();
        var backup = await BackupService.BackupAsync(new BackupRequest(owner, Backups), NullObserver.Instance, CancellationToken.None);

        await Assertions.ThrowsDbOps(ErrorIds.InsufficientPrivilege,
            () => BackupService.RestoreAsync(backup.Path, owner, new RestoreOptions(Force: true, NoOwner: true), null, NullObserver.Instance, CancellationToken.None));

        Assert.Equal(5L, cluster.Scalar<long>(database, "SELECT count(*) FROM t"));
    }

    [Fact]
    public async Task A_verification_that_cannot_run_keeps_the_backup_and_says_why()
    {
        var (owner, _) = OwnerWithoutCreatedb();

        var result = await BackupService.BackupAsync(new BackupRequest(owner, Backups, Verify: true), NullObserver.Instance, CancellationToken.None);

        Assert.False(result.Verified);
        Assert.Equal(BackupStatus.VerificationFailed, result.Status);
        Assert.Equal(ErrorIds.InsufficientPrivilege, result.Verification!.ErrorId);
        Assert.True(File.Exists(result.Path) && File.Exists(result.ManifestPath), "the backup itself is good and must be kept");
        Assert.Equal(5, result.Tables.Single().Rows);
    }

    [Fact]
    public async Task The_scratch_sweep_drops_unclaimed_scratch_databases_and_never_a_live_runs()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t (id int)");
        await using var live = await DbOps.Core.Engines.PostgresScratchDatabase.CreateAsync(source, "test", "none", NullObserver.Instance, CancellationToken.None);
        cluster.Execute("postgres", "CREATE DATABASE dbops_verify_0000000000abc");   // what a killed run leaves: no session claims it
        cluster.Execute("postgres", "CREATE DATABASE dbops_verify_results");         // a user's own database with a look-alike name

        var observer = new RecordingObserver();
        await using (var next = await DbOps.Core.Engines.PostgresScratchDatabase.CreateAsync(source, "test", "none", observer, CancellationToken.None))
        {
            Assert.Equal(2L, SessionLoss.ScratchDatabases(cluster));   // the live one and this one
        }

        Assert.Contains(observer.VerboseMessages, m => m.Contains("dbops_verify_0000000000abc", StringComparison.Ordinal));
        Assert.Equal(1L, SessionLoss.ScratchDatabases(cluster));
        Assert.True(cluster.Scalar<bool>("postgres", $"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{live.Connection.Database}')"));
        Assert.True(cluster.Scalar<bool>("postgres", "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'dbops_verify_results')"));
        cluster.Execute("postgres", "DROP DATABASE dbops_verify_results");
    }

    [Fact]
    public async Task A_connection_lost_during_verify_keeps_the_backup_unverified_with_the_cause()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 400000) g");

        var observer = new RecordingObserver();
        var backup = BackupService.BackupAsync(new BackupRequest(source, Backups, Verify: true), observer, CancellationToken.None);
        Assert.True(await SessionLoss.EndSessionsDuringScratchWorkAsync(cluster, source.Database, backup) > 0);
        var result = await backup;

        Assert.False(result.Verified, string.Join("\n", observer.VerboseMessages) + result.Verification?.Reason);
        Assert.Equal(BackupStatus.VerificationFailed, result.Status);
        Assert.Contains(result.Verification!.ErrorId, new[] { ErrorIds.RestoreFailed, ErrorIds.ConnectionLost });
        Assert.True(File.Exists(result.Path) && File.Exists(result.ManifestPath), "the backup itself is good and must be kept");
        Assert.Equal(400000L, result.Tables.Single().Rows);
        Assert.Equal(0L, SessionLoss.ScratchDatabases(cluster));
        var later = await BackupService.VerifyAsync(result.Path, source, null, NullObserver.Instance, CancellationToken.None);
        Assert.True(later.Verified, later.Reason);
    }

    [Fact]
    public async Task A_service_file_in_the_environment_cannot_send_pg_dump_to_another_database()
    {
        var wanted = cluster.CreateDatabase("wanted");
        cluster.Execute(wanted, "CREATE TABLE only_in_wanted(id int)");
        var other = cluster.CreateDatabase("other");
        cluster.Execute(other, "CREATE TABLE only_in_other(id int)");
        var serviceFile = _folder.File("pg_service.conf");
        await File.WriteAllTextAsync(serviceFile, $"[nightly]\ndbname={other}\n");
        var saved = (Environment.GetEnvironmentVariable("PGSERVICEFILE"), Environment.GetEnvironmentVariable("PGSERVICE"));
        try
        {
            Environment.SetEnvironmentVariable("PGSERVICEFILE", serviceFile);
            Environment.SetEnvironmentVariable("PGSERVICE", "nightly");
            var source = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(wanted), null, null, CancellationToken.None);

            var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);

            Assert.Equal("only_in_wanted", Assert.Single(result.Tables).Name);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PGSERVICEFILE", saved.Item1);
            Environment.SetEnvironmentVariable("PGSERVICE", saved.Item2);
        }
    }

    /// <summary>A database owned by a login role with CREATEDB but not superuser, holding 5 rows and what <paramref name="setup"/> adds as superuser.</summary>
    private async Task<DbOpsConnection> OwnerWithCreatedbAsync(string setup)
    {
        var role = $"owner_{Guid.NewGuid():N}"[..20];
        cluster.Execute("postgres", $"CREATE ROLE {role} LOGIN CREATEDB PASSWORD 'owner-pw'");
        var database = cluster.CreateDatabase("ext");
        cluster.Execute("postgres", $"ALTER DATABASE {database} OWNER TO {role}");
        cluster.Execute(database, $"CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 5) g; ALTER TABLE t OWNER TO {role}; {setup}");
        return await DatabaseConnector.ConnectPostgresAsync(
            $"Host={cluster.Host};Port={cluster.Port};Username={role};Password=owner-pw;Database={database}", null, null, CancellationToken.None);
    }

    [Fact]
    public async Task An_extension_the_owner_may_not_create_is_left_out_of_the_verification_which_says_so_and_still_counts_every_table()
    {
        var owner = await OwnerWithCreatedbAsync("CREATE EXTENSION pg_stat_statements");
        var observer = new RecordingObserver();

        var result = await BackupService.BackupAsync(new BackupRequest(owner, Backups, Verify: true), observer, CancellationToken.None);

        Assert.True(result.Verified, result.Verification?.Reason);
        Assert.Equal(5L, Assert.Single(result.Verification!.Tables).Actual);
        Assert.Contains("pg_stat_statements", Assert.Single(result.Verification.Skipped));
        Assert.Contains("pg_stat_statements", result.Verification.Reason);
        Assert.Contains(observer.Warnings, w => w.Contains("pg_stat_statements", StringComparison.Ordinal));
        Assert.Equal(0L, cluster.Scalar<long>("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dbops_verify_%'"));
    }

    [Fact]
    public async Task Objects_that_need_an_extension_the_owner_may_not_create_are_ExtensionUnavailable_not_a_damaged_backup()
    {
        var owner = await OwnerWithCreatedbAsync("CREATE EXTENSION dblink; CREATE VIEW links AS SELECT dblink_get_connections() AS c");

        var result = await BackupService.BackupAsync(new BackupRequest(owner, Backups, Verify: true), NullObserver.Instance, CancellationToken.None);

        Assert.False(result.Verified);
        Assert.Equal(ErrorIds.ExtensionUnavailable, result.Verification!.ErrorId);
        Assert.Contains("dblink", result.Verification.Reason);
        Assert.True(File.Exists(result.Path), "the backup itself is good and must be kept");
    }

    [Fact]
    public async Task A_damaged_dump_with_a_matching_manifest_fails_in_pg_restore_and_leaves_no_scratch_database()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g");
        var result = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        await ManifestTampering.DamageAndResignAsync(result.Path, result.ManifestPath);

        var check = await BackupService.VerifyAsync(result.Path, source, null, NullObserver.Instance, CancellationToken.None);

        Assert.False(check.Verified);
        Assert.Equal(ErrorIds.RestoreFailed, check.ErrorId);
        Assert.Contains("pg_restore", check.Reason);
        Assert.Equal(0L, cluster.Scalar<long>("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dbops_verify_%'"));
    }

    [Fact]
    public async Task Restore_into_a_database_whose_name_looks_like_a_connection_string()
    {
        var source = await cluster.CreateConnectedAsync("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 3) g");
        var backup = await BackupService.BackupAsync(new BackupRequest(source, Backups), NullObserver.Instance, CancellationToken.None);
        const string odd = "host=elsewhere dbname='x'";
        cluster.Execute("postgres", "CREATE DATABASE \"host=elsewhere dbname='x'\"");
        var target = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString(odd), null, null, CancellationToken.None);

        var restored = await BackupService.RestoreAsync(backup.Path, target, new RestoreOptions(false, true), null, NullObserver.Instance, CancellationToken.None);

        Assert.Equal("Restored", restored.Status);
        Assert.Equal(3L, cluster.Scalar<long>(odd, "SELECT count(*) FROM t"));
    }

    [Fact]
    public async Task A_malformed_PG_variable_is_an_InvalidConnectionString_error()
    {
        var saved = Environment.GetEnvironmentVariable("PGPORT");
        try
        {
            Environment.SetEnvironmentVariable("PGPORT", "not-a-port");
            await Assertions.ThrowsDbOps(ErrorIds.InvalidConnectionString,
                () => DatabaseConnector.ConnectPostgresAsync("Host=127.0.0.1;Database=postgres", null, null, CancellationToken.None));
        }
        finally
        {
            Environment.SetEnvironmentVariable("PGPORT", saved);
        }
    }
}
