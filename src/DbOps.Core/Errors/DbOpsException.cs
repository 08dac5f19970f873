namespace DbOps.Core.Errors;

/// <summary>What kind of failure an error is, so a host can map it to its own categories.</summary>
public enum ErrorKind
{
    /// <summary>An argument or input file is malformed.</summary>
    InvalidArgument,
    /// <summary>A named object (file, database, table, tool) does not exist.</summary>
    NotFound,
    /// <summary>The server or a tool could not be reached or started.</summary>
    ConnectionError,
    /// <summary>Credentials were refused or a permission is missing.</summary>
    PermissionDenied,
    /// <summary>The target is in a state that forbids the operation.</summary>
    InvalidState,
    /// <summary>Stored data is damaged or does not match what was recorded.</summary>
    InvalidData,
    /// <summary>Disk space, or another resource, ran out.</summary>
    ResourceUnavailable,
    /// <summary>A write to disk or to the database failed.</summary>
    WriteError,
    /// <summary>An external tool or the server reported a failure.</summary>
    OperationFailed,
    /// <summary>The user stopped the operation.</summary>
    Canceled,
    /// <summary>What the operation would create (a file, a name) already exists.</summary>
    AlreadyExists,
}

/// <summary>
/// The one exception type DbOps.Core throws on purpose. <see cref="ErrorId"/> is a stable PascalCase
/// condition (see <see cref="ErrorIds"/>) that scripts and tests can rely on; the message says what
/// happened, to which object, and what to do next. Messages never contain a password.
/// </summary>
public sealed class DbOpsException : Exception
{
    /// <summary>Creates an error with a stable id.</summary>
    public DbOpsException(string errorId, ErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    /// <summary>The stable error id, e.g. <c>ConnectionFailed</c>.</summary>
    public string ErrorId { get; }

    /// <summary>The kind of failure.</summary>
    public ErrorKind Kind { get; }

    /// <summary>The object the error is about (a path, a connection, a table), if any.</summary>
    public object? Target { get; }
}
