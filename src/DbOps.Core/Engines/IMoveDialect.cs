namespace DbOps.Core.Engines;

/// <summary>Compare-TableData and Copy-TableData: key-range checksums, set-based comparison, batched copies. (issue 16)</summary>
internal interface IMoveDialect
{
}
