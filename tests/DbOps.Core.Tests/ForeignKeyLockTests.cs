using DbOps.Core.Constraints;
using DbOps.Core.Progress;
using Npgsql;

namespace DbOps.Core.Tests;

/// <summary>A foreign key's ADD ... NOT VALID holds the child table while it waits for the parent: writers must not queue behind it.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ForeignKeyLockTests(PostgresCluster cluster)
{
    [Fact]
    public async Task While_the_parent_is_locked_a_child_writer_gets_through_and_the_foreign_key_goes_on_after_retries()
    {
        var db = await cluster.CreateConnectedAsync("""
            CREATE TABLE accounts (id integer PRIMARY KEY, name text);
            CREATE TABLE events (id integer PRIMARY KEY, account_id integer);
            INSERT INTO accounts VALUES (1, 'a'), (2, 'b');
            INSERT INTO events SELECT i, 1 + i % 2 FROM generate_series(1, 100) i;
            """);
        await using var parent = new NpgsqlConnection(cluster.ConnectionString(db.Database));
        await parent.OpenAsync();
        var hold = await parent.BeginTransactionAsync();
        await new NpgsqlCommand("UPDATE accounts SET name = name WHERE id = 1", parent, hold).ExecuteNonQueryAsync();

        // A 10 s lock_timeout per try used to hold events for all of it while waiting for accounts.
        var adding = ConstraintService.AddAsync(db, ConstraintSpec.ForeignKey("events", ["account_id"], "accounts", ["id"]),
            new ConstraintOptions(TimeSpan.FromSeconds(10), 20), NullObserver.Instance, CancellationToken.None);
        await using (var probe = new NpgsqlConnection(cluster.ConnectionString(db.Database)))
        {
            await probe.OpenAsync();
            // Wait until DbOps has tried (and given up) at least once, so the writer below meets its retries. Planning alone can
            // take seconds on a loaded machine, so the bound is generous.
            for (var i = 0; i < 2400 && !adding.IsCompleted
                 && await new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'DbOps/%' AND query LIKE 'ALTER TABLE%'", probe)
                     .ExecuteScalarAsync() is 0L; i++)
            {
                await Task.Delay(25);
            }
            // The writer waits at most one short try, far below its own 5 s lock_timeout.
            await new NpgsqlCommand("SET lock_timeout = '5s'; INSERT INTO events VALUES (1000, 2)", probe).ExecuteNonQueryAsync();
        }
        Assert.False(adding.IsCompleted);
        await hold.CommitAsync();

        var result = await adding;
        Assert.Equal(ConstraintStatus.Added, result.Status);
        Assert.True(result.LockWaitRetries >= 1, $"{result.LockWaitRetries} retries");
        Assert.True(cluster.Scalar<bool>(db.Database, "SELECT convalidated FROM pg_constraint WHERE conname = 'events_account_id_fkey'"));
    }
}
