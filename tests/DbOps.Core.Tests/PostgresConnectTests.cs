using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DbOps.Core.Connections;
using DbOps.Core.Errors;

namespace DbOps.Core.Tests;

[Collection(PostgresCollection.Name)]
public sealed class PostgresConnectTests(PostgresCluster cluster)
{
    [Fact]
    public async Task Connects_and_describes_the_server_without_the_password()
    {
        var connection = await DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString("postgres"), null, null, CancellationToken.None);

        Assert.Equal(DatabaseProvider.PostgreSQL, connection.Provider);
        Assert.Equal("postgres", connection.Database);
        Assert.Equal($"127.0.0.1:{cluster.Port}", connection.Server);
        Assert.Matches(@"^\d+\.\d+", connection.ServerVersion);
        Assert.DoesNotContain(PostgresCluster.Password, connection.ToString());
        Assert.All(typeof(DbOpsConnection).GetProperties(), p => Assert.DoesNotContain(PostgresCluster.Password, $"{p.GetValue(connection)}"));
    }

    [Fact]
    public async Task Accepts_a_postgresql_uri()
    {
        var uri = $"postgresql://{PostgresCluster.SuperUser}:{Uri.EscapeDataString(PostgresCluster.Password)}@127.0.0.1:{cluster.Port}/postgres";
        var connection = await DatabaseConnector.ConnectPostgresAsync(uri, null, null, CancellationToken.None);
        Assert.Equal("postgres", connection.Database);
    }

    [Fact]
    public async Task A_wrong_password_is_an_authentication_error_that_does_not_repeat_the_password()
    {
        const string wrong = "Wr0ng-Pa55word-XYZ";
        var error = await Assertions.ThrowsDbOps(ErrorIds.AuthenticationFailed,
            () => DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString("postgres", wrong), null, null, CancellationToken.None));
        Assert.DoesNotContain(wrong, error.ToString());
        Assert.DoesNotContain(PostgresCluster.Password, error.ToString());
    }

    [Fact]
    public async Task A_missing_database_is_reported_as_such()
    {
        await Assertions.ThrowsDbOps(ErrorIds.DatabaseNotFound,
            () => DatabaseConnector.ConnectPostgresAsync(cluster.ConnectionString("no_such_db"), null, null, CancellationToken.None));
    }

    [Fact]
    public async Task A_closed_port_fails_with_ConnectionFailed()
    {
        int closedPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var error = await Assertions.ThrowsDbOps(ErrorIds.ConnectionFailed,
            () => DatabaseConnector.ConnectPostgresAsync($"Host=127.0.0.1;Port={closedPort};Username=u;Password=p;Database=d", null, null, CancellationToken.None));
        Assert.Contains($"127.0.0.1:{closedPort}", error.Message);
    }

    [Fact]
    public async Task A_server_that_never_answers_fails_within_the_connect_timeout()
    {
        // Accepts TCP connections and then says nothing, like a host behind a dropping firewall.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var clock = Stopwatch.StartNew();

        var error = await Assertions.ThrowsDbOps(ErrorIds.ConnectionFailed,
            () => DatabaseConnector.ConnectPostgresAsync($"Host=127.0.0.1;Port={port};Username=u;Password=p;Database=d;Timeout=2", null, null, CancellationToken.None));

        // Npgsql's default is 15 s: finishing well before that shows the 2 s from the connection string applied.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Contains("no answer within 2 s", error.Message);
    }

    [Fact]
    public async Task Uses_PG_environment_variables_and_a_pgpass_file_as_psql_does()
    {
        using var folder = new TempFolder();
        var passfile = folder.File("pgpass");
        await File.WriteAllTextAsync(passfile, $"127.0.0.1:{cluster.Port}:*:{PostgresCluster.SuperUser}:{PostgresCluster.Password}\n");
        File.SetUnixFileMode(passfile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var saved = new[] { "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSFILE" }.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable("PGHOST", "127.0.0.1");
            Environment.SetEnvironmentVariable("PGPORT", cluster.Port.ToString());
            Environment.SetEnvironmentVariable("PGUSER", PostgresCluster.SuperUser);
            Environment.SetEnvironmentVariable("PGDATABASE", "postgres");
            Environment.SetEnvironmentVariable("PGPASSFILE", passfile);

            // Nothing but the URI scheme: everything else, password included, comes from the environment.
            var connection = await DatabaseConnector.ConnectPostgresAsync("postgresql://", null, null, CancellationToken.None);

            Assert.Equal("postgres", connection.Database);
            Assert.Equal($"127.0.0.1:{cluster.Port}", connection.Server);
        }
        finally
        {
            foreach (var (name, value) in saved)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }
}
