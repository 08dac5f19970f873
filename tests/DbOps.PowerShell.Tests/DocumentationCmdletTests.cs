using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

[Collection(PostgresCollection.Name)]
public sealed class DocumentationCmdletTests(PostgresCluster cluster) : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly PowerShellSession _session = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    private static object? Prop(PSObject o, string name) => o.Properties[name].Value;

    [Fact]
    public void Export_DatabaseDocumentation_writes_the_files_reports_progress_and_shows_its_table_view()
    {
        var database = cluster.CreateGoalsTracker();
        var journal = _folder.File("journal.jsonl");

        var results = _session.Run("""
            $db = Connect-Database -ConnectionString $cs
            Backup-Database -Database $db -Destination $backups -Verify -JournalPath $journal | Out-Null
            $doc = $db | Export-DatabaseDocumentation -Destination $docs -JournalPath $journal -Verbose
            $doc | Out-Default
            $doc
            """, new { cs = cluster.ConnectionString(database), backups = _folder.File("backups"), docs = _folder.File("docs"), journal });

        Assert.Empty(_session.Errors);
        var result = Assert.Single(results);
        Assert.Equal("DbOps.Core.Documentation.DocumentationResult", result.BaseObject.GetType().FullName);
        Assert.Equal((6, 2, 1), ((int)Prop(result, "TableCount")!, (int)Prop(result, "DeclaredRelationships")!, (int)Prop(result, "InferredRelationships")!));
        var files = ((IEnumerable<string>)Prop(result, "Files")!).ToList();
        Assert.Equal([$"{database}.mmd", $"{database}.dot", $"{database}.svg", $"{database}.md"], files.Select(Path.GetFileName));
        Assert.All(files, f => Assert.True(File.Exists(f), f));
        Assert.NotNull(Prop(result, "SvgPath"));
        Assert.EndsWith(".dump", (string)Prop(result, "LastVerifiedBackup")!);

        var markdown = File.ReadAllText((string)Prop(result, "MarkdownPath")!);
        Assert.Contains($"Restore-Database -Path '{Prop(result, "LastVerifiedBackup")}' -Database 'Host=", markdown);
        Assert.DoesNotContain(PostgresCluster.Password, markdown);
        Assert.Contains(_session.Progress, p => p.StatusDescription.StartsWith("Profiling public.sessions", StringComparison.Ordinal));
        Assert.Contains(_session.Progress, p => p.RecordType == ProgressRecordType.Completed);
        Assert.Contains(_session.Verbose, v => v.StartsWith("Rendered ", StringComparison.Ordinal));
        Assert.Contains("Declared", _session.Host.Output);
        Assert.Contains("Inferred", _session.Host.Output);
    }

    [Fact]
    public void NoClobber_refuses_existing_files_and_WhatIf_writes_nothing()
    {
        var database = cluster.CreateGoalsTracker();
        var docs = _folder.File("docs");
        var variables = new { cs = cluster.ConnectionString(database), docs, journal = _folder.File("j.jsonl") };

        _session.Run("Export-DatabaseDocumentation $cs $docs -Table goals -WhatIf", variables);
        Assert.Empty(_session.Errors);
        Assert.False(Directory.Exists(docs));

        _session.Run("Export-DatabaseDocumentation $cs $docs -Table goals, sessions -NoProfile -JournalPath $journal", variables);
        _session.Run("Export-DatabaseDocumentation $cs $docs -NoClobber -JournalPath $journal", variables);
        _session.Run("Export-DatabaseDocumentation $cs $docs -Table missing_table -JournalPath $journal", variables);

        Assert.Equal(["DestinationExists", "TableNotFound"], _session.Errors.Select(e => e.FullyQualifiedErrorId.Split(',')[0]));
        Assert.Contains("goals", File.ReadAllText(Path.Combine(docs, database + ".mmd")));
    }
}
