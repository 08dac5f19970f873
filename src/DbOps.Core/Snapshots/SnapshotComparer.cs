using DbOps.Core.Archive;
using DbOps.Core.Columns;
using DbOps.Core.Engines;
using DbOps.Core.Journal;

namespace DbOps.Core.Snapshots;

/// <summary>One change between two snapshots.</summary>
public sealed class SnapshotDifference
{
    internal SnapshotDifference(string objectType, string change, TableSnapshot? table, string name, string? before, string? after)
    {
        ObjectType = objectType;
        Change = change;
        Schema = table?.Schema;
        Table = table?.Name;
        Name = name;
        Before = before;
        After = after;
    }

    /// <summary>Table, Rows, Content, Column, Index, Constraint, Trigger, Policy, RowLevelSecurity, View or Sequence.</summary>
    public string ObjectType { get; }

    /// <summary>Added, Removed, Renamed (tables), Altered or Changed (rows and content).</summary>
    public string Change { get; }

    /// <summary>The table's schema, for table-level objects.</summary>
    public string? Schema { get; }

    /// <summary>The table, for table-level objects.</summary>
    public string? Table { get; }

    /// <summary>The object's name (for a table or its rows: the table's name).</summary>
    public string Name { get; }

    /// <summary>The object before (a definition, or a row count), or null when it was added.</summary>
    public string? Before { get; }

    /// <summary>The object after, or null when it was removed.</summary>
    public string? After { get; }

    /// <summary>For rows: after minus before.</summary>
    public long? RowDelta { get; internal init; }

    /// <summary>True when this change lost data: a surviving table lost rows, or a table with rows went without a verified archive.</summary>
    public bool DataLoss { get; internal init; }

    /// <summary>For a removed table: the archive that holds its rows, from the operations journal.</summary>
    public string? Archive { get; internal init; }

    /// <summary>Why the change is or is not data loss, in words.</summary>
    public string? Explanation { get; internal init; }

    /// <summary>"Table goals: Rows Changed (-3)".</summary>
    public override string ToString() => $"{ObjectType} {Name}: {Change}{(RowDelta is { } d ? $" ({d:+#;-#;0})" : "")}";
}

/// <summary>The verdict of a comparison: what changed in numbers, and whether data was lost.</summary>
public sealed class SnapshotComparison
{
    internal SnapshotComparison(DatabaseSnapshot before, DatabaseSnapshot after, IReadOnlyList<SnapshotDifference> differences, string journalPath)
    {
        Before = before.ToString();
        After = after.ToString();
        TablesBefore = before.TableCount;
        TablesAfter = after.TableCount;
        RowsBefore = before.TotalRows;
        RowsAfter = after.TotalRows;
        Differences = differences;
        TablesAdded = differences.Count(d => d is { ObjectType: "Table", Change: "Added" });
        TablesRemoved = differences.Count(d => d is { ObjectType: "Table", Change: "Removed" });
        TablesWithFewerRows = differences.Count(d => d is { ObjectType: "Rows", RowDelta: < 0 });
        DataLoss = differences.Any(d => d.DataLoss);
        JournalPath = journalPath;
        Estimated = before.Estimated || after.Estimated;
    }

    /// <summary>The earlier snapshot.</summary>
    public string Before { get; }

    /// <summary>The later snapshot.</summary>
    public string After { get; }

    /// <summary>Tables in the earlier snapshot.</summary>
    public int TablesBefore { get; }

    /// <summary>Tables in the later snapshot.</summary>
    public int TablesAfter { get; }

    /// <summary>Tables that appeared.</summary>
    public int TablesAdded { get; }

    /// <summary>Tables that disappeared.</summary>
    public int TablesRemoved { get; }

    /// <summary>Surviving tables that hold fewer rows.</summary>
    public int TablesWithFewerRows { get; }

    /// <summary>All rows before.</summary>
    public long RowsBefore { get; }

    /// <summary>All rows after.</summary>
    public long RowsAfter { get; }

    /// <summary>True when any difference lost data. A runbook can exit non-zero on it.</summary>
    public bool DataLoss { get; }

    /// <summary>True when either snapshot used row estimates, so row differences are approximate.</summary>
    public bool Estimated { get; }

    /// <summary>The journal that was searched for archives of removed tables.</summary>
    public string JournalPath { get; }

    /// <summary>Every difference, in the order they were emitted.</summary>
    public IReadOnlyList<SnapshotDifference> Differences { get; }

    /// <summary>"42 -> 41 tables, 1 removed, DataLoss: False".</summary>
    public override string ToString() =>
        $"{TablesBefore} -> {TablesAfter} tables, {TablesAdded} added, {TablesRemoved} removed, {TablesWithFewerRows} with fewer rows; DataLoss: {DataLoss}";
}

/// <summary>
/// Compares two snapshots object by object. Data loss is decided from data: a surviving table with fewer rows,
/// or a table that held rows and disappeared without a verified archive of exactly those rows in the journal.
/// </summary>
public static class SnapshotComparer
{
    /// <summary>Compares <paramref name="before"/> with <paramref name="after"/>, looking up removed tables in the journal.</summary>
    public static SnapshotComparison Compare(DatabaseSnapshot before, DatabaseSnapshot after, string? journalPath = null)
    {
        var journal = OperationsJournal.Open(journalPath);
        var differences = new List<SnapshotDifference>();
        var afterTables = after.Tables.ToDictionary(Key);
        var beforeKeys = before.Tables.Select(Key).ToHashSet();
        var appeared = after.Tables.Where(t => !beforeKeys.Contains(Key(t))).ToList();

        foreach (var old in before.Tables)
        {
            if (!afterTables.TryGetValue(Key(old), out var now))
            {
                if (Renamed(old, before, appeared, journal) is not { } renamed)
                {
                    differences.Add(Removed(old, before, after, journal));
                    continue;
                }
                // The renamed table is the same table: its rows and objects are compared as any surviving table's.
                (now, var rename) = renamed;
                appeared.Remove(now);
                differences.Add(rename);
            }
            if (now.Rows < old.Rows && !(before.Estimated || after.Estimated) && RowsRemovedOnPurpose(old, now, before, after, journal) is { } removed)
            {
                differences.Add(removed);
            }
            else if (now.Rows != old.Rows)
            {
                var delta = now.Rows - old.Rows;
                differences.Add(new SnapshotDifference("Rows", "Changed", old, old.Name, old.Rows.ToString(), now.Rows.ToString())
                {
                    RowDelta = delta,
                    DataLoss = delta < 0 && !(before.Estimated || after.Estimated),
                    Explanation = delta < 0
                        ? before.Estimated || after.Estimated
                            ? $"{-delta} fewer rows by the catalog's estimates; take exact snapshots to decide whether rows were lost"
                            : $"{old} lost {-delta} of its {old.Rows} rows"
                        : $"{old} gained {delta} rows",
                });
            }
            else if (old.Checksum is not null && now.Checksum is not null && old.Checksum != now.Checksum)
            {
                differences.Add(new SnapshotDifference("Content", "Changed", old, old.Name, old.Checksum, now.Checksum)
                {
                    Explanation = $"{old} has the same number of rows but different content (rows were updated, or replaced one for one)",
                });
            }
            NameOverwrittenRowsArchive(old, before, after, journal, differences);
            var first = differences.Count;
            CompareTable(old, now, differences);
            JudgeRemovedColumns(old, before, after, journal, differences, first);
        }
        foreach (var added in appeared)
        {
            differences.Add(new SnapshotDifference("Table", "Added", added, added.Name, null, $"{added.Rows} rows"));
        }
        CompareNamed("View", before.Views, after.Views, v => $"{v.Schema}.{v.Name}", v => $"{v.Kind}: {v.Definition}", null, differences);
        CompareNamed("Sequence", before.Sequences, after.Sequences, s => $"{s.Schema}.{s.Name}", s => $"owned by {s.OwnedBy ?? "nothing"}", null, differences);
        return new SnapshotComparison(before, after, differences, journal.Path);
    }

    private static (string, string) Key(TableSnapshot table) => (table.Schema, table.Name);

    /// <summary>
    /// A table gone under its old name was renamed when the journal has a TableRenamed entry from that name to a table
    /// that appeared, or (with no entry) when exactly one table appeared in its schema with the same columns, row count
    /// and content checksum (both snapshots taken with -Checksum). It is reported as Renamed, not Removed.
    /// </summary>
    private static (TableSnapshot Table, SnapshotDifference Difference)? Renamed(TableSnapshot old, DatabaseSnapshot before,
        IReadOnlyList<TableSnapshot> appeared, OperationsJournal journal)
    {
        var entry = journal.Read()
            // Only a rename after the earlier snapshot: the table still had its old name then.
            .Where(e => e.Operation == JournalOperations.TableRenamed && e.Time >= before.TakenAt && e.IsAbout(before.Provider, before.Server, before.Database)
                        && e.Table == old.Name && e.Schema == old.Schema && appeared.Any(t => $"{t.Schema}.{t.Name}" == e.Target))
            .MaxBy(e => e.Time);
        var twins = appeared.Where(t => t.Schema == old.Schema && t.Rows == old.Rows && old.Checksum is not null && t.Checksum == old.Checksum
                                        && t.Columns.SequenceEqual(old.Columns)).ToList();
        var renamed = entry is not null ? appeared.First(t => $"{t.Schema}.{t.Name}" == entry.Target) : twins.Count == 1 ? twins[0] : null;
        return renamed is null ? null : (renamed, new SnapshotDifference("Table", "Renamed", old, old.Name, old.ToString(), renamed.ToString())
        {
            Explanation = entry is not null
                ? $"{old} was renamed to {renamed} (Rename-Table by {entry.User} at {entry.Time:u}; undo: {entry.Undo})"
                : $"{old} was renamed to {renamed}: it has the same columns, {old.Rows} rows and content checksum",
        });
    }

    /// <summary>A removed table is explained by a verified archive, in the journal, of exactly the rows it held.</summary>
    private static SnapshotDifference Removed(TableSnapshot table, DatabaseSnapshot before, DatabaseSnapshot after, OperationsJournal journal)
    {
        var candidates = journal.Read()
            // An unsettled intent counts too: the table is gone, so its drop committed.
            .Where(e => e.Operation is JournalOperations.ArchiveCreated or JournalOperations.TableRemoved or JournalOperations.TableRemovalStarted
                        && e.Column is null
                        && e.IsAbout(before.Provider, before.Server, before.Database)
                        && string.Equals(e.Table, table.Name, StringComparison.Ordinal)
                        && (e.Schema is null || e.Schema == table.Schema))
            .OrderByDescending(e => e.Time)
            .ToList();
        // A journal line is a claim anyone who can write the file could make: the archive it names must still hold the rows.
        string? refused = null;
        var archive = candidates.FirstOrDefault(e => e.Verified && e.Rows == table.Rows && e.Path is not null
                                                     && (table.Checksum is null || e.Checksum is null || e.Checksum == table.Checksum)
                                                     && (refused = WhyNotHolding(e.Path, new TableRef(table.Schema, table.Name), table.Rows, table.Checksum ?? e.Checksum)) is null);
        if (archive is not null)
        {
            return new SnapshotDifference("Table", "Removed", table, table.Name, $"{table.Rows} rows", null)
            {
                Archive = archive.Path,
                Explanation = $"{table} ({table.Rows} rows) is in the verified archive '{archive.Path}' ({archive.Operation} by {archive.User} at {archive.Time:u})",
            };
        }
        if (table.Rows == 0 && !before.Estimated)
        {
            return new SnapshotDifference("Table", "Removed", table, table.Name, "0 rows", null) { Explanation = $"{table} was empty" };
        }
        if (MovedInto(table, before, after, journal) is var (move, archived))
        {
            return new SnapshotDifference("Table", "Removed", table, table.Name, $"{table.Rows} rows", null)
            {
                Archive = archived.Path,
                Explanation = $"{table} ({table.Rows} rows) was moved into {move.Target}: Copy-TableData -Verify found every row there " +
                              $"({move.User} at {move.Time:u}), and it was archived with the same content ({archived.Operation} at {archived.Time:u})",
            };
        }
        var nearest = candidates.FirstOrDefault();
        return new SnapshotDifference("Table", "Removed", table, table.Name, $"{table.Rows} rows", null)
        {
            DataLoss = true,
            Archive = nearest?.Path,
            Explanation = refused is not null
                ? $"{table} held {table.Rows} rows; the journal names an archive of them, but it does not prove them: {refused}"
                : nearest is null
                ? $"{table} held {table.Rows} rows and was dropped without a verified archive in the journal '{journal.Path}': the drop is unexplained"
                : $"{table} held {table.Rows} rows, but its newest archive in the journal ('{nearest.Path}', {nearest.Rows} rows, " +
                  $"{(nearest.Verified ? "verified" : "not verified")}) does not hold exactly those rows",
        };
    }

    /// <summary>
    /// The journal's proof that a removed table's rows live on in another table: the newest verified RowsCopied of the whole
    /// table (Copy-TableData -Verify found every row in its target) whose source checksum is still the table's content as
    /// the snapshot saw it (and its row count the table's), and a whole-table archive with that same checksum that still
    /// holds the rows (a move may map only some columns: the archive keeps the rest).
    /// </summary>
    private static (JournalEntry Move, JournalEntry Archive)? MovedInto(TableSnapshot table, DatabaseSnapshot before, DatabaseSnapshot after, OperationsJournal journal)
    {
        var lines = journal.Read()
            .Where(e => e.IsAbout(before.Provider, before.Server, before.Database) && string.Equals(e.Table, table.Name, StringComparison.Ordinal)
                        && (e.Schema is null || e.Schema == table.Schema) && e.Checksum is not null && e.Column is null && e.Time <= after.TakenAt)
            .OrderByDescending(e => e.Time)
            .ToList();
        var move = lines.FirstOrDefault(e => e.Operation == JournalOperations.RowsCopied);
        if (move is not { Verified: true } || move.Figures?.GetValueOrDefault("sourceRows") != table.Rows
            || (table.Checksum is not null && table.Checksum != move.Checksum))
        {
            return null;
        }
        var archive = lines.FirstOrDefault(e => e.Operation is JournalOperations.ArchiveCreated or JournalOperations.TableRemoved or JournalOperations.TableRemovalStarted
                                                && e.Checksum == move.Checksum && e.Rows == table.Rows && e.Path is not null
                                                && Holds(e.Path, new TableRef(table.Schema, table.Name), table.Rows, e.Checksum));
        return archive is null ? null : (move, archive);
    }

    /// <summary>
    /// Rows deleted on purpose (issue 18): a table with fewer rows lost none when Remove-TableRow, since the first
    /// snapshot, archived exactly the missing rows — journal lines whose verified rows archives still hold them and
    /// whose counts add up to the difference. With checksums on both sides the archived rows must also make up the
    /// content: what is left plus what was archived is what there was. Null when that is not so.
    /// </summary>
    private static SnapshotDifference? RowsRemovedOnPurpose(TableSnapshot old, TableSnapshot now, DatabaseSnapshot before, DatabaseSnapshot after, OperationsJournal journal)
    {
        var table = new TableRef(old.Schema, old.Name);
        var fixes = journal.Read()
            .Where(e => e.Operation == JournalOperations.RowsRemoved && e.Time >= before.TakenAt && e.Time <= after.TakenAt && e.Verified && e.Path is not null && e.Rows is not null
                        && e.IsAbout(before.Provider, before.Server, before.Database)
                        && string.Equals(e.Table, old.Name, StringComparison.Ordinal) && (e.Schema is null || e.Schema == old.Schema))
            .ToList();
        if (fixes.Count == 0 || fixes.Sum(e => e.Rows!.Value) != old.Rows - now.Rows
            || fixes.Any(e => !Holds(e.Path!, table, e.Rows!.Value, e.Checksum, ArchiveScope.Rows)))
        {
            return null;
        }
        if (old.Checksum is not null && now.Checksum is not null
            && ChecksumValue(old.Checksum) != fixes.Aggregate(ChecksumValue(now.Checksum), (sum, e) => sum is { } s && ChecksumValue(e.Checksum) is { } c ? unchecked(s + c) : null))
        {
            return null;
        }
        return new SnapshotDifference("Rows", "Changed", old, old.Name, old.Rows.ToString(), now.Rows.ToString())
        {
            RowDelta = now.Rows - old.Rows,
            Archive = fixes[^1].Path,
            Explanation = $"{old} has {old.Rows - now.Rows} fewer rows, removed on purpose: they are in the verified rows archive" +
                          $"{(fixes.Count == 1 ? "" : "s")} {string.Join(", ", fixes.Select(e => $"'{e.Path}' ({e.Rows} rows, by {e.User} at {e.Time:u})"))}",
        };
    }

    /// <summary>
    /// Rows overwritten on purpose (issue 16): values Copy-TableData -OnConflict Update overwrote between the snapshots
    /// are a change of content, never loss, and their old values are kept. The table's Rows or Content change names the
    /// newest verified prior image the journal's RowsCopied lines into it recorded, while that archive still holds its rows.
    /// </summary>
    private static void NameOverwrittenRowsArchive(TableSnapshot table, DatabaseSnapshot before, DatabaseSnapshot after, OperationsJournal journal,
        List<SnapshotDifference> differences)
    {
        if (differences.Count == 0 || differences[^1] is not { ObjectType: "Rows" or "Content", DataLoss: false } changed
            || changed.Table != table.Name || changed.Schema != table.Schema)
        {
            return;
        }
        var tableRef = new TableRef(table.Schema, table.Name);
        var copy = journal.Read()
            .Where(e => e.Operation == JournalOperations.RowsCopied && e.Time >= before.TakenAt && e.Time <= after.TakenAt && e.Path is not null && e.Undo is not null
                        && e.IsAbout(before.Provider, before.Server, before.Database) && e.Target == $"{table.Schema}.{table.Name}")
            .OrderByDescending(e => e.Time)
            .FirstOrDefault(e => e.Figures?.GetValueOrDefault("priorImageRows") is > 0 and var rows && Holds(e.Path!, tableRef, (long)rows, null, ArchiveScope.Rows));
        if (copy is not null)
        {
            differences[^1] = new SnapshotDifference(changed.ObjectType, changed.Change, table, changed.Name, changed.Before, changed.After)
            {
                RowDelta = changed.RowDelta,
                Archive = copy.Path,
                Explanation = $"{changed.Explanation ?? $"{tableRef} changed"}; the {copy.Figures!["priorImageRows"]} row(s) Copy-TableData overwrote " +
                              $"({copy.User} at {copy.Time:u}) keep their values in the verified archive '{copy.Path}' (undo: {copy.Undo})",
            };
        }
    }

    /// <summary>A content checksum's sum of row hashes (<see cref="TableChecksum"/>), which adds up over disjoint sets of rows.</summary>
    private static UInt128? ChecksumValue(string? checksum) =>
        checksum is not null && checksum.StartsWith(TableChecksum.Algorithm + ":", StringComparison.Ordinal)
        && UInt128.TryParse(checksum.AsSpan(TableChecksum.Algorithm.Length + 1), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var value)
            ? value : null;

    /// <summary>
    /// A dropped column that held values (counted by a -Checksum snapshot) is data loss, unless the journal names a
    /// verified column archive of it holding every row, made between the snapshots and proved from its files. One that
    /// held only NULLs lost nothing; one whose values were not counted fails closed, as loss, when its table had rows. An
    /// unsettled intent (ColumnRemovalStarted, a run killed between its COMMIT and its outcome line) counts too: the column
    /// is gone, so its drop committed, and its archive is proved from the files like any other.
    /// </summary>
    private static void JudgeRemovedColumns(TableSnapshot table, DatabaseSnapshot before, DatabaseSnapshot after, OperationsJournal journal, List<SnapshotDifference> differences, int first)
    {
        for (var i = first; i < differences.Count; i++)
        {
            var removed = differences[i];
            if (removed is not { ObjectType: "Column", Change: "Removed" } || table.Columns.FirstOrDefault(c => c.Name == removed.Name) is not { } column)
            {
                continue;
            }
            var tableRef = new TableRef(table.Schema, table.Name);
            var entries = journal.Read();
            // An intent whose drop was found not to have committed explains nothing.
            var voided = entries.Where(e => e.Outcome == ColumnRemovalService.NotCommittedOutcome && e.Id is not null).Select(e => e.Id).ToHashSet();
            var archive = entries
                .Where(e => e.Operation is JournalOperations.ColumnRemoved or JournalOperations.ColumnRemovalStarted && e.IsAbout(before.Provider, before.Server, before.Database)
                            && !(e.Operation == JournalOperations.ColumnRemovalStarted && voided.Contains(e.Id))
                            && e.Table == table.Name && (e.Schema is null || e.Schema == table.Schema) && e.Column == column.Name
                            && e.Verified && e.Rows == table.Rows && e.Path is not null
                            // An older archive of a column of the same name holds other values.
                            && e.Time >= before.TakenAt && e.Time <= after.TakenAt)
                .OrderByDescending(e => e.Time)
                .FirstOrDefault(e => Task.Run(() => ColumnArchive.WhyNotHoldingAsync(e.Path!, tableRef, column.Name, table.Rows, e.Checksum, CancellationToken.None))
                                         .GetAwaiter().GetResult() is null);
            differences[i] = new SnapshotDifference(removed.ObjectType, removed.Change, table, removed.Name, removed.Before, removed.After)
            {
                DataLoss = archive is null && (column.NonNull > 0 || (column.NonNull is null && table.Rows > 0)),
                Archive = archive?.Path,
                Explanation = archive is not null
                    ? $"the values of {tableRef}.{column.Name} ({table.Rows} rows with their key) are in the verified column archive '{archive.Path}'"
                    : column.NonNull switch
                    {
                        0 => $"{tableRef}.{column.Name} held only NULLs",
                        > 0 => $"{tableRef}.{column.Name} held {column.NonNull} values and was dropped without a verified column archive in the journal '{journal.Path}'",
                        _ when table.Rows == 0 => $"{tableRef}.{column.Name} was dropped from an empty table",
                        _ => $"{tableRef}.{column.Name} was dropped without a verified column archive in the journal '{journal.Path}', and " +
                             "whether it held values is unknown, so it counts as lost; take the snapshots with -Checksum to count its values",
                    },
            };
        }
    }

    /// <summary>Why the archive a journal line names does not hold those rows of the table, proved from its files; null when it does.</summary>
    private static string? WhyNotHolding(string manifestPath, TableRef table, long rows, string? checksum, ArchiveScope scope = ArchiveScope.Table) =>
        Task.Run(() => ArchiveVerification.WhyNotHoldingAsync(manifestPath, table, rows, checksum, CancellationToken.None, scope)).GetAwaiter().GetResult();

    private static bool Holds(string manifestPath, TableRef table, long rows, string? checksum, ArchiveScope scope = ArchiveScope.Table) =>
        WhyNotHolding(manifestPath, table, rows, checksum, scope) is null;

    private static void CompareTable(TableSnapshot old, TableSnapshot now, List<SnapshotDifference> differences)
    {
        CompareNamed("Column", old.Columns, now.Columns, c => c.Name,
            c => $"{c.DataType}{(c.IsNullable ? "" : " NOT NULL")}{(c.Default is null ? "" : " DEFAULT " + c.Default)}", old, differences);
        CompareNamed("Index", old.Indexes, now.Indexes, i => i.Name, i => i.Definition + (i.IsValid ? "" : " (INVALID)"), old, differences);
        CompareNamed("Constraint", old.Constraints, now.Constraints, c => c.Name,
            c => c.Definition + (c.IsValidated ? "" : " NOT VALID"), old, differences);
        CompareNamed("Trigger", old.Triggers, now.Triggers, t => t.Name, t => t.Definition + (t.Enabled ? "" : " (disabled)"), old, differences);
        CompareNamed("Policy", old.Policies, now.Policies, p => p.Name,
            p => $"{p.Permissive} FOR {p.Command} TO {string.Join(", ", p.Roles)} USING ({p.Using}) WITH CHECK ({p.WithCheck})", old, differences);
        if (old.RowLevelSecurity != now.RowLevelSecurity || old.ForceRowLevelSecurity != now.ForceRowLevelSecurity)
        {
            static string State(TableSnapshot t) => t.RowLevelSecurity ? (t.ForceRowLevelSecurity ? "enabled, forced" : "enabled") : "disabled";
            differences.Add(new SnapshotDifference("RowLevelSecurity", "Altered", old, old.Name, State(old), State(now)));
        }
        if (old.Definition is not null && now.Definition is not null && old.Definition != now.Definition)
        {
            differences.Add(new SnapshotDifference("TableDefinition", "Altered", old, old.Name, old.Definition, now.Definition));
        }
    }

    private static void CompareNamed<T>(
        string objectType, IReadOnlyList<T> before, IReadOnlyList<T> after, Func<T, string> name, Func<T, string> describe,
        TableSnapshot? table, List<SnapshotDifference> differences)
    {
        var afterByName = after.ToDictionary(name);
        var beforeNames = before.Select(name).ToHashSet();
        foreach (var old in before)
        {
            if (!afterByName.TryGetValue(name(old), out var now))
            {
                differences.Add(new SnapshotDifference(objectType, "Removed", table, name(old), describe(old), null));
            }
            else if (describe(old) != describe(now))
            {
                differences.Add(new SnapshotDifference(objectType, "Altered", table, name(old), describe(old), describe(now)));
            }
        }
        foreach (var added in after.Where(a => !beforeNames.Contains(name(a))))
        {
            differences.Add(new SnapshotDifference(objectType, "Added", table, name(added), null, describe(added)));
        }
    }
}
