namespace DbOps.Core.Diagnostics;

/// <summary>
/// For tests only: a kill test names a point in <see cref="Variable"/>, and a process that reaches it says so on
/// stderr and waits there to be killed, so the kill lands exactly in a window instead of racing a timer.
/// </summary>
internal static class FaultPoint
{
    public const string Variable = "DBOPS_TEST_FAULT_POINT";

    /// <summary>Between a removal's COMMIT and the journal line that records its outcome.</summary>
    public const string RemovalCommitted = nameof(RemovalCommitted);

    /// <summary>Between a row fix's DELETE or UPDATE and its COMMIT (issue 18).</summary>
    public const string RowFixApplied = nameof(RowFixApplied);

    /// <summary>Between two batches of a row fix: one batch committed, the next not begun (issue 18).</summary>
    public const string RowFixBatchCommitted = nameof(RowFixBatchCommitted);

    /// <summary>Between renaming an archive's data and schema files and renaming its manifest.</summary>
    public const string ArchiveFilesRenamed = nameof(ArchiveFilesRenamed);

    /// <summary>Between two batches of Copy-TableData: one batch committed, the next not begun.</summary>
    public const string CopyBatchCommitted = nameof(CopyBatchCommitted);

    /// <summary>A Copy-TableData batch has overwritten rows and written the record of what the copy left, before its COMMIT.</summary>
    public const string CopyAfterImageWritten = nameof(CopyAfterImageWritten);

    /// <summary>Remove-DeprecatedColumn holds the table lock and has checked the column again, before its DROP (issue 17).</summary>
    public const string ColumnLocked = nameof(ColumnLocked);

    /// <summary>Remove-DeprecatedColumn has dropped the column (SQLite: rebuilt the table), before its checks and COMMIT (issue 17).</summary>
    public const string ColumnDropped = nameof(ColumnDropped);

    /// <summary>Between Remove-DeprecatedColumn's intent line and its COMMIT (issue 17).</summary>
    public const string ColumnIntended = nameof(ColumnIntended);

    /// <summary>Between Remove-DeprecatedColumn's COMMIT and the journal line that records its outcome (issue 17).</summary>
    public const string ColumnCommitted = nameof(ColumnCommitted);

    /// <summary>A parallel export has written and recorded one range's part; other ranges may still be running (issue 22).</summary>
    public const string ArchiveRangeFinished = nameof(ArchiveRangeFinished);

    public static void Reach(string name)
    {
        if (Environment.GetEnvironmentVariable(Variable) == name)
        {
            Console.Error.WriteLine($"{Variable}={name}");
            Console.Error.Flush();
            Thread.Sleep(Timeout.Infinite);
        }
    }
}
