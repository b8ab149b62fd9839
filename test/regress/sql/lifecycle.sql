-- Stream lifecycle (src/lifecycle.c, docs/lifecycle.md): the admin grant,
-- soft delete and restore, tombstones, erasure, deleting snapshots,
-- resetting checkpoints, the audit trail, and bad input.
SET search_path = eventstore, public;

-- Feed rows of a stream (the feed, not the stream read).
CREATE FUNCTION feed_of(s text) RETURNS TABLE (version bigint, "position" bigint)
LANGUAGE sql AS $$
    SELECT f.version, f."position" FROM eventstore.es_load(after_position => 0, max_count => 100000) f
    WHERE f.stream = s ORDER BY f."position"
$$;

-- 1. Who may do it: admins only.
CREATE ROLE lc_admin;
CREATE ROLE lc_writer;
CREATE ROLE lc_reader;
SELECT es_grant_admin('lc_admin');
SELECT es_grant_writer('lc_writer');
SELECT es_grant_reader('lc_reader');
SELECT count(*) FROM es_append('lc-a', 'Opened', '{"n": 1}');
SELECT count(*) FROM es_append('lc-a', 'Noted', '{"n": 2}');
SELECT count(*) FROM es_append('lc-a', 'Noted', '{"n": 3}');
SET ROLE lc_writer;
SELECT try('SELECT eventstore.es_delete_stream(''lc-a'')');
SELECT try('SELECT eventstore.es_tombstone_stream(''lc-a'')');
SELECT try('SELECT eventstore.es_erase_stream(''lc-a'', ''asked'')');
SELECT try('SELECT eventstore.es_delete_snapshots(''lc-a'')');
SELECT try('SELECT eventstore.es_reset_checkpoint(''p'')');
SELECT try('SELECT eventstore.es_grant_admin(''lc_writer'')');
SELECT try('DELETE FROM eventstore.events WHERE stream = ''lc-a''');
RESET ROLE;
SET ROLE lc_reader;
SELECT try('SELECT eventstore.es_delete_stream(''lc-a'')');
SELECT state, version FROM es_stream_info('lc-a');
RESET ROLE;
-- The immutability guarantee for everyone else is unchanged: even a
-- superuser's DELETE or UPDATE is refused, also right after a lifecycle call.
SELECT try('DELETE FROM eventstore.events WHERE stream = ''lc-a''');
SELECT try('UPDATE eventstore.events SET data = NULL WHERE stream = ''lc-a''');
SELECT try('TRUNCATE eventstore.stream_state');
SELECT try('TRUNCATE eventstore.lifecycle_log');
SELECT try('TRUNCATE eventstore.deleted_events');

-- The permit covers the lifecycle function's own DELETE statement only: a
-- DELETE that a user's trigger runs inside it is refused, and the whole
-- deletion with it.
SELECT count(*) FROM es_append('lc-victim', 'A', '{}');
SELECT count(*) FROM es_append('lc-host', 'A', '{}');
CREATE FUNCTION public.lc_sneaky() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM eventstore.events WHERE stream = 'lc-victim';
    RETURN OLD;
END
$$;
CREATE TRIGGER lc_sneaky BEFORE DELETE ON eventstore.events
    FOR EACH ROW EXECUTE FUNCTION public.lc_sneaky();
SELECT try('SELECT eventstore.es_delete_stream(''lc-host'')');
DROP TRIGGER lc_sneaky ON eventstore.events;
DROP FUNCTION public.lc_sneaky();
SELECT stream, count(*) FROM events WHERE stream IN ('lc-victim', 'lc-host') GROUP BY 1 ORDER BY 1;

-- 2. Soft delete.
SELECT es_snapshot('lc-a', 2, '{"s": 2}');
SELECT try_detail('SELECT eventstore.es_delete_stream(''lc-a'', 2)');
SET ROLE lc_admin;
SELECT es_delete_stream('lc-a', 3, 'test: soft delete');
RESET ROLE;
SELECT count(*) AS stream_rows FROM es_load('lc-a');
SELECT count(*) AS feed_rows FROM feed_of('lc-a');
SELECT count(*) AS snapshots FROM es_load_snapshot('lc-a');
SELECT es_stream_version('lc-a');
SELECT stream, state, version, first_version, last_version,
       deleted_at IS NOT NULL AS deleted, tombstoned_at IS NOT NULL AS tombstoned
FROM es_stream_info('lc-a');
SELECT version, type, data FROM deleted_events WHERE stream = 'lc-a' ORDER BY version;
-- Still immutable for everyone: the permit was used up by the delete.
SELECT try('DELETE FROM eventstore.events WHERE stream = ''lc-b''');
-- Deleting again, or a claim made before the delete, is refused.
SELECT try('SELECT eventstore.es_delete_stream(''lc-a'')');
SELECT try_detail('SELECT * FROM eventstore.es_append(''lc-a'', ''Late'', ''{}'', 3)');
SELECT try_detail('SELECT * FROM eventstore.es_append(''lc-a'', ''Late'', ''{}'', -1)');
SELECT try('SELECT eventstore.es_snapshot(''lc-a'', 3, ''{}'')');
-- "No stream" brings it back to life; numbering continues (KurrentDB).
SELECT stream, version FROM es_append('lc-a', 'Reopened', '{"n": 4}', 0);
SELECT version, type FROM es_load('lc-a');
SELECT state, version, first_version, last_version FROM es_stream_info('lc-a');
SELECT try('SELECT eventstore.es_restore_stream(''lc-a'')');

-- Restore: same versions and ids, at new positions after the old ones.
SELECT count(*) FROM es_append('lc-b', 'Opened', '{"n": 1}');
SELECT count(*) FROM es_append('lc-b', 'Noted', NULL, metadata => '{"m": 1}');
CREATE TEMP TABLE lc_b_before AS SELECT * FROM eventstore.events WHERE stream = 'lc-b';
SELECT es_delete_stream('lc-b');
SELECT es_restore_stream('lc-b', 'test: restore');
SELECT e.version, e.event_id = b.event_id AS same_id, e.type = b.type AS same_type,
       e.data IS NOT DISTINCT FROM b.data AS same_data,
       e.metadata IS NOT DISTINCT FROM b.metadata AS same_metadata,
       e.created_at = b.created_at AS same_created_at,
       e."position" > (SELECT max("position") FROM lc_b_before) AS new_position
FROM es_load('lc-b') e JOIN lc_b_before b USING (version) ORDER BY e.version;
SELECT version FROM feed_of('lc-b');
SELECT count(*) AS aside FROM deleted_events WHERE stream = 'lc-b';
SELECT state, version FROM es_stream_info('lc-b');
SELECT try('SELECT eventstore.es_restore_stream(''lc-b'')');
SELECT stream, version FROM es_append('lc-b', 'Noted', '{}', 2);

-- 3. Hard delete (tombstone), also of a soft-deleted stream.
SELECT es_snapshot('lc-b', 3, '{"s": 3}');
SELECT try_detail('SELECT eventstore.es_tombstone_stream(''lc-b'', 2)');
SELECT es_tombstone_stream('lc-b', 3, 'test: tombstone');
SELECT count(*) AS stored FROM events WHERE stream = 'lc-b';
SELECT count(*) AS snapshots FROM snapshots WHERE stream = 'lc-b';
SELECT es_stream_version('lc-b');
SELECT state, version, first_version, last_version, tombstoned_at IS NOT NULL AS tombstoned
FROM es_stream_info('lc-b');
SELECT try('SELECT * FROM eventstore.es_append(''lc-b'', ''Again'', ''{}'')');
SELECT try('SELECT * FROM eventstore.es_append(''lc-b'', ''Again'', ''{}'', 0)');
SELECT try('SELECT * FROM eventstore.es_append(''lc-b'', ''Again'', ''{}'', 3)');
SELECT try('SELECT * FROM eventstore.es_append(''[{"stream": "lc-ok", "events": [{"type": "A"}]}, {"stream": "lc-b", "events": [{"type": "A"}]}]''::jsonb)');
SELECT count(*) AS lc_ok_rows FROM events WHERE stream = 'lc-ok';
SELECT try('SELECT eventstore.es_tombstone_stream(''lc-b'')');
SELECT try('SELECT eventstore.es_delete_stream(''lc-b'')');
SELECT try('SELECT eventstore.es_restore_stream(''lc-b'')');
SELECT try('SELECT eventstore.es_snapshot(''lc-b'', 1, ''{}'')');
SELECT es_delete_stream('lc-a');
SELECT es_tombstone_stream('lc-a', 0);
SELECT count(*) AS aside FROM deleted_events WHERE stream = 'lc-a';
SELECT state, version, last_version FROM es_stream_info('lc-a');

-- 5. Erasure: events, snapshots, per-stream checkpoints; a reason is required.
SELECT count(*) FROM es_append('lc-person-1', 'Registered', '{"email": "a@example.org"}');
SELECT es_snapshot('lc-person-1', 1, '{"email": "a@example.org"}');
SELECT "position" FROM es_advance_position('lc-mailer', 1, 'lc-person-1');
SELECT try('SELECT eventstore.es_erase_stream(''lc-person-1'', NULL)');
SELECT try('SELECT eventstore.es_erase_stream(''lc-person-1'', '''')');
SELECT es_erase_stream('lc-person-1', 'GDPR art. 17 request #42');
SELECT (SELECT count(*) FROM events WHERE stream = 'lc-person-1') AS events,
       (SELECT count(*) FROM snapshots WHERE stream = 'lc-person-1') AS snapshots,
       (SELECT count(*) FROM checkpoints WHERE stream = 'lc-person-1') AS checkpoints,
       (SELECT count(*) FROM deleted_events WHERE stream = 'lc-person-1') AS aside;
SELECT stream, last_version, tombstoned_at IS NOT NULL AS tombstoned FROM stream_state
WHERE stream = 'lc-person-1';
SELECT try('SELECT * FROM eventstore.es_append(''lc-person-1'', ''Registered'', ''{}'', 0)');

-- 4. Snapshots and checkpoints.
SELECT count(*) FROM es_append('lc-s1', 'A', '{}');
SELECT count(*) FROM es_append('lc-s2', 'A', '{}');
SELECT es_snapshot('lc-s1', 1, '{}', 'cart:v1'), es_snapshot('lc-s1', 1, '{}', 'cart:v2'),
       es_snapshot('lc-s2', 1, '{}', 'cart:v1');
SELECT try('SELECT eventstore.es_delete_snapshots()');
SELECT es_delete_snapshots(kind => 'cart:v1', reason => 'schema change');
SELECT stream, kind FROM snapshots WHERE stream LIKE 'lc-s%' ORDER BY 1, 2;
SELECT es_delete_snapshots('lc-s1');
SELECT es_delete_snapshots('lc-s1', 'cart:v9');
SELECT count(*) FROM snapshots WHERE stream LIKE 'lc-s%';
SELECT "position" FROM es_advance_position('lc-proj', 3);
SELECT "position" FROM es_advance_position('lc-proj', 1, 'lc-s1');
SELECT try('SELECT eventstore.es_reset_checkpoint(''lc-none'')');
SELECT try('SELECT eventstore.es_reset_checkpoint(''lc-proj'', NULL, 4)');
SELECT try('SELECT eventstore.es_reset_checkpoint(''lc-proj'', NULL, -1)');
SELECT try('SELECT eventstore.es_reset_checkpoint(''lc-proj'', NULL, NULL)');
SELECT es_reset_checkpoint('lc-proj', NULL, 2, 'rebuild from 2');
SELECT es_handler_position('lc-proj');
SELECT es_reset_checkpoint('lc-proj', reason => 'full rebuild');
SELECT es_handler_position('lc-proj'), count(*) FROM checkpoints WHERE handler = 'lc-proj' AND stream = '';
SELECT es_reset_checkpoint('lc-proj', 'lc-s1');
SELECT es_handler_position('lc-proj', 'lc-s1');

-- 6. Retention: stored per stream, applied at once and by es_apply_retention;
-- the last event is always kept; reads start at the first kept version.
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'lc-r1', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'T', 'data', jsonb_build_object('n', g))) FROM generate_series(1, 10) g)));
SELECT es_set_retention('lc-r1', truncate_before => 4, reason => 'keep from 4');
SELECT min(version), max(version), count(*) FROM es_load('lc-r1');
SELECT state, version, first_version, last_version, truncate_before, max_count, max_age
FROM es_stream_info('lc-r1');
SELECT * FROM es_apply_retention();
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'lc-r1', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'T')) FROM generate_series(1, 5))));
SELECT es_set_retention('lc-r1', max_count => 5);
SELECT * FROM es_apply_retention();
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'lc-r1', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'T')) FROM generate_series(1, 2))));
SELECT * FROM es_apply_retention();
SELECT * FROM es_apply_retention();
SELECT string_agg(version::text, ',' ORDER BY version) FROM es_load('lc-r1');
-- from_version NULL starts at the first version kept; a read from a removed
-- version is ES012 (issue 21, item 8; the rest under "Version gaps" below).
SELECT string_agg(version::text, ',' ORDER BY version) FROM es_load('lc-r1', NULL, 2);
SELECT try_detail($$SELECT * FROM es_load('lc-r1', 1, 2)$$);
SELECT count(*) AS feed_rows FROM feed_of('lc-r1');
SELECT es_stream_version('lc-r1');
SELECT stream, version FROM es_append('lc-r1', 'T', NULL, 17);
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'lc-r2', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'T')) FROM generate_series(1, 3))));
SELECT es_set_retention('lc-r2', max_age => '100 years');
SELECT es_set_retention('lc-r2', max_age => '1 microsecond');
SELECT string_agg(version::text, ',') FROM es_load('lc-r2');
-- All NULL clears the settings; the stream keeps what it has.
SELECT es_set_retention('lc-r1');
SELECT * FROM es_apply_retention();
SELECT truncate_before, max_count, max_age FROM es_stream_info('lc-r1');
-- At most max_streams streams are cleaned per call; the next call goes on.
SELECT count(*) FROM es_append('[{"stream": "lc-r3", "events": [{"type": "T"}]}, {"stream": "lc-r4", "events": [{"type": "T"}]}]');
SELECT es_set_retention('lc-r3', max_count => 1), es_set_retention('lc-r4', max_count => 1);
SELECT count(*) FROM es_append('[{"stream": "lc-r3", "events": [{"type": "T"}]}, {"stream": "lc-r4", "events": [{"type": "T"}]}]');
SELECT * FROM es_apply_retention(max_streams => 1);
SELECT * FROM es_apply_retention(max_streams => 1);
SELECT * FROM es_apply_retention(max_streams => 1);
SELECT try('SELECT * FROM eventstore.es_apply_retention(0)');
SET ROLE lc_writer;
SELECT try('SELECT eventstore.es_set_retention(''lc-r1'', max_count => 1)');
SELECT try('SELECT * FROM eventstore.es_apply_retention()');
RESET ROLE;

-- Bad input: a SQLSTATE each, nothing changed.
CREATE TEMP TABLE lc_log_count AS SELECT count(*) AS n FROM lifecycle_log;
SELECT try('SELECT eventstore.es_delete_stream(NULL)');
SELECT try('SELECT eventstore.es_delete_stream('''')');
SELECT try('SELECT eventstore.es_delete_stream(repeat(''x'', 256))');
SELECT try('SELECT eventstore.es_delete_stream(''lc-nobody'')');
SELECT try('SELECT eventstore.es_tombstone_stream(''lc-nobody'')');
SELECT try('SELECT eventstore.es_restore_stream(''lc-nobody'')');
SELECT try('SELECT eventstore.es_erase_stream(''lc-nobody'', ''why'')');
SELECT try('SELECT eventstore.es_delete_stream(''lc-s1'', -5)');
SELECT try('SELECT eventstore.es_delete_stream(''lc-s1'', 7)');
SELECT try('SELECT eventstore.es_delete_snapshots(''lc-s1'', '''')');
SELECT try('SELECT eventstore.es_reset_checkpoint(NULL)');
SELECT try('SELECT eventstore.es_set_retention(NULL, 1)');
SELECT try('SELECT eventstore.es_set_retention(''lc-nobody'', 1)');
SELECT try('SELECT eventstore.es_set_retention(''lc-b'', 1)');
SELECT try('SELECT eventstore.es_set_retention(''lc-s1'', 0)');
SELECT try_detail('SELECT eventstore.es_set_retention(''lc-s1'', 2)');
SELECT try('SELECT eventstore.es_set_retention(''lc-s1'', max_count => 0)');
SELECT try('SELECT eventstore.es_set_retention(''lc-s1'', max_count => -3)');
SELECT try('SELECT eventstore.es_set_retention(''lc-s1'', max_count => 3000000000)');
SELECT try_detail('SELECT eventstore.es_set_retention(''lc-s1'', max_age => ''-1 day'')');
SELECT try('SELECT eventstore.es_set_retention(''lc-s1'', max_age => ''0'')');
SELECT try('SELECT eventstore.es_set_retention(''lc-s1'', max_age => ''1 day -25 hours'')');
SELECT try('SELECT eventstore.es_set_retention(''lc-s1'', max_age => ''ten days'')');
SELECT state, version FROM es_stream_info('lc-s1');
SELECT state, version, first_version, last_version FROM es_stream_info('lc-nobody');
SELECT (SELECT n FROM lc_log_count) = count(*) AS log_unchanged FROM lifecycle_log;

-- The audit trail: what, when, by whom, why.
SELECT action, stream, handler, kind, detail, reason, session_role, calling_role,
       logged_at <= clock_timestamp() AS logged
FROM lifecycle_log ORDER BY logged_at;

-- A soft delete and a restore keep what the writer said of an event's time
-- (occurred_at), as they keep its id and payload.
SELECT count(*) FROM es_append('{"stream": "lc-dated", "events": [
    {"type": "Dated", "data": {}, "occurred_at": "2024-05-01T10:00:00Z"},
    {"type": "Undated", "data": {}}]}'::jsonb);
SELECT es_delete_stream('lc-dated');
SELECT version, occurred_at FROM deleted_events WHERE stream = 'lc-dated' ORDER BY version;
SELECT es_restore_stream('lc-dated');
SELECT version, type, occurred_at FROM es_load('lc-dated');

-- Version gaps (issue 21, item 8; docs/lifecycle.md, "Reads of a shortened
-- stream"): a read that names or implies where it starts never starts past
-- versions that retention removed; it fails with ES012.
SELECT count(*) FROM es_append('{"stream": "gap-1", "events": [{"type": "T"}, {"type": "T"}, {"type": "T"}, {"type": "T"}, {"type": "T"}]}');
SELECT * FROM es_snapshot('gap-1', 1, '{"n": 1}');
SELECT es_set_retention('gap-1', truncate_before => 3, reason => 'gap test');
-- the snapshot at 1 cannot be completed: version 2 is gone
SELECT try_detail($$SELECT * FROM es_load_with_snapshot('gap-1')$$);
-- no snapshot of that kind: the stream's start (1, 2) is gone
SELECT try_detail($$SELECT * FROM es_load_with_snapshot('gap-1', 'v2')$$);
SELECT try($$SELECT * FROM es_load_until('gap-1', now())$$);
SELECT try($$SELECT * FROM es_load('gap-1', 1)$$);
SELECT try($$SELECT * FROM es_load('gap-1', 0)$$);
SELECT try($$SELECT * FROM es_load('gap-1', 2, backward => true)$$);
-- what is kept reads as before
SELECT string_agg(version::text, ',' ORDER BY version) FROM es_load('gap-1');
SELECT string_agg(version::text, ',' ORDER BY version) FROM es_load('gap-1', 3);
SELECT string_agg(version::text, ',' ORDER BY version) FROM es_load('gap-1', 4, backward => true);
SELECT string_agg(version::text, ',' ORDER BY version) FROM es_load('gap-1', backward => true);
SELECT count(*) FROM es_load('gap-1', 6);
-- a snapshot at or above the removed versions completes the stream
SELECT * FROM es_snapshot('gap-1', 3, '{"n": 3}');
SELECT is_snapshot, version FROM es_load_with_snapshot('gap-1');
SELECT * FROM es_snapshot('gap-1', 2, '{"n": 2}', kind => 'v2');
SELECT is_snapshot, version FROM es_load_with_snapshot('gap-1', 'v2');
-- a stream that came back to life after a soft delete starts where its
-- numbering continued: no gap for the versions deleted on purpose
SELECT count(*) FROM es_append('{"stream": "gap-2", "events": [{"type": "T"}, {"type": "T"}]}');
SELECT es_delete_stream('gap-2', reason => 'gap test');
SELECT count(*) FROM es_append('{"stream": "gap-2", "events": [{"type": "T"}, {"type": "T"}]}');
SELECT string_agg(version::text, ',' ORDER BY version) FROM es_load('gap-2', 1);
SELECT string_agg(version::text, ',' ORDER BY version) FROM es_load_with_snapshot('gap-2');
SELECT string_agg(version::text, ',' ORDER BY version) FROM es_load_until('gap-2', now());
-- ... but retention after that is a gap again
SELECT es_set_retention('gap-2', truncate_before => 4, reason => 'gap test');
SELECT try($$SELECT * FROM es_load_with_snapshot('gap-2')$$);
SELECT try($$SELECT * FROM es_load('gap-2', 1)$$);
-- streams that never existed stay empty, without an error
SELECT count(*) FROM es_load('gap-none', 1);
SELECT count(*) FROM es_load_with_snapshot('gap-none');
SELECT count(*) FROM es_load_until('gap-none', now());
RESET search_path;
DROP OWNED BY lc_admin, lc_writer, lc_reader;
DROP ROLE lc_admin, lc_writer, lc_reader;

