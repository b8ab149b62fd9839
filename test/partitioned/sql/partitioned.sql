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
VALUES (800, 'loaded-1', 1, '00000000-0000-4000-8000-0000000000aa', 'L', 'loaded', now());
-- Partitions never leave a gap (issue 21, item 12): a from_position above
-- the last partition's bound does not start there, the partitions continue
-- from the last one.
SELECT es_make_partitions(800, 790) AS made;
SELECT count(*) AS gaps FROM (SELECT from_position, lag(to_position) OVER (ORDER BY from_position) AS prev_to
                              FROM es_partitions()) p WHERE p.prev_to <> p.from_position;
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, created_at)
VALUES (800, 'loaded-1', 1, '00000000-0000-4000-8000-0000000000aa', 'L', 'loaded', now());
SELECT position FROM eventstore.event_ids WHERE event_id = '00000000-0000-4000-8000-0000000000aa';
SELECT position FROM eventstore.stream_starts WHERE stream = 'loaded-1';
SELECT version, position > 800 AS after_loaded FROM es_append('loaded-1', 'M', '{}', 1);
-- ... and they are bounded (issue 21, item 11): at most 100 partitions in
-- one call, nothing made by a refused call.
SELECT count(*) AS partitions_before FROM es_partitions() \gset
SELECT es_make_partitions(9223372036854775807);
SELECT es_make_partitions(1000000, 999000);
SELECT count(*) = :partitions_before AS none_made FROM es_partitions();
:starts_broken;

-- Archival: the four oldest partitions (positions 1 to 28) leave the store.
SELECT es_archive_events(NULL);
SELECT es_archive_events(29, 'partition test') AS archived;
SELECT table_name, from_position, to_position, events FROM eventstore.archives ORDER BY from_position;
SELECT es_archive_horizon();
SELECT count(*) FROM eventstore.events WHERE position < 29;
SELECT * FROM es_load_feed(0, 10);
SELECT min(position) FROM es_load_feed(es_archive_horizon() - 1, 10000);
-- Reads by query and conditions (docs/dcb.md) refuse to start below it too.
SELECT * FROM es_load_query('{"all": true}', 0, 10);
SELECT * FROM es_append_if('{"events": [{"type": "T"}]}', '{"all": true}', 0);
SELECT min(position) FROM es_load_query('{"all": true}', es_archive_horizon() - 1, 10000);
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
-- Partitions made ahead of the head stay too: their positions are not
-- handed out yet, and would have no partition left.
SELECT es_make_partitions((SELECT max(position) FROM eventstore.events) + 30) > 0 AS made_ahead;
SELECT es_archive_events(9000000000) > 0 AS archived_more;
SELECT count(*) AS partitions_left FROM pg_inherits WHERE inhparent = 'eventstore.events'::regclass;
SELECT count(*) >= 4 AS kept_above_head FROM es_partitions() WHERE from_position > es_feed_head();
SELECT version FROM es_append('acct-1', 'AfterAll', '{}', 23);
-- Archival leaves the starts of archived streams: numbering still continues.
SELECT count(*) > 0 AS starts_below_horizon FROM eventstore.stream_starts WHERE position < es_archive_horizon();
:starts_broken;
-- Positions handed out to an aborted append, to the end of a partition,
-- then archived with it: when the position counter is read again (after a
-- restart; here es_reset_position_counter), appends start above the
-- archive horizon, where partitions are.
SELECT es_feed_head() AS h \gset
SELECT to_position AS b FROM es_partitions() WHERE from_position <= :h + 1 AND to_position > :h + 1 \gset
BEGIN;
SELECT count(*) AS aborted FROM (SELECT es_append('aborted-1', 'A', '{}') FROM generate_series(1, :b - 1 - :h)) x;
ROLLBACK;
SELECT es_archive_events(:b) > 0 AS archived_tail;
SELECT es_archive_horizon() = :b AS horizon_at_b, es_feed_head() < :b AS tail_never_stored;
SELECT es_reset_position_counter();
SELECT version, position >= es_archive_horizon() AS above_horizon FROM es_append('acct-1', 'AfterReset', '{}', 24);

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
SELECT es_make_partitions(900) > 0 AS made;
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
SELECT count(*) AS stored, max(position) > 900 AS crossed
FROM eventstore.events WHERE stream LIKE 'locked-%';
SELECT max(to_position) > (SELECT max(position) FROM eventstore.events) AS covered FROM es_partitions();

-- A gap between partitions (issue 21, item 12): the empty partitions made
-- ahead are detached, leaving positions above the head without one; the
-- appends that reach them fill the gap (es_ensure_partitions sees it, the
-- worker or the appender runs es_make_partitions), instead of failing
-- with 23514 for good.
SELECT max(position) AS head FROM eventstore.events \gset
SELECT es_make_partitions(:head + 50) > 0 AS made_ahead;
DO $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT partition FROM eventstore.es_partitions()
             WHERE from_position > (SELECT max(position) + 7 FROM eventstore.events)
             ORDER BY from_position LIMIT 3
    LOOP
        EXECUTE format('ALTER TABLE eventstore.events DETACH PARTITION %s', p.partition);
    END LOOP;
END
$$;
SELECT count(*) AS gaps FROM (SELECT from_position, lag(to_position) OVER (ORDER BY from_position) AS prev_to
                              FROM es_partitions()) p WHERE p.prev_to <> p.from_position;
SELECT count(*) AS appended FROM (SELECT es_append('gap-' || (g % 3), 'G', '{}') FROM generate_series(1, 40) g) x;
SELECT count(*) AS gaps FROM (SELECT from_position, lag(to_position) OVER (ORDER BY from_position) AS prev_to
                              FROM es_partitions()) p WHERE p.prev_to <> p.from_position;
-- es_make_partitions fills a gap too, whatever up_to_position it is given.
SELECT max(to_position) AS top FROM es_partitions() \gset
SELECT es_make_partitions(:top + 30) > 0 AS made_ahead;
DO $$
DECLARE
    p regclass;
BEGIN
    SELECT partition INTO p FROM eventstore.es_partitions() ORDER BY from_position DESC OFFSET 1 LIMIT 1;
    EXECUTE format('ALTER TABLE eventstore.events DETACH PARTITION %s', p);
END
$$;
SELECT es_make_partitions(1) AS filled;
SELECT count(*) AS gaps FROM (SELECT from_position, lag(to_position) OVER (ORDER BY from_position) AS prev_to
                              FROM es_partitions()) p WHERE p.prev_to <> p.from_position;

-- The settings the functions rely on are pinned (issue 21, item 11): with
-- standard_conforming_strings off (which a database owner can set for the
-- database), the bounds still read, partitions are still made.
SET standard_conforming_strings = off;
SELECT count(*) FILTER (WHERE from_position IS NULL OR to_position IS NULL) AS null_bounds FROM es_partitions();
SELECT max(to_position) AS top FROM es_partitions() \gset
SELECT es_make_partitions(:top + 7) AS made;
RESET standard_conforming_strings;

-- The archive schema is the store's (issue 21, item 3): a member of the
-- extension, owned by a superuser, guarded against DROP (ES005).
SELECT r.rolsuper AS superuser_owned,
       EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
               AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'eventstore') AND d.deptype = 'e') AS member,
       has_schema_privilege('public', n.oid, 'CREATE') AS public_creates
FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'eventstore_archive';
DROP TABLE eventstore_archive.events_0000000000000000001;
DROP TABLE eventstore_archive.events_0000000000000000001, eventstore_archive.events_0000000000000000008;
DROP SCHEMA eventstore_archive CASCADE;
ALTER TABLE eventstore_archive.events_0000000000000000001 DISABLE TRIGGER events_immutable;
-- A schema that is not the store's is refused (ES013): not a member ...
ALTER EXTENSION eventstore DROP SCHEMA eventstore_archive;
SELECT es_archive_events(1000000);
SELECT es_erase_stream('acct-2', 'test');
ALTER EXTENSION eventstore ADD SCHEMA eventstore_archive;
-- ... or owned by a role that is not a superuser.
CREATE ROLE es_part_not_super;
ALTER SCHEMA eventstore_archive OWNER TO es_part_not_super;
SELECT es_archive_events(1000000);
ALTER SCHEMA eventstore_archive OWNER TO CURRENT_USER;
DROP ROLE es_part_not_super;
SELECT es_archive_events(30) AS nothing_new;

-- An erasure reaches the archives (issue 21, item 7): acct-1's archived
-- versions are deleted from every archive table with their ids, and the
-- audit row says how many went from where.
CREATE FUNCTION pg_temp.archived(s text, OUT events bigint, OUT ids bigint) LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    n bigint;
    m bigint;
BEGIN
    events := 0; ids := 0;
    FOR t IN SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'eventstore_archive'::regnamespace AND c.relkind = 'r' LOOP
        EXECUTE format('SELECT count(*), count(i.event_id) FROM %s a LEFT JOIN eventstore.event_ids i USING (event_id)
                        WHERE a.stream = $1', t) INTO n, m USING s;
        events := events + n; ids := ids + m;
    END LOOP;
END
$$;
SELECT * FROM pg_temp.archived('acct-1');
CREATE TEMP TABLE acct1_ids AS SELECT event_id FROM eventstore_archive.events_0000000000000000001 WHERE stream = 'acct-1';
SELECT sum(events) AS listed_before FROM eventstore.archives \gset
SELECT es_erase_stream('acct-1', 'data protection test');
SELECT * FROM pg_temp.archived('acct-1');
SELECT count(*) AS stored FROM eventstore.events WHERE stream = 'acct-1';
SELECT (SELECT count(*) FROM acct1_ids) AS archived_ids, count(*) AS ids_left
FROM eventstore.event_ids WHERE event_id IN (SELECT event_id FROM acct1_ids);
-- eventstore.archives counts what each archive still holds.
SELECT :listed_before - sum(events) AS recounted FROM eventstore.archives;
SELECT detail->'archives' AS archives, detail->>'archived_events' AS archived_events, detail->>'events' AS events
FROM eventstore.lifecycle_log WHERE action = 'erase' AND stream = 'acct-1';
SELECT state FROM es_stream_info('acct-1');
-- Archives stay immutable for everyone else.
DELETE FROM eventstore_archive.events_0000000000000000022;
-- A superuser who means it drops an archive; the drop is audited.
SET eventstore.allow_destroy = on;
DROP TABLE eventstore_archive.events_0000000000000000022;
RESET eventstore.allow_destroy;
SELECT action, detail FROM eventstore.lifecycle_log WHERE action = 'drop_archive';

-- Tags in the partitioned layout (docs/dcb.md): stored in the partitions'
-- rows, indexed in event_tags, read by query, checked by a condition.
SELECT count(*) FROM es_append('dcb-1', 'Tagged', tags => ARRAY['p:1']);
SELECT type, tags FROM es_load_query('{"items": [{"types": ["Tagged"], "tags": ["p:1"]}]}', es_archive_horizon() - 1);
SELECT count(*) FROM es_append_if('{"events": [{"type": "Tagged", "tags": ["p:1"]}]}',
    '{"items": [{"types": ["Tagged"], "tags": ["p:1"]}]}', es_feed_head());
SELECT es_append_if('{"events": [{"type": "Tagged", "tags": ["p:1"]}]}',
    '{"items": [{"types": ["Tagged"], "tags": ["p:1"]}]}', es_archive_horizon() - 1);
