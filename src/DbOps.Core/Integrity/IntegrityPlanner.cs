using DbOps.Core.Engines;
using DbOps.Core.Errors;
using DbOps.Core.Schema;
using DbOps.Core.Sql;

namespace DbOps.Core.Integrity;

/// <summary>
/// Turns a request and the schema into the list of probes to run. Every caller's spec is resolved against the
/// schema here, before anything runs, so a typo stops the run with a clear error instead of half a report.
/// </summary>
internal static class IntegrityPlanner
{
    /// <param name="request">What to check.</param>
    /// <param name="schema">The catalog.</param>
    /// <param name="sql">The engine's SQL.</param>
    /// <param name="storage">The engine's storage checks.</param>
    /// <param name="missing">Receives the -Table names that match no table: an error each, while the other tables are checked.</param>
    public static IReadOnlyList<IntegrityProbe> Plan(
        IntegrityRequest request, DatabaseSchema schema, IntegritySql sql, IStorageChecks storage, List<MissingTable> missing)
    {
        // Validate every spec first (throws TableNotFound, ColumnNotFound, InvalidRelationship, InvalidSpecification).
        var specified = request.Relationships.Select(r => ParseRelationship(schema, r)).ToList();
        var required = request.RequiredColumns.SelectMany(spec => Columns(schema, spec, "-RequiredColumn").Columns
            .Select(c => (Table: schema.Resolve(spec.Table), Column: c))).ToList();
        var unique = request.UniqueKeys.Select(spec => Columns(schema, spec, "-UniqueKey")).ToList();
        var conditions = request.Conditions.Select(c => (Table: ResolveSpecTable(schema, c.Table), Expression: ValidExpression(c, schema))).ToList();
        var scope = request.Tables.Count == 0 ? schema.Tables : ResolveScope(schema, request.Tables, missing);
        var inScope = scope.Select(t => t.Table).ToHashSet();

        bool Runs(IntegrityCheck check, IntegrityLevel minimum) =>
            request.Checks is { } only ? only.Contains(check) : request.Level >= minimum;
        var deep = request.Level >= IntegrityLevel.Standard;

        var probes = new List<IntegrityProbe>();
        if (Runs(IntegrityCheck.OrphanedRows, IntegrityLevel.Quick))
        {
            var seen = specified.Select(Signature).ToHashSet();
            foreach (var relationship in specified)
            {
                probes.Add(OrphanProbe.Create(sql, schema.Find(relationship.Child)!, relationship));
            }
            var declared = RelationshipInference.Declared(schema).Where(r => inScope.Contains(r.Child) && (deep || !Trusted(schema, r)));
            var inferred = deep ? RelationshipInference.Infer(schema).Where(r => inScope.Contains(r.Child)) : [];
            foreach (var relationship in declared.Concat(inferred))
            {
                if (seen.Add(Signature(relationship)))
                {
                    probes.Add(OrphanProbe.Create(sql, schema.Find(relationship.Child)!, relationship));
                }
            }
        }
        if (Runs(IntegrityCheck.NullValues, IntegrityLevel.Quick))
        {
            probes.AddRange(required.Distinct().Select(r => NullValueProbe.Create(sql, r.Table, r.Column)));
        }
        if (Runs(IntegrityCheck.DuplicateKeys, IntegrityLevel.Quick))
        {
            probes.AddRange(unique.Select(u => DuplicateKeyProbe.Create(sql, u.Table, u.Columns)));
        }
        if (Runs(IntegrityCheck.CheckViolation, IntegrityLevel.Quick))
        {
            var notValid = scope.Union(conditions.Select(c => c.Table))
                .SelectMany(t => t.Checks.Where(c => !c.IsValidated).Select(c => (Table: t, Check: c))).ToList();
            // A condition that restates a NOT VALID constraint is checked once, under the constraint's name.
            probes.AddRange(conditions
                .Where(c => !notValid.Any(n => n.Table == c.Table && Normalize(n.Check.Expression) == Normalize(c.Expression)))
                .Select(c => CheckViolationProbe.Create(sql, c.Table, c.Expression, null)));
            probes.AddRange(notValid.Where(n => scope.Contains(n.Table) || conditions.Any(c => c.Table == n.Table && Normalize(n.Check.Expression) == Normalize(c.Expression)))
                .Select(n => CheckViolationProbe.Create(sql, n.Table, n.Check.Expression, n.Check.Name)));
        }
        if (Runs(IntegrityCheck.NotNullCandidate, IntegrityLevel.Full))
        {
            var requiredSet = required.Select(r => (r.Table.Table, r.Column)).ToHashSet();
            foreach (var table in scope)
            {
                var key = table.PrimaryKey?.Columns ?? [];
                var nullable = table.Columns
                    .Where(c => c.IsNullable && !c.IsGenerated && !key.Contains(c.Name) && !requiredSet.Contains((table.Table, c.Name)))
                    .Select(c => c.Name).ToList();
                if (nullable.Count > 0)
                {
                    probes.Add(NotNullCandidateProbe.Create(sql, table, nullable));
                }
            }
        }
        if (Runs(IntegrityCheck.StorageIntegrity, IntegrityLevel.Quick))
        {
            probes.AddRange(storage.Plan(request.Level, scope, wholeDatabase: request.Tables.Count == 0));
        }
        return probes;
    }

    /// <summary>
    /// PostgreSQL enforces a validated foreign key whose triggers are enabled; Quick skips those. It can still be
    /// broken (triggers disabled during a load and enabled again), which is why Standard checks every one. SQLite's
    /// foreign keys are never validated, so none is trusted.
    /// </summary>
    private static bool Trusted(DatabaseSchema schema, Relationship relationship) =>
        schema.Find(relationship.Child)?.ForeignKeys.FirstOrDefault(f => f.Name == relationship.ConstraintName) is { IsValidated: true, IsEnforced: true };

    private static List<TableSchema> ResolveScope(DatabaseSchema schema, IReadOnlyList<string> names, List<MissingTable> missing)
    {
        var tables = new List<TableSchema>();
        foreach (var name in names)
        {
            try
            {
                tables.Add(schema.Resolve(name));
            }
            catch (DbOpsException e) when (e.ErrorId == ErrorIds.TableNotFound)
            {
                missing.Add(new MissingTable(name, e.Message));
            }
        }
        return tables.Distinct().ToList();
    }

    private static string Normalize(string expression) =>
        string.Concat(expression.Where(c => !char.IsWhiteSpace(c) && c is not '(' and not ')')).ToLowerInvariant();

    private static string Signature(Relationship r) =>
        $"{r.Child}|{string.Join(",", r.ChildColumns).ToLowerInvariant()}|{r.Parent}|{string.Join(",", r.ParentColumns).ToLowerInvariant()}";

    private static Relationship ParseRelationship(DatabaseSchema schema, RelationshipSpec spec)
    {
        if (string.IsNullOrWhiteSpace(spec.Child) || string.IsNullOrWhiteSpace(spec.Parent))
        {
            throw new DbOpsException(ErrorIds.InvalidRelationship, ErrorKind.InvalidArgument,
                $"A -Relationship entry is incomplete ('{spec.Child}' = '{spec.Parent}'); write @{{ 'child.column' = 'parent.column' }}.");
        }
        return RelationshipInference.ParseSpecified(schema, spec.Child, spec.Parent);
    }

    private static TableSchema ResolveSpecTable(DatabaseSchema schema, string table) =>
        string.IsNullOrWhiteSpace(table)
            ? throw Invalid("A specification names no table.")
            : schema.Resolve(table);

    private static (TableSchema Table, IReadOnlyList<string> Columns) Columns(DatabaseSchema schema, ColumnSpec spec, string parameter)
    {
        var table = ResolveSpecTable(schema, spec.Table);
        var columns = spec.Columns.SelectMany(c => (c ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        if (columns.Count == 0)
        {
            throw Invalid($"{parameter} for table {table} names no column; write @{{ {table.Table.Name} = 'column' }}.");
        }
        return (table, columns.Select(c => table.GetColumn(c.Trim('"')).Name).Distinct().ToList());
    }

    /// <summary>
    /// A condition is one boolean expression spliced into a WHERE clause (like a CHECK constraint's text), held to the
    /// same rule as CHECK expressions and index predicates (<see cref="SqlExpression"/>).
    /// </summary>
    private static string ValidExpression(ConditionSpec condition, DatabaseSchema schema)
    {
        var expression = condition.Expression?.Trim() ?? "";
        if (SqlExpression.Problem(expression, DatabaseEngines.For(schema.Provider)) is { } problem)
        {
            throw Invalid($"The condition for {condition.Table} cannot be used: {problem}. Give one boolean SQL expression, e.g. 'deadline >= created_at'; got '{condition.Expression}'.");
        }
        return expression;
    }

    private static DbOpsException Invalid(string message) => new(ErrorIds.InvalidSpecification, ErrorKind.InvalidArgument, message);
}
