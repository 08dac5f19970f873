using System.Collections.Concurrent;
using System.Management.Automation;
using DbOps.Core.Connections;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Journal;
using DbOps.Core.Progress;
using DbOps.Core.Usage;

namespace DbOps.PowerShell;

/// <summary>
/// What every DbOps cmdlet repeats: resolving -Database, a cancellation token that Ctrl+C trips, running
/// Core work while writing its progress on the pipeline thread, and turning DbOpsException into ErrorRecords.
/// </summary>
public abstract class DbOpsCmdlet : PSCmdlet
{
    private static int _nextActivityId;
    private CancellationTokenSource? _cancellation;

    /// <summary>Cancelled when the user presses Ctrl+C or the pipeline stops.</summary>
    protected CancellationToken CancellationToken => (_cancellation ??= new CancellationTokenSource()).Token;

    /// <inheritdoc/>
    protected override void BeginProcessing() => _cancellation ??= new CancellationTokenSource();

    /// <inheritdoc/>
    protected override void StopProcessing() => _cancellation?.Cancel();

    /// <inheritdoc/>
    protected override void EndProcessing() => _cancellation?.Dispose();

    /// <summary>A path as the user typed it, resolved against PowerShell's current location (not the process's).</summary>
    protected string ResolvePath(string path) => SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>An optional path (such as -JournalPath) resolved as <see cref="ResolvePath"/> does; null stays null.</summary>
    protected string? ResolveOptionalPath(string? path) => path is null ? null : ResolvePath(path);

    /// <summary>Turns -Database into a connection, connecting once to prove it works.</summary>
    /// <param name="argument">The -Database value.</param>
    /// <param name="sqliteMayNotExist">Accept a SQLite path that does not exist yet (restore targets); nothing is created.</param>
    protected DbOpsConnection ResolveDatabase(DatabaseArgument argument, bool sqliteMayNotExist = false)
    {
        if (argument.Connection is { } connection)
        {
            return connection;
        }
        var text = argument.Text ?? "";
        if (DatabaseConnector.IsPostgresConnectionString(text))
        {
            return Run((_, token) => DatabaseConnector.ConnectPostgresAsync(text, null, null, token));
        }
        var path = ResolvePath(text);
        return sqliteMayNotExist && !File.Exists(path)
            ? DatabaseConnector.DescribeSqliteTarget(path)
            : Run((_, token) => DatabaseConnector.ConnectSqliteAsync(path, create: false, token));
    }

    /// <summary>
    /// Turns each -Database of a fleet into a connection, in the order given; one that cannot be reached is its own
    /// error record and is left out.
    /// </summary>
    protected IReadOnlyList<(DatabaseArgument Argument, DbOpsConnection Connection)> ResolveEach(IEnumerable<DatabaseArgument> arguments)
    {
        var databases = new List<(DatabaseArgument Argument, DbOpsConnection Connection)>();
        foreach (var argument in arguments)
        {
            try
            {
                databases.Add((argument, ResolveDatabase(argument)));
            }
            catch (DbOpsException e)
            {
                WriteDbOpsError(e, argument);
            }
        }
        return databases;
    }

    /// <summary>
    /// The journal entries about -Database, for the cmdlets that read the journal back: a connection matches its
    /// engine, server and database; a PostgreSQL connection string is connected once to learn them; any other text is
    /// an existing SQLite file (relative to the PowerShell location) or a database name as the journal records it.
    /// </summary>
    protected MaintenanceLogQuery JournalQuery(DatabaseArgument? database, DateTime? after, DateTime? before, string? journalPath)
    {
        if (after > before)
        {
            throw new DbOpsException(ErrorIds.InvalidTimeWindow, ErrorKind.InvalidArgument,
                $"-After ({after:u}) is later than -Before ({before:u}); give the window's start as -After and its end as -Before.");
        }
        var query = new MaintenanceLogQuery
        {
            After = after is { } a ? new DateTimeOffset(a) : null,
            Before = before is { } b ? new DateTimeOffset(b) : null,
            JournalPath = ResolveOptionalPath(journalPath),
        };
        if (database is null)
        {
            return query;
        }
        if (database.Connection is not null || DatabaseConnector.IsPostgresConnectionString(database.Text ?? ""))
        {
            return query with { Connection = ResolveDatabase(database) };
        }
        var path = ResolvePath(database.Text!);
        return query with { DatabaseName = File.Exists(path) ? path : database.Text };
    }

    /// <summary>-Parameters as SQL parameter values by name, unwrapped from PowerShell's wrappers.</summary>
    protected static Dictionary<string, object?>? ToParameterValues(System.Collections.IDictionary? parameters) =>
        parameters?.Keys.Cast<object>().ToDictionary(k => k.ToString()!, k => parameters[k] is PSObject p ? p.BaseObject : parameters[k]);

    /// <summary>The baseline -Since names: the object, or the file read (relative to the PowerShell location).</summary>
    protected UsageBaseline? LoadBaseline(UsageBaselineArgument? argument) =>
        argument is null ? null : argument.Baseline ?? UsageWatch.Load(ResolvePath(argument.Path!));

    /// <summary>
    /// Runs Core work on a worker thread while this (the pipeline) thread writes its progress, verbose and
    /// warning messages: PowerShell forbids writing from other threads. Progress is always closed.
    /// </summary>
    protected T Run<T>(Func<IOperationObserver, CancellationToken, Task<T>> work)
    {
        using var messages = new BlockingCollection<Action>();
        var observer = new QueuedObserver(this, messages, Interlocked.Increment(ref _nextActivityId));
        try
        {
            return Drain(messages, () => work(observer, CancellationToken));
        }
        finally
        {
            observer.Complete();
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on every database of a fleet, at most <paramref name="throttleLimit"/> at once and
    /// the largest first (so the longest one does not start last). Each database's results are written by
    /// <paramref name="write"/> as soon as it is done, and its failure by <paramref name="fail"/> (by default its own
    /// error record); the others go on. Both run on this (the pipeline) thread. Each database has its own progress bar,
    /// opened before its work starts and closed after its connections are.
    /// </summary>
    protected void RunEach<T>(
        IReadOnlyList<(DatabaseArgument Argument, DbOpsConnection Connection)> databases, int throttleLimit,
        Func<DbOpsConnection, IOperationObserver, CancellationToken, Task<T>> work,
        Action<DatabaseArgument, T> write, Action<DatabaseArgument, DbOpsException>? fail = null)
    {
        fail ??= (argument, error) => WriteDbOpsError(error, argument);
        using var messages = new BlockingCollection<Action>();
        var fleetId = Interlocked.Increment(ref _nextActivityId);
        var fleet = databases.Count > 1;
        var operation = MyInvocation.MyCommand.Name;
        var done = 0;
        Drain(messages, async () =>
        {
            var order = !fleet ? databases : await LargestFirstAsync(databases, throttleLimit, CancellationToken);
            var options = new ParallelOptions { MaxDegreeOfParallelism = throttleLimit, CancellationToken = CancellationToken };
            await Parallel.ForEachAsync(order, options, async (database, token) =>
            {
                // One database alone keeps the plain progress bar of a single run.
                var observer = fleet
                    ? new QueuedObserver(this, messages, Interlocked.Increment(ref _nextActivityId), database.Connection.ToString(), fleetId)
                    : new QueuedObserver(this, messages, Interlocked.Increment(ref _nextActivityId));
                if (fleet)
                {
                    observer.Progress(new OperationProgress(operation, "started", -1));
                }
                try
                {
                    var result = await work(database.Connection, observer, token);
                    messages.Add(() => write(database.Argument, result), CancellationToken.None);
                }
                catch (DbOpsException error)
                {
                    messages.Add(() => fail(database.Argument, error), CancellationToken.None);
                }
                catch (Exception error) when (fleet && error is not OperationCanceledException)
                {
                    // In a fleet an unforeseen failure is that database's own error; the others go on.
                    messages.Add(() => WriteError(new ErrorRecord(error, "DatabaseFailed", ErrorCategory.NotSpecified, database.Argument)), CancellationToken.None);
                }
                finally
                {
                    var finished = Interlocked.Increment(ref done);
                    messages.Add(() =>
                    {
                        observer.Complete();
                        if (fleet)
                        {
                            WriteProgress(new ProgressRecord(fleetId, operation, $"{finished} of {databases.Count} databases done")
                            {
                                PercentComplete = finished * 100 / databases.Count,
                                RecordType = finished == databases.Count ? ProgressRecordType.Completed : ProgressRecordType.Processing,
                            });
                        }
                    }, CancellationToken.None);
                }
            });
            return 0;
        });
    }

    /// <summary>The ceiling of -ThrottleLimit: more sessions than this at once would only queue on the servers' CPUs.</summary>
    protected const int MaxThrottleLimit = 64;

    /// <summary>The databases, largest first, by the size each engine reports (SQLite's file, pg_database_size).</summary>
    private static async Task<IReadOnlyList<(DatabaseArgument Argument, DbOpsConnection Connection)>> LargestFirstAsync(
        IReadOnlyList<(DatabaseArgument Argument, DbOpsConnection Connection)> databases, int throttleLimit, CancellationToken cancellationToken)
    {
        var sizes = new long[databases.Count];
        var options = new ParallelOptions { MaxDegreeOfParallelism = throttleLimit, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, databases.Count), options, async (i, token) =>
        {
            try
            {
                sizes[i] = await DatabaseEngines.For(databases[i].Connection.Provider).SizeAsync(databases[i].Connection, token);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A size that cannot be read only orders the work: that database's own run reports what is wrong.
                sizes[i] = 0;
            }
        });
        // A stable sort: databases of one size keep the order they were given in.
        return Enumerable.Range(0, databases.Count).OrderByDescending(i => sizes[i]).Select(i => databases[i]).ToList();
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a worker thread and performs the writes it queues on this (the pipeline) thread
    /// until it ends: PowerShell forbids writing from other threads.
    /// </summary>
    private T Drain<T>(BlockingCollection<Action> messages, Func<Task<T>> work)
    {
        var operation = MyInvocation.MyCommand.Name;
        var task = Task.Run(() =>
        {
            DbOpsTraffic.SetOperation(operation); // the application_name of the connections this work opens
            return work();
        }, CancellationToken);
        task.ContinueWith(_ => messages.CompleteAdding(), TaskScheduler.Default);
        try
        {
            foreach (var write in messages.GetConsumingEnumerable())
            {
                write();
            }
        }
        catch
        {
            // A write failed (the pipeline is stopping, -ErrorAction Stop, a terminating error): stop the work before leaving.
            _cancellation?.Cancel();
            ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
            throw;
        }
        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException e) when (CancellationToken.IsCancellationRequested)
        {
            throw new DbOpsException(ErrorIds.OperationCanceled, ErrorKind.Canceled, "The operation was stopped.", null, e);
        }
    }

    /// <summary>True under -WhatIf or $WhatIfPreference.</summary>
    protected bool WhatIfRequested => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
        ? ((SwitchParameter)value).IsPresent
        : LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"));

    /// <summary>
    /// ShouldProcess for a change made of SQL statements: -WhatIf (and -Verbose) print the one-line
    /// <paramref name="summary"/> and then the exact statements, one per line; -Confirm asks with the summary alone,
    /// since a SQLite table rebuild is some 35 statements.
    /// </summary>
    protected bool ShouldProcessStatements(string target, string summary, IEnumerable<string> statements)
    {
        var lines = string.Join(";" + Environment.NewLine + "  ", statements);
        var description = lines.Length == 0 ? summary : summary + Environment.NewLine + "  " + lines;
        return ShouldProcess(description, summary + Environment.NewLine + "Continue?", $"{MyInvocation.MyCommand.Name} on {target}");
    }

    /// <summary>Writes a non-terminating error for one failed item; the pipeline goes on with the next.</summary>
    protected void WriteDbOpsError(DbOpsException error, object? target = null) =>
        WriteError(ToErrorRecord(error, target));

    /// <summary>Stops the cmdlet when -LockTimeout is not positive: zero or less would mean waiting without end, or never.</summary>
    protected void RequirePositiveLockTimeout(TimeSpan lockTimeout)
    {
        if (lockTimeout <= TimeSpan.Zero)
        {
            ThrowDbOpsError(new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"-LockTimeout must be positive, not {lockTimeout}.", lockTimeout));
        }
    }

    /// <summary>Stops the cmdlet with an error (bad setup: nothing useful can follow).</summary>
    protected void ThrowDbOpsError(DbOpsException error, object? target = null) =>
        ThrowTerminatingError(ToErrorRecord(error, target));

    private static ErrorRecord ToErrorRecord(DbOpsException error, object? target) =>
        new(error, error.ErrorId, Category(error.Kind), target ?? error.Target)
        {
            ErrorDetails = new ErrorDetails(error.Message),
        };

    /// <summary>The PowerShell category that names what went wrong.</summary>
    private static ErrorCategory Category(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        ErrorKind.NotFound => ErrorCategory.ObjectNotFound,
        ErrorKind.AlreadyExists => ErrorCategory.ResourceExists,
        ErrorKind.ConnectionError => ErrorCategory.ConnectionError,
        ErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        ErrorKind.InvalidState => ErrorCategory.InvalidOperation,
        ErrorKind.InvalidData => ErrorCategory.InvalidData,
        ErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        ErrorKind.WriteError => ErrorCategory.WriteError,
        ErrorKind.Canceled => ErrorCategory.OperationStopped,
        // OperationFailed too: PowerShell has no category for "the server or a tool refused"; the ErrorId says which.
        _ => ErrorCategory.NotSpecified,
    };

    /// <summary>Queues Core's reports for the pipeline thread.</summary>
    /// <remarks>In a fleet each database's bar is titled with its database, under the fleet's bar.</remarks>
    private sealed class QueuedObserver(
        DbOpsCmdlet cmdlet, BlockingCollection<Action> queue, int activityId, string? database = null, int parentActivityId = -1)
        : IOperationObserver
    {
        private ProgressRecord? _last;

        public void Progress(OperationProgress progress) => Post(() =>
        {
            _last = database is null
                ? new ProgressRecord(activityId, progress.Activity, progress.Status)
                : new ProgressRecord(activityId, database, $"{progress.Activity}: {progress.Status}");
            _last.PercentComplete = Math.Clamp(progress.PercentComplete, -1, 100);
            _last.ParentActivityId = parentActivityId;
            cmdlet.WriteProgress(_last);
        });

        public void Verbose(string message) => Post(() => cmdlet.WriteVerbose(Named(message)));

        public void Warning(string message) => Post(() => cmdlet.WriteWarning(Named(message)));

        /// <summary>Closes the progress bar, if one was opened.</summary>
        public void Complete()
        {
            if (_last is not null)
            {
                cmdlet.WriteProgress(new ProgressRecord(activityId, _last.Activity, "Done")
                {
                    ParentActivityId = parentActivityId,
                    RecordType = ProgressRecordType.Completed,
                });
            }
        }

        /// <summary>In a fleet, a message says which database it is about.</summary>
        private string Named(string message) => database is null ? message : $"{database}: {message}";

        private void Post(Action write)
        {
            if (!queue.IsAddingCompleted)
            {
                try
                {
                    queue.Add(write);
                }
                catch (InvalidOperationException)
                {
                    // The work finished between the check and the add; the message has nowhere to go.
                }
            }
        }
    }
}
