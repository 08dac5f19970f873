using System.Text;
using System.Text.RegularExpressions;

namespace DbOps.Core.Usage;

/// <summary>
/// Counts whole-word, case-insensitive references to table names in the text files under some folders (source,
/// SQL, ORM models). Binary files, files over 16 MB, and tool folders (.git, node_modules, bin, obj) are skipped.
/// </summary>
internal sealed class CodeReferences
{
    private const long MaxFileBytes = 16 << 20;
    private static readonly HashSet<string> SkippedFolders = new(StringComparer.OrdinalIgnoreCase) { ".git", ".hg", ".svn", "node_modules", "bin", "obj", ".vs", ".idea" };

    private readonly Dictionary<string, (int Count, SortedSet<string> Files)> _found = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Files that were read.</summary>
    public int FilesSearched { get; private set; }

    public static CodeReferences Search(IEnumerable<string> folders, IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        var result = new CodeReferences();
        var words = names.Where(n => n.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).OrderByDescending(n => n.Length).ToList();
        if (words.Count == 0)
        {
            return result;
        }
        var pattern = new Regex(@"(?<![\p{L}\p{N}_])(?:" + string.Join("|", words.Select(Regex.Escape)) + @")(?![\p{L}\p{N}_])",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        foreach (var folder in folders)
        {
            if (!Directory.Exists(folder))
            {
                throw new Errors.DbOpsException(Errors.ErrorIds.FileNotFound, Errors.ErrorKind.NotFound,
                    $"-CodePath '{folder}' is not a folder. Give the folders holding the application's source.", folder);
            }
            foreach (var file in Files(folder))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (ReadText(file) is not { } text)
                {
                    continue;
                }
                result.FilesSearched++;
                foreach (Match match in pattern.Matches(text))
                {
                    if (!result._found.TryGetValue(match.Value, out var entry))
                    {
                        entry = (0, new SortedSet<string>(StringComparer.Ordinal));
                    }
                    entry.Files.Add(file);
                    result._found[match.Value] = (entry.Count + 1, entry.Files);
                }
            }
        }
        return result;
    }

    /// <summary>References to <paramref name="name"/> and the files holding them.</summary>
    public (int Count, IReadOnlyList<string> Files) For(string name) =>
        _found.TryGetValue(name, out var entry) ? (entry.Count, entry.Files.ToList()) : (0, []);

    private static IEnumerable<string> Files(string folder)
    {
        var pending = new Stack<string>([folder]);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            IEnumerable<string> files, folders;
            try
            {
                files = Directory.GetFiles(current).Order(StringComparer.Ordinal).ToList();
                folders = Directory.GetDirectories(current).Where(d => !SkippedFolders.Contains(Path.GetFileName(d))).ToList();
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                continue;
            }
            foreach (var file in files)
            {
                yield return file;
            }
            foreach (var sub in folders.Reverse())
            {
                pending.Push(sub);
            }
        }
    }

    /// <summary>The file as text, or null when it is binary, too large or unreadable.</summary>
    private static string? ReadText(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Length > MaxFileBytes || (info.Attributes & FileAttributes.ReparsePoint) != 0)
            {
                return null;
            }
            var bytes = File.ReadAllBytes(path);
            return bytes.AsSpan(0, Math.Min(bytes.Length, 8192)).Contains((byte)0) ? null : Encoding.UTF8.GetString(bytes);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return null;
        }
    }
}
