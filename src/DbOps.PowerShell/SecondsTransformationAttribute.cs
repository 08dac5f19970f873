using System.Globalization;
using System.Management.Automation;

namespace DbOps.PowerShell;

/// <summary>A plain number given for a TimeSpan parameter means seconds (PowerShell alone would read it as ticks).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class SecondsTransformationAttribute : ArgumentTransformationAttribute
{
    /// <inheritdoc/>
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        return value is int or long or double or decimal or float
            ? TimeSpan.FromSeconds(Convert.ToDouble(value, CultureInfo.InvariantCulture))
            : inputData;
    }
}
