using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

[Collection(PostgresCollection.Name)]
public sealed class PostgresCmdletTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    private string ServerOnly => $"Host=127.0.0.1;Port={cluster.Port};Database=postgres";

    [Fact]
    public void A_credential_password_appears_in_no_output_verbose_text_or_display()
    {
        var password = new System.Net.NetworkCredential("", PostgresCluster.Password).SecurePassword;
        _session.Run("""
            $VerbosePreference = 'Continue'
            $cred = [pscredential]::new('postgres', $password)
            $db = Connect-Database -ConnectionString $cs -Credential $cred
            $db | Out-Default
            $db.PSObject.Properties | ForEach-Object { "$($_.Name) = $($_.Value)" } | Out-Default
            "$db" | Out-Default
            """, new { password, cs = ServerOnly });

        Assert.Empty(_session.Errors);
        Assert.Contains("PostgreSQL", _session.Host.Output);
        Assert.DoesNotContain(PostgresCluster.Password, _session.Host.Output);
        Assert.DoesNotContain(_session.Verbose, v => v.Contains(PostgresCluster.Password, StringComparison.Ordinal));
    }

    [Fact]
    public void A_wrong_password_is_AuthenticationFailed_and_the_error_does_not_contain_it()
    {
        const string wrong = "N0t-The-Password-42";
        var password = new System.Net.NetworkCredential("", wrong).SecurePassword;
        _session.Run("Connect-Database -ConnectionString $cs -Credential ([pscredential]::new('postgres', $password))",
            new { password, cs = ServerOnly });

        var error = Assert.Single(_session.Errors);
        Assert.Equal("AuthenticationFailed,DbOps.PowerShell.Commands.ConnectDatabaseCommand", error.FullyQualifiedErrorId);
        Assert.DoesNotContain(wrong, error.ToString());
        Assert.DoesNotContain(wrong, error.Exception.ToString());
        Assert.DoesNotContain(wrong, $"{error.TargetObject}");
    }

    [Fact]
    public void A_connection_string_given_by_position_connects_to_PostgreSQL_and_is_never_shown_as_a_path()
    {
        var connection = Assert.Single(_session.Run("Connect-Database $cs", new { cs = cluster.ConnectionString("postgres") }));
        Assert.Equal("PostgreSQL", connection.Properties["Provider"].Value.ToString());

        _session.Run("Connect-Database $cs", new { cs = cluster.ConnectionString("no_such_db") });
        var error = Assert.Single(_session.Errors);
        Assert.StartsWith("DatabaseNotFound,", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.DoesNotContain(PostgresCluster.Password, error.ToString());
        Assert.DoesNotContain(PostgresCluster.Password, $"{error.TargetObject}");
    }

    [Fact]
    public void Backup_with_verify_through_a_connection_string_given_as_Database()
    {
        var database = cluster.CreateDatabase();
        cluster.Execute(database, "CREATE TABLE sessions(id serial PRIMARY KEY, started timestamptz DEFAULT now()); INSERT INTO sessions DEFAULT VALUES; INSERT INTO sessions DEFAULT VALUES;");

        var result = Assert.Single(_session.Run("Backup-Database -Database $cs -Destination $dest -Verify",
            new { cs = cluster.ConnectionString(database), dest = _folder.File("b") }));

        Assert.Empty(_session.Errors);
        Assert.True((bool)result.Properties["Verified"].Value);
        Assert.Equal(2L, result.Properties["TotalRows"].Value);
    }

    [Fact]
    public void A_missing_pg_dump_is_a_ToolNotFound_error()
    {
        var empty = Directory.CreateDirectory(_folder.File("empty")).FullName;
        _session.Run("Backup-Database -Database $cs -Destination $dest -ToolPath $empty",
            new { cs = cluster.ConnectionString("postgres"), dest = _folder.File("b"), empty });

        Assert.Equal("ToolNotFound,DbOps.PowerShell.Commands.BackupDatabaseCommand", Assert.Single(_session.Errors).FullyQualifiedErrorId);
    }

    /// <summary>A connection string as users write one: pooled, as Npgsql is by default (the rig's own is not).</summary>
    private string Pooled(string database) =>
        $"Host=127.0.0.1;Port={cluster.Port};Username=postgres;Password={PostgresCluster.Password};Database={database}";

    [Fact]
    public void Restore_Force_after_the_session_has_read_the_target_reports_its_result()
    {
        var source = cluster.CreateDatabase("src");
        cluster.Execute(source, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g");
        var target = cluster.CreateDatabase("r3");

        var results = _session.Run("""
            $b = Backup-Database -Database $source -Destination $dest
            $null = Restore-Database -Path $b.Path -Database $target -Confirm:$false
            $null = Get-DatabaseSnapshot $target
            Restore-Database -Path $b.Path -Database $target -Force -Confirm:$false
            Restore-Database -Path $b.Path -Database $target -Force -Confirm:$false
            """, new { source = Pooled(source), target = Pooled(target), dest = _folder.File("b") });

        Assert.Empty(_session.Errors);
        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.Equal("Restored", r.Properties["Status"].Value.ToString()));
        Assert.Equal(1000L, cluster.Scalar<long>(target, "SELECT count(*) FROM t"));
    }

    [Fact]
    public void A_backup_piped_to_Test_Backup_is_verified_with_the_credential_it_was_taken_with()
    {
        var database = cluster.CreateDatabase();
        cluster.Execute(database, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 7) g");
        var password = new System.Net.NetworkCredential("", PostgresCluster.Password).SecurePassword;

        var results = _session.Run("""
            $pg = Connect-Database -ConnectionString $cs -Credential ([pscredential]::new('postgres', $password))
            Backup-Database $pg -Destination $dest | Test-Backup
            """, new { password, cs = $"Host=127.0.0.1;Port={cluster.Port};Database={database}", dest = _folder.File("b") });

        Assert.Empty(_session.Errors);
        var verification = Assert.Single(results);
        Assert.True((bool)verification.Properties["Verified"].Value, $"{verification.Properties["Reason"].Value}");
    }

    [Fact]
    public void Test_Backup_by_path_without_a_password_is_AuthenticationFailed_naming_Database_and_works_with_it()
    {
        var database = cluster.CreateDatabase();
        cluster.Execute(database, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 7) g");
        var password = new System.Net.NetworkCredential("", PostgresCluster.Password).SecurePassword;
        _session.Run("""
            $script:pg = Connect-Database -ConnectionString $cs -Credential ([pscredential]::new('postgres', $password))
            $script:b = Backup-Database $pg -Destination $dest
            """, new { password, cs = $"Host=127.0.0.1;Port={cluster.Port};Database={database}", dest = _folder.File("b") });
        Assert.Empty(_session.Errors);

        _session.Run("Test-Backup -Path $b.Path");
        var error = Assert.Single(_session.Errors);
        Assert.Equal("AuthenticationFailed,DbOps.PowerShell.Commands.TestBackupCommand", error.FullyQualifiedErrorId);
        Assert.Contains("-Database", error.ErrorDetails.Message);
        Assert.DoesNotContain("Timeout", error.ErrorDetails.Message);

        _session.Errors.Clear();
        var verification = Assert.Single(_session.Run("Test-Backup $b.Path -Database $pg")); // by position: the Path set
        Assert.Empty(_session.Errors);
        Assert.True((bool)verification.Properties["Verified"].Value);
    }
}
