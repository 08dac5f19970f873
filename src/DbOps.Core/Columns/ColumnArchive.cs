using DbOps.Core.Archive;
using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Schema;

namespace DbOps.Core.Columns;

/// <summary>
/// What a column archive holds: every row's key plus the archived columns. The key is what puts the values back into
/// the live table, so it must address each row for good: the primary key, or a unique key on NOT NULL columns (never
/// a rowid or ctid, which a VACUUM or a rebuild changes).
/// </summary>
/// <param name="Key">The key columns, in key order.</param>
/// <param name="Archived">The columns archived with the key.</param>
/// <param name="Stored">Key then archived columns: the archive's columns and the order its checksum covers.</param>
internal sealed record ColumnArchive(IReadOnlyList<string> Key, IReadOnlyList<string> Archived, IReadOnlyList<ColumnInfo> Stored)
{
    /// <summary>The name an archive's files get: the table and its archived columns, so it never takes a table archive's name.</summary>
    public string BaseName(TableRef table) => $"{table}.{string.Join(",", Archived)}.column";

    /// <summary>The key and columns of a Columns selection on <paramref name="table"/>, or the refusal that says what would work.</summary>
    /// <exception cref="DbOpsException">ColumnNotFound, ColumnIsKey, NoUsableKey, InvalidSpecification.</exception>
    public static ColumnArchive For(TableSchema table, ArchiveSelection selection)
    {
        var archived = (selection.Columns ?? []).Select(c => table.GetColumn(c)).ToList();
        if (archived.Count == 0)
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"A column archive of {table.Table} needs at least one column to archive.", table.Table);
        }
        var key = selection.Key.Count > 0 ? selection.Key.Select(k => table.GetColumn(k).Name).ToList() : KeyOf(table);
        if (key is null || !IsUsableKey(table, key))
        {
            throw new DbOpsException(ErrorIds.NoUsableKey, ErrorKind.InvalidState,
                $"{table.Table} has no key that addresses its rows for good ({(key is null ? "no primary key and no unique key on NOT NULL columns" : $"({string.Join(", ", key)}) is not a unique key on NOT NULL columns")}), " +
                "so its column values could not be put back by row. Add a primary key (or a unique constraint on NOT NULL columns) first, " +
                "or archive the whole table with Export-TableArchive instead.", table.Table);
        }
        if (archived.FirstOrDefault(c => key.Contains(c.Name)) is { } keyColumn)
        {
            throw new DbOpsException(ErrorIds.ColumnIsKey, ErrorKind.InvalidArgument,
                $"{keyColumn.Name} is part of the key ({string.Join(", ", key)}) of {table.Table}; a column archive keeps the key to address rows, " +
                "so the key itself cannot be retired this way. Change the key first, or archive and remove the whole table.", table.Table);
        }
        if (archived.FirstOrDefault(c => c.IsGenerated) is { } generated)
        {
            throw new DbOpsException(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument,
                $"{generated.Name} of {table.Table} is a generated column: it holds no values of its own to archive.", table.Table);
        }
        var stored = key.Select(k => table.GetColumn(k)).Concat(archived.DistinctBy(c => c.Name)).ToList();
        return new ColumnArchive(key, archived.Select(c => c.Name).Distinct().ToList(), stored);
    }

    /// <summary>
    /// Null when <paramref name="manifestPath"/> is a column archive of <paramref name="column"/> holding exactly
    /// <paramref name="rows"/> rows of <paramref name="table"/>, proved from its files; otherwise why not (a snapshot comparison asks).
    /// </summary>
    internal static async Task<string?> WhyNotHoldingAsync(string manifestPath, TableRef table, string column, long rows, string? checksum,
        CancellationToken cancellationToken)
    {
        try
        {
            var (manifest, path, _) = ArchiveManifest.Load(manifestPath);
            if (manifest.Scope is not ArchiveScope.Columns || !manifest.ColumnNames.Skip(manifest.Key?.Count ?? 0).Contains(column))
            {
                return $"'{path}' is not a column archive of {column}";
            }
        }
        catch (DbOpsException e) when (e.ErrorId != ErrorIds.OperationCanceled)
        {
            return e.Message;
        }
        return await ArchiveVerification.WhyNotHoldingAsync(manifestPath, table, rows, checksum, cancellationToken, ArchiveScope.Columns);
    }

    /// <summary>The primary key, else the first unique key on NOT NULL columns; null when there is none.</summary>
    internal static IReadOnlyList<string>? KeyOf(TableSchema table) =>
        new[] { table.PrimaryKey }.Concat(table.UniqueKeys).OfType<KeyInfo>().Select(k => k.Columns)
            .Concat(table.Indexes.Where(i => i.IsUnique && i.IsValid && !i.IsPartial).Select(i => i.Columns))
            .FirstOrDefault(columns => IsUsableKey(table, columns));

    private static bool IsUsableKey(TableSchema table, IReadOnlyList<string> key) =>
        key.Count > 0 && table.HasUniqueKeyOn(key)
        && key.All(k => table.FindColumn(k) is { } c && (!c.IsNullable || table.PrimaryKey?.Columns.Contains(c.Name) == true));
}
