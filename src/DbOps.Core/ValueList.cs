using System.Collections.ObjectModel;

namespace DbOps.Core;

/// <summary>
/// The read-only list behind a result's list properties (sample keys, columns, statements, evidence). Its text is
/// its items joined with "; ", so <c>Export-Csv</c> and string expansion write "5; 44; 87" instead of a collection
/// type name; everything else (enumerating, indexing, ConvertTo-Json) sees an ordinary list.
/// </summary>
/// <typeparam name="T">The item type; each item is written with its own ToString().</typeparam>
public sealed class ValueList<T> : ReadOnlyCollection<T>
{
    internal ValueList(IList<T> items)
        : base(items)
    {
    }

    /// <summary>The items joined with "; ".</summary>
    public override string ToString() => string.Join("; ", this);
}

/// <summary>Creates <see cref="ValueList{T}"/>s.</summary>
internal static class ValueList
{
    /// <summary>The items as a <see cref="ValueList{T}"/> (a copy, so the result cannot change under its reader).</summary>
    public static ValueList<T> Of<T>(IEnumerable<T> items) => items as ValueList<T> ?? new ValueList<T>(items.ToList());
}
