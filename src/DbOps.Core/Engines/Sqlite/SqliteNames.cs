namespace DbOps.Core.Engines;

/// <summary>
/// SQLite's comparison of identifiers: case-insensitive for ASCII letters only. "CAFÉ" and "café" are two tables
/// there, so an invariant or ordinal ignore-case comparison would resolve one to the other.
/// </summary>
internal sealed class SqliteNames : IEqualityComparer<string>
{
    public static readonly SqliteNames Comparer = new();

    private SqliteNames()
    {
    }

    public static bool Same(string? a, string? b) => Comparer.Equals(a, b);

    /// <summary>The item whose name is exactly <paramref name="name"/>, else the one SQLite would take for it, else default.</summary>
    public static T? Find<T>(IEnumerable<T> items, Func<T, string> nameOf, string name)
    {
        var list = items as IReadOnlyList<T> ?? items.ToList();
        return list.FirstOrDefault(i => nameOf(i) == name) is { } exact ? exact : list.FirstOrDefault(i => Same(nameOf(i), name));
    }

    public bool Equals(string? x, string? y)
    {
        if (x is null || y is null)
        {
            return x is null && y is null;
        }
        if (x.Length != y.Length)
        {
            return false;
        }
        for (var i = 0; i < x.Length; i++)
        {
            if (Fold(x[i]) != Fold(y[i]))
            {
                return false;
            }
        }
        return true;
    }

    public int GetHashCode(string obj)
    {
        var hash = new HashCode();
        foreach (var c in obj)
        {
            hash.Add(Fold(c));
        }
        return hash.ToHashCode();
    }

    private static char Fold(char c) => c is >= 'A' and <= 'Z' ? (char)(c + 32) : c;
}
