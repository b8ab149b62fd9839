-- The partitioned layout's own checks (test/suites/82_partitioned.sh): the
-- store was created with eventstore.partition_size = 7.
\set VERBOSITY sqlstate
SET search_path = eventstore, public;
-- 05_layout.sql's invariant: every stream with events has a stream_starts
-- row at or below its lowest position (0 rows break it).
\set starts_broken 'SELECT count(*) AS streams_without_start FROM (SELECT stream, min(position) AS lowest FROM eventstore.events GROUP BY stream) e LEFT JOIN eventstore.stream_starts s USING (stream) WHERE s.position IS NULL OR s.position > e.lowest'
SELECT relkind FROM pg_class WHERE oid = 'eventstore.events'::regclass;
SELECT partition_size FROM eventstore.partitioning;

-- One stream across several partitions: versions dense, one winner.
SELECT version, position FROM es_append('acct-1', 'Opened', '{"n": 1}', 0);
SELECT count(*) FROM (SELECT es_append('acct-1', 'Deposited', jsonb_build_object('n', g), g)
                      FROM generate_series(1, 20) g) x;
SELECT count(*) AS events, min(version), max(version), count(DISTINCT version) AS distinct_versions
FROM es_load('acct-1', max_count => NULL);
SELECT count(DISTINCT tableoid) > 2 AS spans_partitions FROM eventstore.events WHERE stream = 'acct-1';
SELECT es_append('acct-1', 'Late', '{}', 5);               -- ES001: the stream is at 21
SELECT version FROM es_append('acct-1', 'Next', '{}', 21);
-- The stream's start is recorded once, by its first append; a new stream
-- in a store of several partitions starts at 1.
SELECT stream, position FROM eventstore.stream_starts ORDER BY stream;
SELECT version FROM es_append('late-1', 'Opened', '{}', 0);
SELECT position = (SELECT max(position) FROM eventstore.events) AS recorded_at_first
FROM eventstore.stream_starts WHERE stream = 'late-1';
:starts_broken;

-- Partitions were made as positions reached them, contiguous from 1.
SELECT count(*) >= 4 AS made,
       bool_and(pg_get_expr(c.relpartbound, c.oid) LIKE 'FOR VALUES FROM%') AS ranges
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'eventstore.events'::regclass;
SELECT NOT c.oid IN (SELECT objid FROM pg_depend WHERE deptype = 'e') AS not_a_member
FROM pg_class c WHERE c.relname = 'events_0000000000000000001';

-- Event ids: unique across partitions, retries idempotent.
SELECT version, replayed FROM es_append('acct-2', 'Opened', '{}', 0, NULL, '00000000-0000-4000-8000-000000000001');
SELECT count(*) FROM (SELECT es_append('filler-' || g, 'F', '{}') FROM generate_series(1, 10) g) x;
SELECT version, replayed FROM es_append('acct-2', 'Opened', '{}', 0, NULL, '00000000-0000-4000-8000-000000000001');
SELECT es_append('acct-3', 'Opened', '{}', 0, NULL, '00000000-0000-4000-8000-000000000001');   -- ES002
SELECT stream, version FROM es_load_event('00000000-0000-4000-8000-000000000001');
SELECT (SELECT count(*) FROM eventstore.events) = (SELECT count(*) FROM eventstore.event_ids) AS ids_match;
-- A multi-stream append records each new stream's first position.
SELECT stream, version FROM es_append('[{"stream": "multi-1", "events": [{"type": "A", "data": {}}, {"type": "B", "data": {}}]},
                                        {"stream": "filler-1", "events": [{"type": "C", "data": {}}]},
                                        {"stream": "multi-2", "events": [{"type": "A", "data": {}}]}]'::jsonb) ORDER BY 1, 2;
:starts_broken;

-- The feed reads across partitions in position order, without gaps here.
SELECT count(*) = max(position) - min(position) + 1 AS dense,
       bool_and(position > 0) AS ok
FROM es_load_feed(0, 10000);

-- Stored events stay immutable in every partition.
UPDATE eventstore.events_0000000000000000001 SET type = 'X';
DELETE FROM eventstore.events_0000000000000000001;
TRUNCATE eventstore.events_0000000000000000001;
DROP TABLE eventstore.events_0000000000000000001;
ALTER TABLE eventstore.events DETACH PARTITION eventstore.events_0000000000000000001;
-- ... and the tables that keep ids unique and tell which streams exist.
TRUNCATE eventstore.event_ids;
TRUNCATE eventstore.stream_starts;
ALTER TABLE eventstore.stream_starts DISABLE TRIGGER stream_starts_no_truncate;

-- A soft delete frees the stream's ids; a restore takes them back.
SELECT es_delete_stream('acct-2');
SELECT count(*) FROM eventstore.event_ids WHERE event_id = '00000000-0000-4000-8000-000000000001';
SELECT es_restore_stream('acct-2');
SELECT count(*) FROM eventstore.event_ids WHERE event_id = '00000000-0000-4000-8000-000000000001';
SELECT (SELECT count(*) FROM eventstore.events) = (SELECT count(*) FROM eventstore.event_ids) AS ids_match;
-- A soft-deleted stream of a converted store has no stream_starts row (the
-- conversion recorded the starts of stored events only): its restore
-- records one.
SELECT es_delete_stream('acct-2');
DELETE FROM eventstore.stream_starts WHERE stream = 'acct-2';
SELECT es_restore_stream('acct-2');
SELECT s.position = (SELECT min(position) FROM eventstore.events WHERE stream = 'acct-2') AS restored_start
FROM eventstore.stream_starts s WHERE s.stream = 'acct-2';
SELECT version FROM es_append('acct-2', 'AfterRestore', '{}', 1);
:starts_broken;

-- A bulk load makes its partitions first.
SELECT es_make_partitions(NULL);
SELECT es_make_partitions(0);
SELECT es_make_partitions(100, 200);   -- from_position above up_to_position
SELECT es_make_partitions(100, 0);
SELECT es_make_partitions(200) > 0 AS made_ahead;

-- Rows inserted by hand (a bulk load, as superuser) need their partitions
-- made first; they get their event_ids rows from the insert trigger.
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, created_at)
VALUES (1000000, 'loaded-1', 1, '00000000-0000-4000-8000-0000000000aa', 'L', 'loaded', now());
SELECT es_make_partitions(1000000, 999000) AS made;
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, created_at)
VALUES (1000000, 'loaded-1', 1, '00000000-0000-4000-8000-0000000000aa', 'L', 'loaded', now());
SELECT position FROM eventstore.event_ids WHERE event_id = '00000000-0000-4000-8000-0000000000aa';
SELECT position FROM eventstore.stream_starts WHERE stream = 'loaded-1';
SELECT version, position > 1000000 AS after_loaded FROM es_append('loaded-1', 'M', '{}', 1);
:starts_broken;

-- Archival: the four oldest partitions (positions 1 to 28) leave the store.
SELECT es_archive_events(NULL);
SELECT es_archive_events(29, 'partition test') AS archived;
SELECT table_name, from_position, to_position, events FROM eventstore.archives ORDER BY from_position;
SELECT es_archive_horizon();
SELECT count(*) FROM eventstore.events WHERE position < 29;
SELECT * FROM es_load_feed(0, 10);
SELECT min(position) FROM es_load_feed(es_archive_horizon() - 1, 10000);
-- acct-1 (versions 1 to 22 at positions 1 to 22) went whole: its
-- numbering continues, a stale expectation still conflicts.
SELECT count(*) FROM es_load('acct-1', max_count => NULL);
SELECT state, version, first_version, last_version FROM es_stream_info('acct-1');
SELECT version FROM es_append('acct-1', 'AfterArchive', '{}', 22);
SELECT es_append('acct-1', 'Stale', '{}', 0);
-- The archive is a table of its own, still immutable; its ids stay used.
SELECT count(*), min(position), max(position) FROM eventstore_archive.events_0000000000000000001;
UPDATE eventstore_archive.events_0000000000000000001 SET type = 'X';
SELECT es_append('acct-9', 'X', '{}', 0, NULL,
                 (SELECT event_id FROM eventstore_archive.events_0000000000000000001 ORDER BY position LIMIT 1));
SELECT action, detail->>'from_position' AS from_position, detail->>'events' AS events, reason
FROM eventstore.lifecycle_log WHERE action = 'archive' ORDER BY (detail->>'from_position')::bigint;
-- Nothing more below 29; the last partition is never archived.
SELECT es_archive_events(29);
SELECT es_archive_events(9000000000) > 0 AS archived_more;
SELECT count(*) AS partitions_left FROM pg_inherits WHERE inhparent = 'eventstore.events'::regclass;
SELECT version FROM es_append('acct-1', 'AfterAll', '{}', 23);
-- Archival leaves the starts of archived streams: numbering still continues.
SELECT count(*) > 0 AS starts_below_horizon FROM eventstore.stream_starts WHERE position < es_archive_horizon();
:starts_broken;

-- Nothing of the layout counts as a user's addition (table_additions).
SELECT count(*) FROM eventstore.es_current_table_additions();

-- The time index goes to the template and to every partition, not the parent.
SELECT es_enable_time_index() AS created, es_enable_time_index() AS again;
SELECT count(*) AS on_parent FROM pg_index WHERE indrelid = 'eventstore.events'::regclass;
SELECT (SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid
        JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am a ON a.oid = c.relam
        WHERE i.inhparent = 'eventstore.events'::regclass AND a.amname = 'brin')
     = (SELECT count(*) FROM pg_inherits WHERE inhparent = 'eventstore.events'::regclass) AS on_every_partition;
SELECT position > 0 FROM es_feed_position_at(now() - interval '1 hour') AS position;
-- ... and partitions made later copy it from the template.
SELECT es_make_partitions(1000100) > 0 AS made;
SELECT (SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid
        JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am a ON a.oid = c.relam
        WHERE i.inhparent = 'eventstore.events'::regclass AND a.amname = 'brin')
     = (SELECT count(*) FROM pg_inherits WHERE inhparent = 'eventstore.events'::regclass) AS on_every_partition;

-- The partitions, oldest first, for monitoring.
SELECT count(*) > 0 AS listed, bool_and(to_position > from_position) AS bounded,
       min(from_position) >= es_archive_horizon() AS above_horizon
FROM es_partitions();

-- A transaction holding a lock that ATTACH waits for makes its partitions
-- itself (a background worker would wait for it): 200 appends cross the
-- last partition made above.
BEGIN;
LOCK TABLE eventstore.events IN SHARE UPDATE EXCLUSIVE MODE;
SELECT count(*) FROM (SELECT es_append('locked-' || (g % 5), 'L', '{}') FROM generate_series(1, 200) g) x;
COMMIT;
SELECT count(*) AS stored, max(position) > 1000100 AS crossed
FROM eventstore.events WHERE stream LIKE 'locked-%';
SELECT max(to_position) > (SELECT max(position) FROM eventstore.events) AS covered FROM es_partitions();
