using System.Collections;
using System.Management.Automation;

namespace DbOps.PowerShell;

/// <summary>
/// -Database takes one database. PowerShell alone refuses an array with "Specified method is not supported";
/// this says what to write instead. Several databases in one run are piped, one run per database.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class OneDatabaseAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc/>
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (value is IList { Count: > 1 } several)
        {
            throw new ArgumentTransformationMetadataException(
                $"-Database takes one database, not {several.Count}. Pipe them instead, one run per database: 'a.db', 'b.db' | Test-DataIntegrity");
        }
        return value is IList { Count: 1 } one ? one[0] : inputData;
    }
}
