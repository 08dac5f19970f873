-- A goals / sessions / activities tracker, as a small team would have built it over a few years.
-- It is deliberately messy, like the databases DbOps is for: the later cmdlets find these problems.
--   * sessions.goal_id refers to goals.id but no foreign key was ever declared (inferred relationship),
--     and 11 sessions point at goals that were deleted (orphans); sessions.goal_id has no index.
--   * activity_instances.session_id has a declared foreign key, but foreign_keys was off during an
--     import, so 25 rows break it.
--   * goals.root_id is required by the application but 7 rows hold NULL; 5 goals end before they start.
--   * activity_groups has 4 duplicate (root_id, name) pairs.
--   * legacy_imports is a table nobody has read since 2021; tmp_migration_2019 is empty.
PRAGMA foreign_keys = OFF;

CREATE TABLE goals (
    id          INTEGER PRIMARY KEY,
    root_id     INTEGER,
    parent_id   INTEGER,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  TEXT NOT NULL,
    deadline    TEXT
);

CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    goal_id     INTEGER,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    notes       TEXT
);

CREATE TABLE activity_groups (
    id       INTEGER PRIMARY KEY,
    root_id  INTEGER NOT NULL,
    name     TEXT NOT NULL
);

CREATE TABLE activity_instances (
    id            INTEGER PRIMARY KEY,
    session_id    INTEGER NOT NULL REFERENCES sessions(id),
    group_id      INTEGER REFERENCES activity_groups(id),
    kind          TEXT NOT NULL,
    duration_min  INTEGER
);
CREATE INDEX ix_activity_instances_session ON activity_instances(session_id);

CREATE TABLE legacy_imports (
    id           INTEGER PRIMARY KEY,
    source       TEXT,
    payload      TEXT,
    imported_at  TEXT
);

CREATE TABLE tmp_migration_2019 (id INTEGER PRIMARY KEY, note TEXT);

-- 200 goals: every tenth is a root; the others hang under the root before them.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO goals (id, root_id, parent_id, title, status, created_at, deadline)
SELECT i,
       ((i - 1) / 10) * 10 + 1,
       CASE WHEN i % 10 = 1 THEN NULL ELSE i - 1 END,
       'Goal ' || i || ': ' || CASE i % 5 WHEN 0 THEN 'run a marathon' WHEN 1 THEN 'learn Spanish'
                                        WHEN 2 THEN 'ship the app' WHEN 3 THEN 'read 20 books' ELSE 'save for a house' END,
       CASE WHEN i % 7 = 0 THEN 'done' WHEN i % 11 = 0 THEN 'dropped' ELSE 'active' END,
       date('2023-01-01', '+' || (i * 3) || ' days'),
       date('2023-01-01', '+' || (i * 3 + 90) || ' days')
FROM n;
UPDATE goals SET root_id = NULL WHERE id IN (13, 27, 58, 99, 120, 151, 177);
UPDATE goals SET deadline = date(created_at, '-10 days') WHERE id IN (5, 44, 87, 132, 190);

-- 2,000 sessions spread over the goals; 11 point at goals that no longer exist.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO sessions (id, goal_id, started_at, ended_at, notes)
SELECT i,
       (i * 7919) % 200 + 1,
       datetime('2023-02-01 07:00', '+' || (i * 9) || ' hours'),
       CASE WHEN i % 50 = 0 THEN NULL ELSE datetime('2023-02-01 07:00', '+' || (i * 9) || ' hours', '+' || (20 + i % 70) || ' minutes') END,
       CASE WHEN i % 4 = 0 THEN 'felt good' WHEN i % 9 = 0 THEN 'short on time' ELSE NULL END
FROM n;
UPDATE sessions SET goal_id = 1000 + id WHERE id % 167 = 0;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
INSERT INTO activity_groups (id, root_id, name)
SELECT i, ((i - 1) % 20) * 10 + 1,
       CASE i % 4 WHEN 0 THEN 'Practice' WHEN 1 THEN 'Study' WHEN 2 THEN 'Review' ELSE 'Planning' END || ' ' || ((i - 1) / 20 + 1)
FROM n;
INSERT INTO activity_groups (id, root_id, name) VALUES (41, 1, 'Study 1'), (42, 11, 'Review 1'), (43, 21, 'Planning 1'), (44, 31, 'Practice 1');

-- 6,000 activity instances; 25 belong to sessions that were never imported.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
INSERT INTO activity_instances (id, session_id, group_id, kind, duration_min)
SELECT i, (i * 31) % 2000 + 1, (i * 13) % 44 + 1,
       CASE i % 3 WHEN 0 THEN 'focus' WHEN 1 THEN 'drill' ELSE 'notes' END,
       CASE WHEN i % 97 = 0 THEN NULL ELSE 5 + (i * 17) % 55 END
FROM n;
UPDATE activity_instances SET session_id = 5000 + id WHERE id % 240 = 0;

WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 350)
INSERT INTO legacy_imports (id, source, payload, imported_at)
SELECT i, CASE i % 2 WHEN 0 THEN 'habitica' ELSE 'csv' END,
       '{"task":"imported task ' || i || '","points":' || (i % 13) || '}',
       datetime('2021-03-01', '+' || i || ' minutes')
FROM n;
