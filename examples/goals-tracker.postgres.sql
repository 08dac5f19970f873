-- The goals tracker of goals-tracker.sql for PostgreSQL: the same tables, rows and ids, and the same defects,
-- so a check finds the same counts and sample keys on both engines.
--   * sessions.goal_id refers to goals.id but no foreign key was ever declared (inferred relationship),
--     and 11 sessions point at goals that were deleted (orphans); sessions.goal_id has no index.
--   * activity_instances.session_id has a foreign key added NOT VALID after an import, so 25 rows break it.
--   * goals.root_id is required by the application but 7 rows hold NULL; 5 goals end before they start.
--   * activity_groups has 4 duplicate (root_id, name) pairs.
--   * legacy_imports is a table nobody has read since 2021; tmp_migration_2019 is empty.
CREATE TABLE goals (
    id          integer PRIMARY KEY,
    root_id     integer,
    parent_id   integer,
    title       text NOT NULL,
    status      text NOT NULL DEFAULT 'active',
    created_at  date NOT NULL,
    deadline    date
);

CREATE TABLE sessions (
    id          integer PRIMARY KEY,
    goal_id     integer,
    started_at  timestamp NOT NULL,
    ended_at    timestamp,
    notes       text
);

CREATE TABLE activity_groups (
    id       integer PRIMARY KEY,
    root_id  integer NOT NULL,
    name     text NOT NULL
);

CREATE TABLE activity_instances (
    id            integer PRIMARY KEY,
    session_id    integer NOT NULL,
    group_id      integer REFERENCES activity_groups(id),
    kind          text NOT NULL,
    duration_min  integer
);
CREATE INDEX ix_activity_instances_session ON activity_instances(session_id);

CREATE TABLE legacy_imports (
    id           integer PRIMARY KEY,
    source       text,
    payload      text,
    imported_at  timestamp
);

CREATE TABLE tmp_migration_2019 (id integer PRIMARY KEY, note text);

-- 200 goals: every tenth is a root; the others hang under the root before them.
INSERT INTO goals (id, root_id, parent_id, title, status, created_at, deadline)
SELECT i,
       ((i - 1) / 10) * 10 + 1,
       CASE WHEN i % 10 = 1 THEN NULL ELSE i - 1 END,
       'Goal ' || i || ': ' || CASE i % 5 WHEN 0 THEN 'run a marathon' WHEN 1 THEN 'learn Spanish'
                                        WHEN 2 THEN 'ship the app' WHEN 3 THEN 'read 20 books' ELSE 'save for a house' END,
       CASE WHEN i % 7 = 0 THEN 'done' WHEN i % 11 = 0 THEN 'dropped' ELSE 'active' END,
       date '2023-01-01' + i * 3,
       date '2023-01-01' + i * 3 + 90
FROM generate_series(1, 200) AS n(i);
UPDATE goals SET root_id = NULL WHERE id IN (13, 27, 58, 99, 120, 151, 177);
UPDATE goals SET deadline = created_at - 10 WHERE id IN (5, 44, 87, 132, 190);

-- 2,000 sessions spread over the goals; 11 point at goals that no longer exist.
INSERT INTO sessions (id, goal_id, started_at, ended_at, notes)
SELECT i,
       (i * 7919) % 200 + 1,
       timestamp '2023-02-01 07:00' + make_interval(hours => i * 9),
       CASE WHEN i % 50 = 0 THEN NULL ELSE timestamp '2023-02-01 07:00' + make_interval(hours => i * 9, mins => 20 + i % 70) END,
       CASE WHEN i % 4 = 0 THEN 'felt good' WHEN i % 9 = 0 THEN 'short on time' ELSE NULL END
FROM generate_series(1, 2000) AS n(i);
UPDATE sessions SET goal_id = 1000 + id WHERE id % 167 = 0;

INSERT INTO activity_groups (id, root_id, name)
SELECT i, ((i - 1) % 20) * 10 + 1,
       CASE i % 4 WHEN 0 THEN 'Practice' WHEN 1 THEN 'Study' WHEN 2 THEN 'Review' ELSE 'Planning' END || ' ' || ((i - 1) / 20 + 1)
FROM generate_series(1, 40) AS n(i);
INSERT INTO activity_groups (id, root_id, name) VALUES (41, 1, 'Study 1'), (42, 11, 'Review 1'), (43, 21, 'Planning 1'), (44, 31, 'Practice 1');

-- 6,000 activity instances; 25 belong to sessions that were never imported.
INSERT INTO activity_instances (id, session_id, group_id, kind, duration_min)
SELECT i, (i * 31) % 2000 + 1, (i * 13) % 44 + 1,
       CASE i % 3 WHEN 0 THEN 'focus' WHEN 1 THEN 'drill' ELSE 'notes' END,
       CASE WHEN i % 97 = 0 THEN NULL ELSE 5 + (i * 17) % 55 END
FROM generate_series(1, 6000) AS n(i);
UPDATE activity_instances SET session_id = 5000 + id WHERE id % 240 = 0;
-- Declared after the import, NOT VALID, so the broken rows stay: the state a hurried migration leaves.
ALTER TABLE activity_instances ADD CONSTRAINT activity_instances_session_id_fkey
    FOREIGN KEY (session_id) REFERENCES sessions(id) NOT VALID;

INSERT INTO legacy_imports (id, source, payload, imported_at)
SELECT i, CASE i % 2 WHEN 0 THEN 'habitica' ELSE 'csv' END,
       '{"task":"imported task ' || i || '","points":' || (i % 13) || '}',
       timestamp '2021-03-01' + make_interval(mins => i)
FROM generate_series(1, 350) AS n(i);

ANALYZE;
