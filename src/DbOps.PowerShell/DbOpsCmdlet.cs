using System.Collections.Concurrent;
using System.Management.Automation;
using DbOps.Core.Connections;
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
        var operation = MyInvocation.MyCommand.Name;
        var task = Task.Run(() =>
        {
            DbOpsTraffic.SetOperation(operation); // the application_name of the connections this work opens
            return work(observer, CancellationToken);
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
            // A write failed (the pipeline is stopping, or -WarningAction Stop): stop the work before leaving.
            _cancellation?.Cancel();
            ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
            throw;
        }
        finally
        {
            observer.Complete();
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
    private sealed class QueuedObserver(DbOpsCmdlet cmdlet, BlockingCollection<Action> queue, int activityId) : IOperationObserver
    {
        private ProgressRecord? _last;

        public void Progress(OperationProgress progress) => Post(() =>
        {
            _last = new ProgressRecord(activityId, progress.Activity, progress.Status)
            {
                PercentComplete = Math.Clamp(progress.PercentComplete, -1, 100),
            };
            cmdlet.WriteProgress(_last);
        });

        public void Verbose(string message) => Post(() => cmdlet.WriteVerbose(message));

        public void Warning(string message) => Post(() => cmdlet.WriteWarning(message));

        /// <summary>Closes the progress bar, if one was opened.</summary>
        public void Complete()
        {
            if (_last is not null)
            {
                cmdlet.WriteProgress(new ProgressRecord(activityId, _last.Activity, "Done") { RecordType = ProgressRecordType.Completed });
            }
        }

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
