namespace DbOps.Core.Engines;

/// <summary>Find-DeprecatedColumn, Rename-Table and dependents retired with a table: the catalog reads and DDL. (issue 17)</summary>
internal interface ISchemaChangeDialect
{
}
