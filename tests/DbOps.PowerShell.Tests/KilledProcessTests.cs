using System.Diagnostics;

namespace DbOps.PowerShell.Tests;

/// <summary>
/// Invariant 4 end to end: a backup whose process is killed mid-write leaves no backup and no manifest under
/// their final names, and the next backup into that folder removes the abandoned temporary files.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class KilledProcessTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_backup_killed_mid_write_leaves_nothing_that_looks_complete_and_the_next_run_cleans_up()
    {
        var database = cluster.CreateDatabase("killed");
        // Random text compresses poorly, so pg_dump takes a few seconds: long enough to be caught mid-write.
        cluster.Execute(database, "CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 1500000) g");
        var backups = _folder.File("backups");
        var script = _folder.File("backup.ps1");
        File.WriteAllText(script, "param($cs, $dest) Backup-Database -Database $cs -Destination $dest\n");

        using (var pwsh = Process.Start(PwshProcess.StartInfo(script, "-cs", cluster.ConnectionString(database), "-dest", backups))!)
        {
            pwsh.StandardInput.Close();
            var clock = Stopwatch.StartNew();
            while (!PartialIsGrowing(backups))
            {
                if (pwsh.HasExited)
                {
                    Assert.Fail($"The backup ended (exit code {pwsh.ExitCode}) before it could be killed: {pwsh.StandardError.ReadToEnd()}");
                }
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "no temporary backup file appeared");
                Thread.Sleep(50);
            }
            PwshProcess.KillTree(pwsh);
        }

        Assert.NotEmpty(Partials(backups));
        Assert.DoesNotContain(Directory.GetFiles(backups), f => !Path.GetFileName(f).StartsWith('.'));

        var (exitCode, stdout, stderr) = PwshProcess.Run(script, "-cs", cluster.ConnectionString(database), "-dest", backups);

        Assert.True(exitCode == 0, stdout + stderr);
        var left = Directory.GetFiles(backups).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(2, left.Count);
        Assert.All(left, name => Assert.False(name!.StartsWith('.'), $"left behind: {name}"));
    }

    private static bool PartialIsGrowing(string folder) =>
        Directory.Exists(folder) && Partials(folder).Any(f => new FileInfo(f).Length > 64 * 1024);

    private static IEnumerable<string> Partials(string folder) =>
        Directory.GetFiles(folder).Where(f => f.Contains(".partial", StringComparison.Ordinal));
}
