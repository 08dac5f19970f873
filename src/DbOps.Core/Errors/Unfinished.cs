using DbOps.Core.Engines;

namespace DbOps.Core.Errors;

/// <summary>Turns whatever stopped a step into a DbOps error, so callers see a stable id and never a driver's exception.</summary>
internal static class Unfinished
{
    /// <summary>
    /// <paramref name="e"/> as a DbOps error: its own id, <see cref="ErrorIds.ConnectionLost"/> when the session ended
    /// under the step, else <paramref name="failedId"/>.
    /// </summary>
    /// <param name="e">What stopped the step.</param>
    /// <param name="failedId">The id for any other failure.</param>
    /// <param name="what">The step, as in "while {what}".</param>
    /// <param name="next">What the user should do now.</param>
    /// <param name="target">The object the step worked on.</param>
    public static DbOpsException Error(Exception e, string failedId, string what, string next, string target) => e switch
    {
        DbOpsException known => known,
        _ when DatabaseEngines.IsConnectionLost(e) => new DbOpsException(ErrorIds.ConnectionLost, ErrorKind.ConnectionError,
            $"The connection to the server was lost while {what} ({FirstLine(e.Message)}). {next}", target, e),
        _ => new DbOpsException(failedId, ErrorKind.OperationFailed, $"{char.ToUpperInvariant(what[0])}{what[1..]} failed ({FirstLine(e.Message)}). {next}", target, e),
    };

    /// <summary>Not a cancellation: cancellations stay cancellations.</summary>
    public static bool IsFailure(Exception e) => e is not OperationCanceledException && e is not DbOpsException { ErrorId: ErrorIds.OperationCanceled };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
