using System.Management.Automation;

namespace DbOps.PowerShell.Tests;

/// <summary>
/// One command over many databases (-ThrottleLimit): the same results as one run per database, never more than the
/// throttle at work at once, the largest first, and one database's failure on its own.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FleetCmdletTests(PostgresCluster cluster) : IDisposable
{
    // Each database holds a child table with its own number of orphans and its own size.
    private const string Schema = """
        CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER, note TEXT);
        """;

    private readonly PowerShellSession _session = new();
    private readonly TempFolder _folder = new();

    public void Dispose()
    {
        _session.Dispose();
        _folder.Dispose();
    }

    [Fact]
    public void ThrottleLimit_4_over_20_SQLite_and_4_PostgreSQL_databases_gives_the_results_of_24_serial_runs()
    {
        var databases = Fleet(sqlite: 20, postgres: 4);

        // Objects as JSON without what differs between two runs by nature (the moment a snapshot was taken).
        const string Canonical = """
            function Canonical { process { $_ | Select-Object * -ExcludeProperty TakenAt | ConvertTo-Json -Depth 6 -Compress } }
            """;
        var serial = _session.Run(Canonical + """
            foreach ($db in $databases) {
                Test-DataIntegrity $db -Relationship @{ 'child.parent_id' = 'parent.id' } | Canonical
                Get-DatabaseSnapshot $db | Canonical
                Find-MissingIndex $db | Canonical
            }
            """, new { databases }).Select(o => o.ToString()).Order(StringComparer.Ordinal).ToList();
        Assert.Empty(_session.Errors);
        _session.Progress.Clear();

        var fleet = _session.Run(Canonical + """
            Test-DataIntegrity $databases -Relationship @{ 'child.parent_id' = 'parent.id' } -ThrottleLimit 4 | Canonical
            $databases | Get-DatabaseSnapshot -ThrottleLimit 4 | Canonical
            Find-MissingIndex $databases -ThrottleLimit 4 | Canonical
            """, new { databases }).Select(o => o.ToString()).Order(StringComparer.Ordinal).ToList();

        Assert.Empty(_session.Errors);
        Assert.True(serial.Count(s => s.Contains("\"Check\":", StringComparison.Ordinal)) >= 24, "every database has orphans");
        Assert.Equal(serial, fleet);
        // Each command: every database's bar opened and closed, never more than 4 open at once.
        Assert.Equal([24, 24, 24], DatabasesWorkedOn().Select(c => c.Databases));
        Assert.All(DatabasesWorkedOn(), c => Assert.InRange(c.MostAtOnce, 1, 4));
    }

    [Fact]
    public void A_fleet_starts_with_its_largest_database()
    {
        var databases = Fleet(sqlite: 5, postgres: 0);

        _session.Run("Get-DatabaseSnapshot $databases -ThrottleLimit 1 | Out-Null", new { databases });

        Assert.Empty(_session.Errors);
        // Fleet() made database i with i * 40 rows: the last one given is the largest.
        var started = _session.Progress.Where(p => p.ParentActivityId != -1 && p.StatusDescription.EndsWith("started", StringComparison.Ordinal))
            .Select(p => p.Activity).ToList();
        Assert.Equal(databases.Reverse().Select(d => "SQLite " + d), started);
    }

    [Fact]
    public void One_database_that_fails_is_its_own_error_and_the_others_go_on()
    {
        var databases = Fleet(sqlite: 3, postgres: 1).ToList();
        databases.Insert(1, _folder.File("missing.db"));
        databases.Add(cluster.ConnectionString("no_such_database_here"));

        var reports = _session.Run("Test-DataIntegrity $databases -AsReport -ThrottleLimit 2", new { databases = databases.ToArray() });

        Assert.Equal(4, reports.Count);
        Assert.Equal(2, _session.Errors.Count);
        Assert.All(_session.Errors, e => Assert.Equal("DatabaseArgument", e.TargetObject.GetType().Name));
    }

    /// <summary>SQLite files and PostgreSQL databases, database i with i orphans and i * 40 rows (so sizes differ).</summary>
    private string[] Fleet(int sqlite, int postgres)
    {
        var databases = new List<string>();
        for (var i = 1; i <= sqlite + postgres; i++)
        {
            var rows = $"""
                INSERT INTO parent(id, name) VALUES (1, 'one');
                WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {i * 40})
                INSERT INTO child(id, parent_id, note) SELECT n, CASE WHEN n <= {i} THEN 1000 + n ELSE 1 END, '{new string('x', 200)}' FROM g;
                """;
            if (i <= sqlite)
            {
                var path = _folder.File($"fleet{i:D2}.db");
                _session.ExecuteSqlite(path, Schema + rows);
                databases.Add(path);
            }
            else
            {
                var name = cluster.CreateDatabase("fleet");
                cluster.Execute(name, Schema + rows);
                databases.Add(cluster.ConnectionString(name));
            }
        }
        return [.. databases];
    }

    /// <summary>
    /// Per fleet command, read from its progress records in the order the pipeline wrote them: how many databases'
    /// bars were opened, and the most open at once (a bar opens before its database's work and closes after it).
    /// </summary>
    private List<(int Databases, int MostAtOnce)> DatabasesWorkedOn()
    {
        var commands = new List<(int, int)>();
        foreach (var fleet in _session.Progress.Where(p => p.ParentActivityId != -1).GroupBy(p => p.ParentActivityId))
        {
            var open = new HashSet<int>();
            var seen = new HashSet<int>();
            var most = 0;
            foreach (var record in fleet)
            {
                if (record.RecordType == ProgressRecordType.Completed)
                {
                    open.Remove(record.ActivityId);
                }
                else if (seen.Add(record.ActivityId))
                {
                    open.Add(record.ActivityId);
                    most = Math.Max(most, open.Count);
                }
            }
            Assert.Empty(open);
            commands.Add((seen.Count, most));
        }
        return commands;
    }
}
