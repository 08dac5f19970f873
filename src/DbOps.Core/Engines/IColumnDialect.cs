namespace DbOps.Core.Engines;

/// <summary>Remove-DeprecatedColumn and column archives: dropping a column (or rebuilding the table) and putting it back. (issue 17)</summary>
internal interface IColumnDialect
{
}
