using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

public sealed class SqliteCmdletTests : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    /// <summary>
    /// Creates a small database through the module's Invoke-DatabaseQuery, so this also proves the module resolves its
    /// own native SQLite library (from out/DbOps, whatever SQLite the test process has).
    /// </summary>
    private string CreateDatabase(string name, int rows = 50)
    {
        var path = _folder.File(name);
        _session.ExecuteSqlite(path, $"""
            CREATE TABLE goals(id INTEGER PRIMARY KEY, title TEXT NOT NULL);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {rows}) INSERT INTO goals SELECT i, 'goal ' || i FROM n;
            """);
        return path;
    }

    private static object Prop(PSObject o, string name) => o.Properties[name].Value;

    [Theory]
    [InlineData("Connect-Database 'Hots=db1;Usrname=x;'", "ConnectDatabaseCommand")]
    [InlineData("Find-UnusedTable -Database 'Hots=db1;Usrname=x;'", "FindUnusedTableCommand")]
    public void A_mistyped_connection_string_is_InvalidConnectionString_not_a_missing_SQLite_file(string script, string command)
    {
        _session.Run(script);

        var error = Assert.Single(_session.Errors);
        Assert.Equal($"InvalidConnectionString,DbOps.PowerShell.Commands.{command}", error.FullyQualifiedErrorId);
        Assert.Contains("'hots'", error.ErrorDetails?.Message ?? error.Exception.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void The_module_exports_exactly_its_cmdlets_with_the_build_version()
    {
        var names = _session.Run("(Get-Module DbOps).ExportedCmdlets.Keys | ForEach-Object { $_ }").Select(o => o.ToString()).Order();
        // Every cmdlet class the module's assembly defines is exported by the manifest, and nothing else is.
        var defined = _session.Run("""
            (Get-Module DbOps).ImplementingAssembly.GetExportedTypes() |
                ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
                ForEach-Object { $_.VerbName + '-' + $_.NounName }
            """).Select(o => o.ToString()).Order();
        Assert.Equal(defined, names);
        Assert.Contains("Compare-DatabaseSnapshot", names);
        Assert.Contains("Export-DatabaseDocumentation", names);
        Assert.Contains("Test-DataIntegrity", names);
        Assert.Contains("Export-IntegrityReport", names);
        Assert.Contains("Add-SafeConstraint", names);
        Assert.Contains("Measure-QueryPerformance", names);
        Assert.Contains("Remove-UnusedIndex", names);

        var versions = _session.Run("$m = Get-Module DbOps; $m.Version.ToString(3); [System.Reflection.AssemblyName]::GetAssemblyName($m.Path).Version.ToString(3)");
        Assert.Equal(versions[1].ToString(), versions[0].ToString());
        Assert.NotEqual("0.0.0", versions[0].ToString());
    }

    [Fact]
    public void Connect_Backup_and_Test_Backup_pipe_typed_objects_to_each_other()
    {
        var path = CreateDatabase("goals.db", rows: 120);

        var results = _session.Run(
            "Connect-Database -Path $path | Backup-Database -Destination $dest -Verify | Test-Backup",
            new { path, dest = _folder.File("backups") });

        Assert.Empty(_session.Errors);
        var check = Assert.Single(results);
        Assert.Equal("DbOps.Core.Backup.BackupVerification", check.BaseObject.GetType().FullName);
        Assert.True((bool)Prop(check, "Verified"));
        var table = Assert.Single(((System.Collections.IEnumerable)Prop(check, "Tables")).Cast<object>());
        Assert.Equal(120L, PSObject.AsPSObject(table).Properties["Actual"].Value);
    }

    [Fact]
    public void Test_Backup_expands_wildcards_in_Path()
    {
        var path = CreateDatabase("goals.db");
        var results = _session.Run("""
            Backup-Database -Database $path -Destination $dest -Name one.sqlite | Out-Null
            Backup-Database -Database $path -Destination $dest -Name two.sqlite | Out-Null
            Test-Backup -Path ([System.IO.Path]::Combine($dest, '*.manifest.json'))
            """, new { path, dest = _folder.File("b") });

        Assert.Empty(_session.Errors);
        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.True((bool)Prop(r, "Verified")));
    }

    [Fact]
    public void Database_accepts_a_plain_path_relative_to_the_current_location()
    {
        CreateDatabase("relative.db");
        var results = _session.Run("$null = $ExecutionContext.SessionState.Path.SetLocation($folder); Backup-Database -Database ./relative.db -Destination ./b", new { folder = _folder.Path });

        Assert.Empty(_session.Errors);
        Assert.StartsWith(_folder.File("b"), (string)Prop(Assert.Single(results), "Path"), StringComparison.Ordinal);
    }

    [Fact]
    public void Connect_to_a_missing_file_is_a_terminating_DatabaseNotFound_error()
    {
        _session.Run("Connect-Database -Path $p; 'not reached'", new { p = _folder.File("missing.db") });

        var error = Assert.Single(_session.Errors);
        Assert.Equal("DatabaseNotFound,DbOps.PowerShell.Commands.ConnectDatabaseCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.False(File.Exists(_folder.File("missing.db")));
    }

    [Fact]
    public void A_bad_database_in_the_pipeline_is_reported_and_the_others_are_still_backed_up()
    {
        var good = CreateDatabase("good.db");
        var results = _session.Run("$bad, $good | Backup-Database -Destination $dest",
            new { bad = _folder.File("missing.db"), good, dest = _folder.File("b") });

        Assert.Single(results);
        Assert.Equal("DatabaseNotFound,DbOps.PowerShell.Commands.BackupDatabaseCommand", Assert.Single(_session.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void Backup_WhatIf_writes_nothing_and_says_what_it_would_do()
    {
        var path = CreateDatabase("goals.db");
        var results = _session.Run("Backup-Database -Database $path -Destination $dest -WhatIf", new { path, dest = _folder.File("b") });

        Assert.Empty(results);
        Assert.False(Directory.Exists(_folder.File("b")));
        Assert.Contains("What if:", _session.Host.Output);
        Assert.Contains("Back up to", _session.Host.Output);
    }

    [Fact]
    public void Restore_asks_for_confirmation_and_does_nothing_when_the_answer_is_no()
    {
        var path = CreateDatabase("goals.db");
        var target = _folder.File("restored.db");
        _session.Run("$script:b = Backup-Database -Database $path -Destination $dest", new { path, dest = _folder.File("b") });

        _session.Host.Answers.Enqueue("&No");
        var declined = _session.Run("$b | Restore-Database -Database $target", new { target });
        Assert.Empty(declined);
        Assert.False(File.Exists(target));
        Assert.Contains(target, Assert.Single(_session.Host.Prompts));

        _session.Host.Answers.Enqueue("&Yes");
        var restored = Assert.Single(_session.Run("$b | Restore-Database -Database $target", new { target }));
        Assert.Equal("Restored", Prop(restored, "Status"));
        Assert.Equal(50L, Prop(restored, "TotalRows"));
        Assert.Empty(_session.Errors);
    }

    [Fact]
    public void Restore_WhatIf_creates_nothing_and_never_prompts()
    {
        var path = CreateDatabase("goals.db");
        var target = _folder.File("restored.db");
        _session.Run("Backup-Database -Database $path -Destination $dest | Restore-Database -Database $target -WhatIf",
            new { path, dest = _folder.File("b"), target });

        Assert.False(File.Exists(target));
        Assert.Empty(_session.Host.Prompts);
        Assert.Contains("What if:", _session.Host.Output);
    }

    [Fact]
    public void Restore_refuses_a_database_with_tables_unless_forced()
    {
        var path = CreateDatabase("goals.db");
        var other = CreateDatabase("other.db", rows: 7);
        _session.Run("$script:b = Backup-Database -Database $path -Destination $dest; $b | Restore-Database -Database $other -Confirm:$false",
            new { path, dest = _folder.File("b"), other });

        Assert.Equal("TargetNotEmpty,DbOps.PowerShell.Commands.RestoreDatabaseCommand", Assert.Single(_session.Errors).FullyQualifiedErrorId);

        var forced = Assert.Single(_session.Run("$b | Restore-Database -Database $other -Force -Confirm:$false", new { other }));
        Assert.Equal(50L, Prop(forced, "TotalRows"));
    }

    [Fact]
    public void A_restore_whose_counts_differ_from_the_manifest_writes_RestoreCountMismatch()
    {
        var path = CreateDatabase("goals.db", rows: 30);
        var backup = _session.Run("Backup-Database -Database $path -Destination $dest", new { path, dest = _folder.File("b") }).Single();
        var manifestPath = (string)Prop(backup, "ManifestPath");
        File.WriteAllText(manifestPath, File.ReadAllText(manifestPath).Replace("\"rows\": 30", "\"rows\": 31", StringComparison.Ordinal));

        var restored = Assert.Single(_session.Run("Restore-Database -Path $manifestPath -Database $target -Confirm:$false",
            new { manifestPath, target = _folder.File("restored.db") }));

        Assert.Equal("CountMismatch", Prop(restored, "Status"));
        Assert.Equal("RestoreCountMismatch,DbOps.PowerShell.Commands.RestoreDatabaseCommand", Assert.Single(_session.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void Test_Backup_of_a_damaged_file_emits_Verified_false_and_a_BackupCorrupt_error()
    {
        var path = CreateDatabase("goals.db", rows: 2000);
        var backup = _session.Run("Backup-Database -Database $path -Destination $dest", new { path, dest = _folder.File("b") }).Single();
        var file = (string)Prop(backup, "Path");
        var bytes = File.ReadAllBytes(file);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(file, bytes);

        var check = Assert.Single(_session.Run("Test-Backup -Path $file", new { file }));

        Assert.False((bool)Prop(check, "Verified"));
        Assert.Contains("SHA-256", (string)Prop(check, "Reason"));
        Assert.Equal("BackupCorrupt,DbOps.PowerShell.Commands.TestBackupCommand", Assert.Single(_session.Errors).FullyQualifiedErrorId);
    }

    [Fact]
    public void Results_render_through_the_modules_table_views()
    {
        var path = CreateDatabase("goals.db");
        _session.Run("Backup-Database -Database $path -Destination $dest -Verify | Out-Default", new { path, dest = _folder.File("b") });

        var output = PowerShellSession.StripAnsi(_session.Host.Output);
        Assert.Matches(@"Database\s+Tables\s+Rows\s+Size\s+Status\s+Path", output);
        Assert.Contains("Verified", output);
        Assert.DoesNotContain("DbOps.Core.Backup.BackupResult", output);
    }

    [Fact]
    public void Long_operations_write_progress_and_always_close_it()
    {
        var path = CreateDatabase("goals.db", rows: 20000);
        _session.Run("Backup-Database -Database $path -Destination $dest -Verify", new { path, dest = _folder.File("b") });

        Assert.NotEmpty(_session.Progress);
        Assert.Equal(ProgressRecordType.Completed, _session.Progress[^1].RecordType);
    }
}
