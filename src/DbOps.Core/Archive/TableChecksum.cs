using System.Data.Common;
using System.Globalization;
using System.IO.Hashing;
using DbOps.Core.Connections;
using DbOps.Core.Engines;

namespace DbOps.Core.Archive;

/// <summary>A table's row count and content checksum, as recorded in an archive manifest.</summary>
/// <param name="Rows">The number of rows.</param>
/// <param name="Checksum">The order-independent content checksum (see <see cref="TableChecksum"/>).</param>
public sealed record TableContent(long Rows, string Checksum);

/// <summary>
/// An order-independent checksum of a table's rows, computed the same way from the live table and from an archive
/// file, so Remove-DeprecatedTable and snapshots can prove a live table still equals its archive.
/// <para>Each row is encoded canonically (<see cref="CanonicalRow"/>: per value a tag byte, then for non-null
/// values a 4-byte little-endian length and the bytes) and hashed with XXH128 (seed 0); the table's checksum is
/// the sum of the row hashes modulo 2^128, written as <c>xxh128sum-v1:</c> and 32 lower-case hex digits. The sum
/// does not depend on row order and counts duplicate rows. Values are PostgreSQL's text output of each column under
/// fixed settings (<see cref="PostgresArchive.CanonicalSettingsSql"/>: ISO dates, UTC, shortest exact floats, hex
/// bytea), or SQLite values with their storage class (INTEGER as decimal, REAL as .NET's round-trip "R" text, TEXT as
/// its stored UTF-8 bytes, never decoded, so bytes that are not UTF-8 count as themselves; BLOB as its bytes).</para>
/// </summary>
public sealed class TableChecksum
{
    /// <summary>The algorithm name that prefixes every checksum.</summary>
    public const string Algorithm = "xxh128sum-v1";

    private UInt128 _sum;

    /// <summary>Rows added so far.</summary>
    public long Rows { get; private set; }

    /// <summary>The checksum of the rows added so far.</summary>
    public string Value => $"{Algorithm}:{_sum:x32}";

    /// <summary>The count and checksum together.</summary>
    public TableContent Content => new(Rows, Value);

    /// <summary>
    /// The columns an archive stores and the checksum covers: every column but generated ones, which are
    /// recomputed from the others. Snapshots checksum the same columns, so their checksums equal archives'.
    /// </summary>
    internal static IReadOnlyList<Schema.ColumnInfo> StoredColumns(Schema.TableSchema table) =>
        table.Columns.Where(c => !c.IsGenerated).ToList();

    internal void Add(CanonicalRow row)
    {
        unchecked
        {
            _sum += XxHash128.HashToUInt128(row.Bytes);
        }
        Rows++;
    }

    /// <summary>
    /// Adds the rows of a part of the table counted and checksummed apart (a range of a parallel export, issue 22):
    /// the whole's checksum is the sum of its parts' sums, in any order, so the result equals one pass over every row.
    /// </summary>
    internal void Add(TableContent part)
    {
        var prefix = Algorithm + ":";
        if (!part.Checksum.StartsWith(prefix, StringComparison.Ordinal)
            || !UInt128.TryParse(part.Checksum.AsSpan(prefix.Length), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var sum))
        {
            throw new InvalidDataException($"'{part.Checksum}' is not a {Algorithm} checksum.");
        }
        unchecked
        {
            _sum += sum;
        }
        Rows += part.Rows;
    }

    /// <summary>
    /// Reads the live table in one read-only snapshot and returns its row count and checksum over
    /// <paramref name="columns"/> (in that order: an archive manifest's column list).
    /// </summary>
    public static async Task<TableContent> ComputeAsync(DbOpsConnection source, TableRef table, IReadOnlyList<string> columns, CancellationToken cancellationToken)
    {
        var engine = DatabaseEngines.For(source.Provider);
        await using var session = await engine.OpenReadOnlyAsync(source, cancellationToken);
        await using var transaction = await engine.BeginSnapshotAsync(session.Connection, cancellationToken);
        return await ComputeAsync(engine, session.Connection, transaction, table, columns, cancellationToken);
    }

    /// <summary>
    /// Computes the checksum on an open connection, inside the caller's transaction (e.g. under the exclusive lock
    /// that precedes a DROP); with <paramref name="where"/>, of the rows that condition chooses (a rows archive's). It fixes
    /// the session's output settings first (<see cref="IArchiveDialect.UseCanonicalTextAsync"/>).
    /// </summary>
    internal static async Task<TableContent> ComputeAsync(IDatabaseEngine engine, DbConnection connection, DbTransaction? transaction, TableRef table,
        IReadOnlyList<string> columns, CancellationToken cancellationToken, string? where = null)
    {
        var checksum = new TableChecksum();
        await engine.Archive.UseCanonicalTextAsync(connection, cancellationToken);
        await engine.Archive.ReadRowsAsync(connection, transaction, table, columns, where, checksum.Add, cancellationToken);
        return checksum.Content;
    }
}
