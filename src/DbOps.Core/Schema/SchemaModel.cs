using DbOps.Core.Connections;
using DbOps.Core.Errors;
using DbOps.Core.Engines;

namespace DbOps.Core.Schema;

/// <summary>A table column as the catalog describes it.</summary>
/// <param name="Name">Column name, unquoted.</param>
/// <param name="Ordinal">1-based position in the table.</param>
/// <param name="DataType">Declared type (PostgreSQL: format_type, e.g. <c>numeric(10,2)</c>; SQLite: the declared type text).</param>
/// <param name="IsNullable">False when the column cannot hold NULL.</param>
/// <param name="Default">The default expression, if any.</param>
/// <param name="IsGenerated">True for a generated (computed) column.</param>
/// <param name="Identity">PostgreSQL identity kind (<c>ALWAYS</c> or <c>BY DEFAULT</c>), or null.</param>
/// <param name="Comment">The column's comment, if any.</param>
public sealed record ColumnInfo(
    string Name, int Ordinal, string DataType, bool IsNullable, string? Default, bool IsGenerated,
    string? Identity = null, string? Comment = null);

/// <summary>A primary key or unique constraint.</summary>
/// <param name="Name">Constraint name (SQLite: the backing index name, or <c>PRIMARY</c> for a rowid key).</param>
/// <param name="Columns">Key columns in order.</param>
public sealed record KeyInfo(string Name, IReadOnlyList<string> Columns);

/// <summary>A declared foreign key.</summary>
/// <param name="Name">Constraint name (SQLite has none: a name in PostgreSQL's style is made up).</param>
/// <param name="Table">The referencing (child) table.</param>
/// <param name="Columns">Referencing columns in order.</param>
/// <param name="ReferencedTable">The referenced (parent) table.</param>
/// <param name="ReferencedColumns">Referenced columns, matched by position to <paramref name="Columns"/>.</param>
/// <param name="IsValidated">
/// PostgreSQL: false for a constraint added NOT VALID and not validated since. SQLite never checks existing
/// rows, so its foreign keys are never validated.
/// </param>
/// <param name="IsEnforced">
/// PostgreSQL: false when the constraint's triggers are disabled. SQLite: false, because enforcement is a
/// per-connection setting (<c>PRAGMA foreign_keys</c>) that is off by default.
/// </param>
/// <param name="OnDelete">Referential action on delete (e.g. <c>NO ACTION</c>, <c>CASCADE</c>).</param>
/// <param name="OnUpdate">Referential action on update.</param>
public sealed record ForeignKeyInfo(
    string Name, TableRef Table, IReadOnlyList<string> Columns, TableRef ReferencedTable,
    IReadOnlyList<string> ReferencedColumns, bool IsValidated, bool IsEnforced, string OnDelete, string OnUpdate);

/// <summary>A CHECK constraint (read from PostgreSQL's catalog; SQLite keeps checks only in the CREATE TABLE text).</summary>
/// <param name="Name">Constraint name.</param>
/// <param name="Expression">The boolean expression, as the server prints it.</param>
/// <param name="IsValidated">False for a constraint added NOT VALID and not validated since.</param>
public sealed record CheckInfo(string Name, string Expression, bool IsValidated);

/// <summary>An index.</summary>
/// <param name="Name">Index name.</param>
/// <param name="Table">The indexed table.</param>
/// <param name="Columns">Key columns in order; an expression key appears as its text.</param>
/// <param name="IsUnique">True for a unique index.</param>
/// <param name="IsPrimaryKey">True when the index backs the primary key.</param>
/// <param name="IsValid">False for a PostgreSQL index left INVALID by a failed concurrent build.</param>
/// <param name="IsPartial">True when the index has a WHERE clause.</param>
/// <param name="ConstraintName">The primary key, unique or exclusion constraint this index backs, or null.</param>
/// <param name="Definition">The statement that creates the index (empty for SQLite's automatic indexes).</param>
public sealed record IndexInfo(
    string Name, TableRef Table, IReadOnlyList<string> Columns, bool IsUnique, bool IsPrimaryKey, bool IsValid,
    bool IsPartial, string? ConstraintName, string Definition);

/// <summary>Everything the catalog says about one table.</summary>
public sealed class TableSchema
{
    internal TableSchema(
        TableRef table, IReadOnlyList<ColumnInfo> columns, KeyInfo? primaryKey, IReadOnlyList<KeyInfo> uniqueKeys,
        IReadOnlyList<ForeignKeyInfo> foreignKeys, IReadOnlyList<CheckInfo> checks, IReadOnlyList<IndexInfo> indexes,
        string? comment, string? createSql)
    {
        Table = table;
        Columns = columns;
        PrimaryKey = primaryKey;
        UniqueKeys = uniqueKeys;
        ForeignKeys = foreignKeys;
        Checks = checks;
        Indexes = indexes;
        Comment = comment;
        CreateSql = createSql;
    }

    /// <summary>The table's schema and name.</summary>
    public TableRef Table { get; }

    /// <summary>Columns in ordinal order.</summary>
    public IReadOnlyList<ColumnInfo> Columns { get; }

    /// <summary>The primary key, if the table has one.</summary>
    public KeyInfo? PrimaryKey { get; }

    /// <summary>Unique constraints (unique indexes that are not constraints are in <see cref="Indexes"/>).</summary>
    public IReadOnlyList<KeyInfo> UniqueKeys { get; }

    /// <summary>Foreign keys declared on this table (outbound).</summary>
    public IReadOnlyList<ForeignKeyInfo> ForeignKeys { get; }

    /// <summary>CHECK constraints (PostgreSQL).</summary>
    public IReadOnlyList<CheckInfo> Checks { get; }

    /// <summary>Indexes, including those that back constraints.</summary>
    public IReadOnlyList<IndexInfo> Indexes { get; }

    /// <summary>The table's comment, if any.</summary>
    public string? Comment { get; }

    /// <summary>SQLite: the CREATE TABLE statement stored in sqlite_schema. PostgreSQL: null.</summary>
    public string? CreateSql { get; }

    /// <summary>The column of that name (exact match first, then case-insensitive), or null.</summary>
    public ColumnInfo? FindColumn(string name) =>
        Columns.FirstOrDefault(c => c.Name == name)
        ?? Columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The column of that name, or a <see cref="ErrorIds.ColumnNotFound"/> error naming the columns there are.</summary>
    public ColumnInfo GetColumn(string name) =>
        FindColumn(name) ?? throw new DbOpsException(
            ErrorIds.ColumnNotFound, ErrorKind.NotFound,
            $"Table {Table} has no column '{name}'. Its columns are: {string.Join(", ", Columns.Select(c => c.Name))}.",
            Table);

    /// <summary>True when these columns, in any order, are exactly the primary key, a unique key or a valid non-partial unique index.</summary>
    public bool HasUniqueKeyOn(IReadOnlyCollection<string> columns)
    {
        bool Same(IReadOnlyList<string> key) =>
            key.Count == columns.Count && key.All(k => columns.Contains(k, StringComparer.OrdinalIgnoreCase));
        return (PrimaryKey is { } pk && Same(pk.Columns))
            || UniqueKeys.Any(k => Same(k.Columns))
            || Indexes.Any(i => i.IsUnique && i.IsValid && !i.IsPartial && Same(i.Columns));
    }

    /// <summary>The table's name as given to ToString of its <see cref="TableRef"/>.</summary>
    public override string ToString() => Table.ToString();
}

/// <summary>The user tables of one database, read in one pass over the catalog.</summary>
public sealed class DatabaseSchema
{
    internal DatabaseSchema(DatabaseProvider provider, IReadOnlyList<TableSchema> tables, IReadOnlyList<string> searchPath)
    {
        Provider = provider;
        Tables = tables;
        SearchPath = searchPath;
    }

    /// <summary>The engine the schema was read from.</summary>
    public DatabaseProvider Provider { get; }

    /// <summary>Tables ordered by schema and name.</summary>
    public IReadOnlyList<TableSchema> Tables { get; }

    /// <summary>Schemas an unqualified name is looked up in, in order (PostgreSQL: current_schemas(false); SQLite: main).</summary>
    public IReadOnlyList<string> SearchPath { get; }

    /// <summary>The table, or null when it is not a user table of this database.</summary>
    public TableSchema? Find(TableRef table) =>
        Tables.FirstOrDefault(t => t.Table == table) ?? Names.FindLoosely(Tables, table);

    /// <summary>
    /// Resolves a name as a person types it: <c>t</c>, <c>schema.t</c> or <c>"Odd Name"</c>. An unqualified
    /// name is looked up along the search path, as the server does; PostgreSQL folds an unquoted name that
    /// matches nothing to lower case; SQLite ignores the case of ASCII letters only.
    /// </summary>
    /// <exception cref="DbOpsException"><see cref="ErrorIds.TableNotFound"/> when nothing matches.</exception>
    public TableSchema Resolve(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new DbOpsException(ErrorIds.TableNotFound, ErrorKind.InvalidArgument, "A table name is empty.", name);
        }
        foreach (var candidate in Names.Readings(name.Trim()))
        {
            if (Lookup(candidate.Schema, candidate.Name) is { } found)
            {
                return found;
            }
        }
        throw new DbOpsException(ErrorIds.TableNotFound, ErrorKind.NotFound, $"Table '{name}' was not found.{Names.NotFoundHint(this, name)}", name);
    }

    /// <summary>Foreign keys of any table that reference <paramref name="parent"/> (inbound).</summary>
    public IEnumerable<ForeignKeyInfo> ForeignKeysReferencing(TableRef parent) =>
        Tables.SelectMany(t => t.ForeignKeys).Where(fk => fk.ReferencedTable == parent);

    /// <summary>The engine's rules for the names people type.</summary>
    private ITableNameRules Names => DatabaseEngines.For(Provider).Inspection.TableNames;

    private TableSchema? Lookup(string? schema, string name)
    {
        foreach (var s in schema is null ? SearchPath : [schema])
        {
            if (Names.Lookup(Tables, s, name) is { } match)
            {
                return match;
            }
        }
        return null;
    }
}
