namespace DbOps.Core.Errors;

/// <summary>Stable error ids. Renaming one breaks scripts that catch it: add, never rename.</summary>
public static class ErrorIds
{
    /// <summary>A connection string or URI could not be parsed.</summary>
    public const string InvalidConnectionString = nameof(InvalidConnectionString);
    /// <summary>The server could not be reached, or did not answer within the timeout.</summary>
    public const string ConnectionFailed = nameof(ConnectionFailed);
    /// <summary>The session ended under an operation: a server restart or shutdown, a terminated backend, a broken socket.</summary>
    public const string ConnectionLost = nameof(ConnectionLost);
    /// <summary>The server refused the user name or password.</summary>
    public const string AuthenticationFailed = nameof(AuthenticationFailed);
    /// <summary>The SQLite file or PostgreSQL database does not exist.</summary>
    public const string DatabaseNotFound = nameof(DatabaseNotFound);
    /// <summary>The file exists but is not a SQLite database.</summary>
    public const string NotADatabase = nameof(NotADatabase);
    /// <summary>A WAL-mode SQLite database cannot be read: its -wal and -shm files are missing and its folder cannot be written.</summary>
    public const string WalDatabaseNotReadable = nameof(WalDatabaseNotReadable);
    /// <summary>A file given as input does not exist.</summary>
    public const string FileNotFound = nameof(FileNotFound);
    /// <summary>A required external tool (pg_dump, pg_restore) was not found.</summary>
    public const string ToolNotFound = nameof(ToolNotFound);
    /// <summary>The external tool found is older than the server it must work with.</summary>
    public const string ToolVersionTooOld = nameof(ToolVersionTooOld);
    /// <summary>An external tool ran and reported a failure.</summary>
    public const string ToolFailed = nameof(ToolFailed);
    /// <summary>The destination folder cannot be created or written to.</summary>
    public const string DestinationNotWritable = nameof(DestinationNotWritable);
    /// <summary>The destination ran out of space while writing.</summary>
    public const string InsufficientDiskSpace = nameof(InsufficientDiskSpace);
    /// <summary>A backup name is not a plain file name (it has a folder part, or is empty).</summary>
    public const string InvalidBackupName = nameof(InvalidBackupName);
    /// <summary>An artifact of that name already exists.</summary>
    public const string DestinationExists = nameof(DestinationExists);
    /// <summary>The backup could not be created.</summary>
    public const string BackupFailed = nameof(BackupFailed);
    /// <summary>The backup file is damaged, truncated, or differs from its manifest.</summary>
    public const string BackupCorrupt = nameof(BackupCorrupt);
    /// <summary>The backup is intact but restoring it did not give the recorded row counts.</summary>
    public const string BackupVerificationFailed = nameof(BackupVerificationFailed);
    /// <summary>A backup manifest is missing or unreadable.</summary>
    public const string ManifestInvalid = nameof(ManifestInvalid);
    /// <summary>The backup was made from another kind of database than the restore target.</summary>
    public const string ProviderMismatch = nameof(ProviderMismatch);
    /// <summary>The restore target already holds tables and -Force was not given.</summary>
    public const string TargetNotEmpty = nameof(TargetNotEmpty);
    /// <summary>The restore completed but a table's row count differs from the manifest.</summary>
    public const string RestoreCountMismatch = nameof(RestoreCountMismatch);
    /// <summary>The restore did not complete.</summary>
    public const string RestoreFailed = nameof(RestoreFailed);
    /// <summary>The user lacks a privilege the operation needs (e.g. CREATEDB for verification).</summary>
    public const string InsufficientPrivilege = nameof(InsufficientPrivilege);
    /// <summary>The operation was stopped by the user.</summary>
    public const string OperationCanceled = nameof(OperationCanceled);
    /// <summary>A named table does not exist (or is not a user table).</summary>
    public const string TableNotFound = nameof(TableNotFound);
    /// <summary>A named column does not exist in its table.</summary>
    public const string ColumnNotFound = nameof(ColumnNotFound);
    /// <summary>A relationship given by the caller is malformed (e.g. table.column = parent.column).</summary>
    public const string InvalidRelationship = nameof(InvalidRelationship);
    /// <summary>A specification (constraint, required column, unique key) is malformed or incomplete.</summary>
    public const string InvalidSpecification = nameof(InvalidSpecification);
    /// <summary>The operations journal cannot be read or written.</summary>
    public const string JournalUnavailable = nameof(JournalUnavailable);
    /// <summary>A saved snapshot file is not a readable DbOps snapshot.</summary>
    public const string SnapshotInvalid = nameof(SnapshotInvalid);
    /// <summary>A comparison of snapshots found data loss.</summary>
    public const string DataLossDetected = nameof(DataLossDetected);
    /// <summary>Export-DatabaseDocumentation -Name is not a plain file name (it has a folder part, or is empty).</summary>
    public const string InvalidDocumentationName = nameof(InvalidDocumentationName);
    /// <summary>One integrity check could not run (a lock wait, a server error); the other checks went on.</summary>
    public const string IntegrityCheckFailed = nameof(IntegrityCheckFailed);
    /// <summary>Integrity checks found problems at or above the severity given with -FailOn.</summary>
    public const string IntegrityProblemsFound = nameof(IntegrityProblemsFound);
    /// <summary>Rows violate the constraint to be added; nothing was changed.</summary>
    public const string ConstraintViolations = nameof(ConstraintViolations);
    /// <summary>The constraint name is already used on the table (or by an index in its schema) for a different definition.</summary>
    public const string ConstraintNameTaken = nameof(ConstraintNameTaken);
    /// <summary>The referenced table has no primary key or unique constraint on exactly the referenced columns.</summary>
    public const string ReferencedKeyMissing = nameof(ReferencedKeyMissing);
    /// <summary>The server's parser rejected a CHECK expression, or it cannot be placed in a statement as it is.</summary>
    public const string InvalidConstraintExpression = nameof(InvalidConstraintExpression);
    /// <summary>A lock needed for the change was not granted within -LockTimeout, even after the retries.</summary>
    public const string LockTimeout = nameof(LockTimeout);
    /// <summary>Adding the constraint failed; what was done was undone (the message says if anything is left).</summary>
    public const string ConstraintFailed = nameof(ConstraintFailed);
    // Issue 7: query measurement and index advice.
    /// <summary>The query text is empty, holds more than one statement, or cannot be measured.</summary>
    public const string InvalidQuery = nameof(InvalidQuery);
    /// <summary>The measured query failed on the server.</summary>
    public const string QueryFailed = nameof(QueryFailed);
    /// <summary>A query measured as read-only tried to write; measure it with -AllowWrite.</summary>
    public const string QueryWouldWrite = nameof(QueryWouldWrite);
    /// <summary>The query has $1-style placeholders but no -Parameters were given.</summary>
    public const string QueryNeedsParameters = nameof(QueryNeedsParameters);
    /// <summary>pg_stat_statements is not installed in the database or not loaded by the server.</summary>
    public const string StatStatementsUnavailable = nameof(StatStatementsUnavailable);
    /// <summary>The cmdlet does not apply to this kind of database (e.g. Get-SlowQuery on SQLite).</summary>
    public const string ProviderNotSupported = nameof(ProviderNotSupported);
    /// <summary>The named index does not exist.</summary>
    public const string IndexNotFound = nameof(IndexNotFound);
    /// <summary>The index backs a primary key, unique or exclusion constraint (or enforces uniqueness) and is never dropped.</summary>
    public const string IndexBacksConstraint = nameof(IndexBacksConstraint);
    /// <summary>The index was scanned since it was reported unused, or its statistics are too young to tell.</summary>
    public const string IndexInUse = nameof(IndexInUse);
    /// <summary>Building the index failed; its INVALID leftover was dropped.</summary>
    public const string IndexBuildFailed = nameof(IndexBuildFailed);
    /// <summary>The engine or the column type does not support the index kind asked for (method, INCLUDE, a B-tree on jsonb).</summary>
    public const string IndexKindNotSupported = nameof(IndexKindNotSupported);
    /// <summary>An index expression or partial-index predicate is not one valid expression over the table.</summary>
    public const string InvalidIndexExpression = nameof(InvalidIndexExpression);
    /// <summary>A usage baseline belongs to another database (or cannot be read as one).</summary>
    public const string UsageBaselineMismatch = nameof(UsageBaselineMismatch);
    /// <summary>A usage baseline is older than a statistics reset or a server start: deltas from it would understate use.</summary>
    public const string UsageBaselineStale = nameof(UsageBaselineStale);
    /// <summary>An archive's files differ from its manifest, the manifest was edited, or the data is damaged or truncated.</summary>
    public const string ArchiveCorrupt = nameof(ArchiveCorrupt);
    /// <summary>The archive is intact but the table loaded from it does not give the recorded row count and checksum.</summary>
    public const string ArchiveVerificationFailed = nameof(ArchiveVerificationFailed);
    /// <summary>The table could not be archived.</summary>
    public const string ArchiveFailed = nameof(ArchiveFailed);
    /// <summary>The table could not be loaded from its archive.</summary>
    public const string ImportFailed = nameof(ImportFailed);
    /// <summary>The table holds rows and no archive was given: only an empty table may be dropped without one.</summary>
    public const string ArchiveRequired = nameof(ArchiveRequired);
    /// <summary>The live table no longer matches its archive (row count or content checksum differ): it changed after archiving.</summary>
    public const string ArchiveStale = nameof(ArchiveStale);
    /// <summary>The archive belongs to another table, database or engine, or its columns differ from the live table's.</summary>
    public const string ArchiveMismatch = nameof(ArchiveMismatch);
    /// <summary>Other objects (foreign keys, views, triggers, functions, policies) depend on the table; nothing was dropped.</summary>
    public const string DependentObjectsExist = nameof(DependentObjectsExist);
    /// <summary>The server refused the DROP for another reason; it was rolled back and the table is untouched.</summary>
    public const string RemovalFailed = nameof(RemovalFailed);
    /// <summary>A backup needs an extension that cannot be created where it is restored for verification; the file is intact.</summary>
    public const string ExtensionUnavailable = nameof(ExtensionUnavailable);

    // Issue 16: Compare-TableData, Copy-TableData
    /// <summary>The key of a move is not unique on one side; the message shows sample duplicate keys.</summary>
    public const string MoveKeyNotUnique = nameof(MoveKeyNotUnique);
    /// <summary>A key column of a move holds NULL on one side, so its rows cannot be matched.</summary>
    public const string MoveKeyNull = nameof(MoveKeyNull);
    /// <summary>Two values (or keys) the map pairs have types the database cannot compare.</summary>
    public const string MoveTypesIncomparable = nameof(MoveTypesIncomparable);
    /// <summary>A query, -Where or expression of a map is not one read-only SQL expression or SELECT, or the server cannot read it.</summary>
    public const string MoveExpressionInvalid = nameof(MoveExpressionInvalid);
    /// <summary>The source and the target of a move are the same table.</summary>
    public const string MoveSameTable = nameof(MoveSameTable);
    /// <summary>The map leaves a NOT NULL target column without a default unfilled.</summary>
    public const string MoveTargetColumnUnfilled = nameof(MoveTargetColumnUnfilled);
    /// <summary>Copy-TableData -OnConflict Fail met target rows whose values differ; that batch was rolled back.</summary>
    public const string MoveConflict = nameof(MoveConflict);
    /// <summary>A copy batch failed (a lock not granted, a constraint refused); batches before it are committed and a rerun resumes.</summary>
    public const string MoveFailed = nameof(MoveFailed);
    /// <summary>Copy-TableData -OnConflict Update: another run is copying into the same target (it holds the run lock); nothing was written.</summary>
    public const string CopyRunning = nameof(CopyRunning);


    // Issue 17: Find-DeprecatedColumn, Rename-Table, dependents
    /// <summary>Rename-Table: the new name is already taken in the table's schema (by a table, view, index, sequence or type); nothing was renamed.</summary>
    public const string TableNameTaken = nameof(TableNameTaken);
    /// <summary>Rename-Table: the server refused the rename for another reason; it was rolled back and the table keeps its name.</summary>
    public const string RenameFailed = nameof(RenameFailed);


    // Issue 17: Remove-DeprecatedColumn, column archives
    /// <summary>The column is (part of) the key that addresses rows in a column archive; it cannot be archived or dropped that way.</summary>
    public const string ColumnIsKey = nameof(ColumnIsKey);
    /// <summary>The table has no primary key or unique NOT NULL key, so a column archive could not put values back by row.</summary>
    public const string NoUsableKey = nameof(NoUsableKey);
    /// <summary>Import-TableArchive: the archived column already exists in the live table; nothing was changed.</summary>
    public const string ColumnExists = nameof(ColumnExists);
    /// <summary>
    /// SQLite: the table could not be rebuilt without the column (not an ordinary table, or the rebuild's name is taken), or the
    /// rebuilt table did not verify (foreign_key_check, or the other columns' rows or checksum) and was rolled back; nothing was changed.
    /// </summary>
    public const string ColumnRebuildFailed = nameof(ColumnRebuildFailed);


    // Issue 18: Remove-TableRow, Update-TableRow, row archives
    /// <summary>A row condition (-Where, -Set expression, key value) is not one read-only expression, or names no column of the table.</summary>
    public const string RowConditionInvalid = nameof(RowConditionInvalid);
    /// <summary>Rows can be fixed (and put back) only in a table with a primary key.</summary>
    public const string RowKeyRequired = nameof(RowKeyRequired);
    /// <summary>A PostgreSQL table with inheritance children: a fix through it changes their rows, and an undo would put them in it.</summary>
    public const string RowTableInherited = nameof(RowTableInherited);
    /// <summary>Rows of other tables reference the rows a fix would delete or re-key; nothing was written.</summary>
    public const string RowsReferenced = nameof(RowsReferenced);
    /// <summary>The fix changed another number of rows than it archived; it was rolled back.</summary>
    public const string RowCountMismatch = nameof(RowCountMismatch);
    /// <summary>The rows an undo would put back changed after the fix; nothing was written.</summary>
    public const string RowsChangedSinceFix = nameof(RowsChangedSinceFix);
    /// <summary>The server refused a row fix or its undo (a constraint, a lost session); it was rolled back, or its COMMIT's outcome is unknown.</summary>
    public const string RowFixFailed = nameof(RowFixFailed);


    // Issue 18: Restore-Database -Create, Remove-Database
    /// <summary>Restore-Database -Create was pointed at a database that already exists; nothing was touched.</summary>
    public const string DatabaseExists = nameof(DatabaseExists);
    /// <summary>Remove-Database found no mark saying DbOps created the database, and -Force was not given; nothing was dropped.</summary>
    public const string DatabaseNotCreatedByDbOps = nameof(DatabaseNotCreatedByDbOps);
    /// <summary>Other sessions are connected to the database to remove, and -EndSessions was not given; nothing was dropped.</summary>
    public const string DatabaseHasSessions = nameof(DatabaseHasSessions);
    /// <summary>Remove-Database was asked to remove the very database its -Database connection names.</summary>
    public const string CannotRemoveConnectedDatabase = nameof(CannotRemoveConnectedDatabase);


    // Issue 19: journal, Get-MaintenanceLog, Export-MaintenanceReport
    /// <summary>-After is later than -Before: the time window holds nothing.</summary>
    public const string InvalidTimeWindow = nameof(InvalidTimeWindow);


    // Issue 19: backup copies and retention
    /// <summary>A copy of a backup could not be written, or read back differently from its manifest; nothing was kept there.</summary>
    public const string BackupCopyFailed = nameof(BackupCopyFailed);
    /// <summary>Remove-Backup was given no rule: name -Keep, -OlderThan or both.</summary>
    public const string RetentionRuleRequired = nameof(RetentionRuleRequired);
    /// <summary>A backup could not be deleted; it was left whole, with its manifest.</summary>
    public const string BackupDeleteFailed = nameof(BackupDeleteFailed);


    // Issue 22: fleets and parallel work
    /// <summary>A parameter that names one file (-Name, -Path) was given with several databases.</summary>
    public const string ParameterNeedsOneDatabase = nameof(ParameterNeedsOneDatabase);
    /// <summary>Another Export-TableArchive -Parallel of the same table into the same folder is running; nothing was written.</summary>
    public const string ArchiveExportRunning = nameof(ArchiveExportRunning);

}
