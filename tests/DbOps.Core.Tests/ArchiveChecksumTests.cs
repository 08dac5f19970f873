using System.Text;
using DbOps.Core.Archive;

namespace DbOps.Core.Tests;

public sealed class ArchiveChecksumTests
{
    private static List<string[]> Parse(string csv, int columns, CsvDialect dialect, int chunk)
    {
        var rows = new List<string[]>();
        var parser = new CsvRowParser(dialect, columns, row =>
        {
            var values = new List<string>();
            foreach (var field in row)
            {
                values.Add(field.Tag == ValueTag.Null ? "<null>" : $"{field.Tag}:{Encoding.UTF8.GetString(field.Value)}");
            }
            rows.Add([.. values]);
        });
        var bytes = Encoding.UTF8.GetBytes(csv);
        for (var i = 0; i < bytes.Length; i += chunk)
        {
            parser.Feed(bytes.AsSpan(i, Math.Min(chunk, bytes.Length - i)));
        }
        parser.Finish();
        return rows;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4096)]
    public void PostgreSQL_CSV_parses_the_same_whatever_the_chunk_boundaries(int chunk)
    {
        const string csv = "1,\"a,b\",\n2,\"\",\"line\nbreak \"\"quoted\"\"\"\n3,plain,ü€\r\n";
        var rows = Parse(csv, 3, CsvDialect.PostgreSQL, chunk);

        Assert.Equal(3, rows.Count);
        Assert.Equal(["Text:1", "Text:a,b", "<null>"], rows[0]);
        Assert.Equal(["Text:2", "Text:", "Text:line\nbreak \"quoted\""], rows[1]);
        Assert.Equal(["Text:3", "Text:plain", "Text:ü€"], rows[2]);
    }

    [Fact]
    public void SQLite_CSV_keeps_storage_classes()
    {
        var rows = Parse("1,1.0,\"1\",X'00FF',,-2.5E+300,Infinity\n", 7, CsvDialect.SQLite, 5);

        Assert.Equal(["Integer:1", "Real:1", "Text:1", "Blob:\0\uFFFD", "<null>", "Real:-2.5E+300", "Real:Infinity"],
            rows[0].Select(v => v.Replace("\u00FF", "\uFFFD")).ToArray());
    }

    [Fact]
    public void A_truncated_quoted_value_or_a_short_row_is_invalid_data()
    {
        Assert.Throws<InvalidDataException>(() => Parse("1,\"unfinished\n", 2, CsvDialect.PostgreSQL, 100));
        Assert.Throws<InvalidDataException>(() => Parse("1,2\n3\n", 2, CsvDialect.PostgreSQL, 100));
    }

    [Fact]
    public void The_checksum_ignores_row_order_but_not_content_nulls_or_duplicates()
    {
        static string Sum(params string[] csvRows)
        {
            var checksum = new TableChecksum();
            var parser = new CsvRowParser(CsvDialect.PostgreSQL, 2, checksum.Add);
            parser.Feed(Encoding.UTF8.GetBytes(string.Concat(csvRows.Select(r => r + "\n"))));
            parser.Finish();
            return checksum.Value;
        }

        Assert.Equal(Sum("1,a", "2,b"), Sum("2,b", "1,a"));
        Assert.StartsWith(TableChecksum.Algorithm + ":", Sum("1,a"));
        Assert.NotEqual(Sum("1,a", "2,b"), Sum("1,a", "2,c"));
        Assert.NotEqual(Sum("1,\"\""), Sum("1,"));
        Assert.NotEqual(Sum("1,a"), Sum("1,a", "1,a"));
        Assert.NotEqual(Sum("1a,"), Sum("1,a"));
        // Quoting is not content: the same value quoted or not hashes the same.
        Assert.Equal(Sum("1,a"), Sum("\"1\",\"a\""));
    }
}

/// <summary>Rewrites an archive's manifest to match a changed data file and re-seals it, as a careful forger would.</summary>
internal static class ArchiveTampering
{
    /// <summary>
    /// Deletes the data file's second line, or changes one letter or digit in it (so the file still parses), then
    /// re-seals the manifest over the edited file.
    /// </summary>
    public static async Task EditSecondRowAndResealAsync(string manifestPath, string dataPath, bool deleteRow)
    {
        var bytes = (await File.ReadAllBytesAsync(dataPath)).ToList();
        var start = bytes.IndexOf((byte)'\n') + 1;
        var end = bytes.IndexOf((byte)'\n', start);
        Assert.True(start > 0 && end > start, "the data file needs at least two rows");
        if (deleteRow)
        {
            bytes.RemoveRange(start, end - start + 1);
        }
        else
        {
            var at = Enumerable.Range(start, end - start).First(i => char.IsAsciiLetterOrDigit((char)bytes[i]));
            var c = (char)bytes[at];
            bytes[at] = (byte)(char.IsAsciiDigit(c) ? (c == '9' ? '8' : c + 1) : c ^ 0x20);
        }
        await File.WriteAllBytesAsync(dataPath, bytes.ToArray());
        await ResealAsync(manifestPath, dataPath);
    }

    public static async Task ResealAsync(string manifestPath, string dataPath)
    {
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(manifestPath))!;
        await using (var stream = File.OpenRead(dataPath))
        {
            manifest["data"]!["sha256"] = Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream));
        }
        manifest["data"]!["sizeBytes"] = new FileInfo(dataPath).Length;
        manifest["seal"] = null;
        var unsealed = manifest.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
        manifest["seal"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(unsealed)));
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());
    }
}
