using System.Text;
using DbOps.Core.Schema;

namespace DbOps.Core.Documentation;

/// <summary>
/// Writes the schema as a Graphviz digraph: one node per table (an HTML-like label listing its columns, with a
/// port per column), one edge per relationship from the child's column to the parent's. Inferred edges are
/// dashed and labelled "inferred"; archived tables are grey. Node ids are generated (<c>t1</c>, <c>t2</c>...),
/// so no table name has to survive DOT's quoting; names appear only in labels, XML-escaped.
/// </summary>
internal static class DotDiagram
{
    public static string Write(DocumentationModel model, string title)
    {
        var ids = new Dictionary<Engines.TableRef, string>();
        var text = new StringBuilder();
        text.Append("digraph schema {\n");
        text.Append("    graph [rankdir=LR, fontname=\"Helvetica\", fontsize=11, labelloc=t, label=<").Append(Html(title)).Append(">];\n");
        text.Append("    node [shape=plaintext, fontname=\"Helvetica\", fontsize=10];\n");
        text.Append("    edge [fontname=\"Helvetica\", fontsize=9, color=\"#4a4a4a\"];\n");
        // Tables of one schema are boxed together when there are several schemas.
        var schemas = model.Tables.GroupBy(t => t.Table.Schema).ToList();
        foreach (var schema in schemas)
        {
            var indent = "    ";
            if (schemas.Count > 1)
            {
                text.Append("    subgraph cluster_").Append(ids.Count + 1).Append(" {\n        graph [label=<").Append(Html(schema.Key))
                    .Append(">, style=rounded, color=\"#9ab0c8\"];\n");
                indent = "        ";
            }
            foreach (var table in schema)
            {
                var id = $"t{ids.Count + 1}";
                ids[table.Table] = id;
                Node(text, indent, id, table);
            }
            if (schemas.Count > 1)
            {
                text.Append("    }\n");
            }
        }
        foreach (var relationship in model.Relationships)
        {
            text.Append("    ").Append(Endpoint(model, ids, relationship.Child, relationship.ChildColumns[0]))
                .Append(" -> ").Append(Endpoint(model, ids, relationship.Parent, relationship.ParentColumns[0]));
            text.Append(relationship.Source == RelationshipSource.Inferred
                ? " [style=dashed, color=\"#b05a00\", fontcolor=\"#b05a00\", label=\"inferred\"];\n"
                : ";\n");
        }
        text.Append("}\n");
        return text.ToString();
    }

    /// <summary>One table as a node whose HTML-like label lists its columns, each with a port for edges.</summary>
    private static void Node(StringBuilder text, string indent, string id, DocumentedTable table)
    {
        var archived = table.Archive is not null;
        text.Append(indent).Append(id).Append(" [tooltip=").Append(Quoted(table.Table.ToString())).Append(", label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"3\"")
            .Append(archived ? " COLOR=\"#9a9a9a\"" : "").Append('>');
        text.Append("<TR><TD BGCOLOR=\"").Append(archived ? "#e2e2e2" : "#d6e6f5").Append("\"><B>").Append(Html(table.Table.ToString())).Append("</B>");
        if (archived)
        {
            text.Append("<BR/><I>archived</I>");
        }
        text.Append("</TD></TR>");
        for (var i = 0; i < table.Schema.Columns.Count; i++)
        {
            var column = table.Schema.Columns[i];
            var keys = DocumentationText.KeyMarkers(table.Schema, column);
            text.Append("<TR><TD PORT=\"c").Append(i).Append("\" ALIGN=\"LEFT\">")
                .Append(Html(column.Name)).Append(" <FONT COLOR=\"#666666\">").Append(Html(column.DataType)).Append("</FONT>");
            if (keys.Count > 0)
            {
                text.Append(" <B>").Append(string.Join(",", keys)).Append("</B>");
            }
            text.Append("</TD></TR>");
        }
        text.Append("</TABLE>>];\n");
    }

    private static string Endpoint(DocumentationModel model, Dictionary<Engines.TableRef, string> ids, Engines.TableRef table, string column)
    {
        var columns = model.Find(table)!.Schema.Columns;
        var index = columns.ToList().FindIndex(c => c.Name == column);
        return index < 0 ? ids[table] : $"{ids[table]}:c{index}";
    }

    /// <summary>A DOT double-quoted string; backslashes doubled so escString sequences such as \N stay literal.</summary>
    internal static string Quoted(string value) =>
        "\"" + new string(value.Select(c => char.IsControl(c) ? ' ' : c).ToArray()).Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>Text for an HTML-like label: XML-escaped, without control characters.</summary>
    internal static string Html(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            builder.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                _ when char.IsControl(c) => " ",
                _ => c.ToString(),
            });
        }
        return builder.ToString();
    }
}
