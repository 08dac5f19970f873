using System.Text;
using System.Text.RegularExpressions;

namespace DbOps.Core.Archive;

/// <summary>
/// An archive's schema file: plain SQL in sections, each introduced by a line <c>-- DbOps: section | what</c>.
/// Import-TableArchive runs <see cref="Prerequisite"/> sections only when the object they create is missing,
/// <see cref="Table"/> before loading the rows, <see cref="AfterLoad"/> once they are in (keys and indexes), and
/// <see cref="Dependent"/> last, each in a savepoint, skipping with a warning what needs objects the target lacks
/// (foreign keys to other tables, triggers calling functions, partition attachments).
/// </summary>
internal sealed partial class ArchiveSchemaFile(string description)
{
    public const string Prerequisite = "prerequisite";
    public const string Table = "table";
    public const string AfterLoad = "after-load";
    public const string Dependent = "dependent";

    [GeneratedRegex(@"^-- DbOps: (?<section>[a-z-]+) \| (?<what>[^\r\n]*)\r?$", RegexOptions.Multiline)]
    private static partial Regex Marker();

    public string Description { get; } = description;

    public List<Section> Sections { get; } = [];

    public IEnumerable<Section> In(string section) => Sections.Where(s => s.Kind == section);

    public void Add(string kind, string what, string sql) => Sections.Add(new Section(kind, what, sql.Trim()));

    public string Serialize()
    {
        var text = new StringBuilder();
        text.Append("-- DbOps table archive schema: ").Append(Description.ReplaceLineEndings(" ")).Append('\n');
        text.Append("-- Import-TableArchive runs 'prerequisite' sections only when their object is missing, 'table' before loading\n");
        text.Append("-- the rows, 'after-load' after them, and 'dependent' last, skipping with a warning what the target cannot hold.\n");
        foreach (var section in Sections)
        {
            text.Append("\n-- DbOps: ").Append(section.Kind).Append(" | ").Append(section.What.ReplaceLineEndings(" ")).Append('\n');
            text.Append(section.Sql).Append('\n');
        }
        return text.ToString();
    }

    public static ArchiveSchemaFile Parse(string text)
    {
        var markers = Marker().Matches(text);
        var firstLine = text.Split('\n', 2)[0];
        var file = new ArchiveSchemaFile(firstLine.StartsWith("-- DbOps table archive schema: ", StringComparison.Ordinal) ? firstLine[31..] : "");
        for (var i = 0; i < markers.Count; i++)
        {
            var start = markers[i].Index + markers[i].Length;
            var end = i + 1 < markers.Count ? markers[i + 1].Index : text.Length;
            file.Add(markers[i].Groups["section"].Value, markers[i].Groups["what"].Value, text[start..end]);
        }
        return file;
    }

    /// <summary>One section: its kind, what it creates, and its SQL.</summary>
    public sealed record Section(string Kind, string What, string Sql);
}
