# Constraints the goals tracker should have had from the start. Add-SafeConstraint takes each entry from the
# pipeline; a run adds those whose data is clean, reports the others as Blocked (with sample keys) and skips
# those already present, so the same plan can run every night until all are in.
@{
    Constraints = @(
        @{ Table = 'goals'; Check = 'deadline >= created_at'; Name = 'goals_deadline_after_start' }
        @{ Table = 'goals'; NotNull = 'root_id' }
        @{ Table = 'activity_groups'; Unique = 'root_id', 'name' }
        @{ Table = 'sessions'; ForeignKey = 'goal_id'; References = 'goals(id)' }
    )
}
