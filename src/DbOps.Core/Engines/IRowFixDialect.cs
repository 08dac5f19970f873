namespace DbOps.Core.Engines;

/// <summary>Remove-TableRow and Update-TableRow: locking, re-checking and changing exactly the archived rows. (issue 18)</summary>
internal interface IRowFixDialect
{
}
