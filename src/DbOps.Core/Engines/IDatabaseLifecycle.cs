namespace DbOps.Core.Engines;

/// <summary>Creating a database for a restore (-Create) and removing rehearsal databases (Remove-Database). (issue 18)</summary>
internal interface IDatabaseLifecycle
{
}
