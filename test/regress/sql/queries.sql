-- The query surface of issue 13 (docs/queries.md): events by id, whole
-- streams, richer append answers.
SET search_path = eventstore, public;

-- Events by id: one, many (position order, each once, unknown ids skipped)
SELECT count(*) FROM es_append('{"stream": "q-order-1", "events": [
    {"type": "Placed", "id": "00000000-0000-4000-8000-0000000000a1", "data": {"n": 1}},
    {"type": "Paid",   "id": "00000000-0000-4000-8000-0000000000a2", "data": {"n": 2}}]}');
SELECT count(*) FROM es_append('q-order-2', 'Placed', '{"n": 3}',
    event_id => '00000000-0000-4000-8000-0000000000a3');
SELECT stream, version, type, data FROM es_load_event('00000000-0000-4000-8000-0000000000a2');
SELECT count(*) FROM es_load_event('00000000-0000-4000-8000-0000000000ff');
SELECT stream, version, event_id FROM es_load_events(ARRAY[
    '00000000-0000-4000-8000-0000000000a3', '00000000-0000-4000-8000-0000000000ff',
    '00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000a3']::uuid[]);
SELECT count(*) FROM es_load_events('{}');
-- the rows are those of the table, in the table's column order
SELECT (SELECT e FROM es_load_event('00000000-0000-4000-8000-0000000000a1') e)
     = (SELECT e FROM eventstore.events e WHERE event_id = '00000000-0000-4000-8000-0000000000a1') AS same_row;
-- untyped parameters resolve
PREPARE q_by_id(unknown) AS SELECT version FROM es_load_event($1);
EXECUTE q_by_id('00000000-0000-4000-8000-0000000000a1');
PREPARE q_by_ids(unknown) AS SELECT version FROM es_load_events($1);
EXECUTE q_by_ids('{00000000-0000-4000-8000-0000000000a1,00000000-0000-4000-8000-0000000000a2}');
-- bad input
SELECT try($$SELECT * FROM es_load_event(NULL)$$);
SELECT try($$SELECT * FROM es_load_event('not-a-uuid')$$);
SELECT try($$SELECT * FROM es_load_events(NULL)$$);
SELECT try($$SELECT * FROM es_load_events(ARRAY[NULL]::uuid[])$$);
SELECT try($$SELECT * FROM es_load_events('{{00000000-0000-4000-8000-0000000000a1}}')$$);
SELECT try($$SELECT * FROM es_load_events(array_fill('00000000-0000-4000-8000-0000000000a1'::uuid, ARRAY[100001]))$$);

-- Whole streams: max_count NULL has no cap (here 2,500 events, more than
-- the default page of 1,000 and than two pages of it)
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'q-long-1', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'E')) FROM generate_series(1, 2500))));
SELECT count(*) AS default_page FROM es_load('q-long-1');
SELECT count(*), min(version), max(version) FROM es_load('q-long-1', max_count => NULL);
SELECT count(*), min(version), max(version) FROM es_load('q-long-1', 2000, NULL);
SELECT count(*), min(version), max(version) FROM es_load('q-long-1', NULL, NULL, true);
SELECT count(*) FROM es_load('q-nope', max_count => NULL);
-- in version order, without gaps
SELECT bool_and(version = n) AS dense FROM
    (SELECT version, row_number() OVER () AS n FROM es_load('q-long-1', max_count => NULL)) v;
-- beyond work_mem the result spills to disk and is still whole
SET work_mem = '64kB';
SELECT count(*) FROM es_load('q-long-1', max_count => NULL);
RESET work_mem;
SELECT * FROM es_snapshot('q-long-1', 100, '{"s": 1}');
SELECT count(*) FILTER (WHERE is_snapshot) AS snapshots, count(*) FILTER (WHERE NOT is_snapshot) AS events
FROM es_load_with_snapshot('q-long-1', max_count => NULL);
-- the bounds still hold for a number
SELECT try($$SELECT * FROM es_load('q-long-1', 1, 0)$$);
SELECT try($$SELECT * FROM es_load('q-long-1', 1, 100001)$$);
SELECT try($$SELECT * FROM es_load_with_snapshot('q-long-1', 'default', 0)$$);
-- the feed has no "all": a NULL page size is still an error
SELECT try($$SELECT * FROM es_load(after_position => 0, max_count => NULL)$$);

-- Richer append answers: replayed says whether an idempotent retry found
-- the events stored already
SELECT stream, version, replayed FROM es_append('q-pay-1', 'Paid', '{"n": 1}', 0,
    event_id => '00000000-0000-4000-8000-0000000000b1');
SELECT stream, version, replayed FROM es_append('q-pay-1', 'Paid', '{"n": 1}', 0,
    event_id => '00000000-0000-4000-8000-0000000000b1');
-- a multi-stream call and its retry: the retry must be the whole call
-- (a retry that finds some entries stored and others not is ES002)
SELECT stream, version, replayed FROM es_append('[
    {"stream": "q-pay-2", "expected_version": 0, "events": [
        {"type": "Paid", "id": "00000000-0000-4000-8000-0000000000b2"}]},
    {"stream": "q-pay-5", "expected_version": 0, "events": [
        {"type": "Paid", "id": "00000000-0000-4000-8000-0000000000b5"}]}]');
SELECT stream, version, replayed FROM es_append('[
    {"stream": "q-pay-2", "expected_version": 0, "events": [
        {"type": "Paid", "id": "00000000-0000-4000-8000-0000000000b2"}]},
    {"stream": "q-pay-5", "expected_version": 0, "events": [
        {"type": "Paid", "id": "00000000-0000-4000-8000-0000000000b5"}]}]');
-- the conflict's DETAIL is a JSON object with stream, claim and actual version
CREATE FUNCTION pg_temp.conflict_of(stmt text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE stmt;
    RETURN NULL;
EXCEPTION WHEN SQLSTATE 'ES001' THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN detail::jsonb;
END
$$;
SELECT pg_temp.conflict_of($$SELECT es_append('q-pay-1', 'X', NULL, 7)$$);
SELECT pg_temp.conflict_of($$SELECT es_append('q-pay-1', 'X', NULL, 0)$$);
SELECT pg_temp.conflict_of($$SELECT es_append('q-pay-9', 'X', NULL, -1)$$);
SELECT pg_temp.conflict_of($$SELECT es_append('{"stream": "q-pay-1", "expected_version": "no_stream", "events": [{"type": "X"}]}')$$);
-- which stream of a multi-stream append conflicted
SELECT pg_temp.conflict_of($$SELECT es_append('[
    {"stream": "q-pay-1", "expected_version": 1, "events": [{"type": "X"}]},
    {"stream": "q-pay-2", "expected_version": 5, "events": [{"type": "X"}]}]')$$);
-- names that need escaping stay valid JSON
SELECT pg_temp.conflict_of($$SELECT es_append('q-"quoted"\1', 'X', NULL, 3)$$) ->> 'stream' AS stream;

-- "events": [] with an expected version checks a stream without writing it
SELECT stream, version FROM es_append('[
    {"stream": "q-pay-1", "expected_version": 1, "events": []},
    {"stream": "q-pay-3", "expected_version": 0, "events": [{"type": "Opened"}]}]');
SELECT es_stream_version('q-pay-1') AS unchanged;
-- a wrong claim on the checked stream fails the whole call, nothing written
SELECT pg_temp.conflict_of($$SELECT es_append('[
    {"stream": "q-pay-1", "expected_version": 5, "events": []},
    {"stream": "q-pay-3", "expected_version": 1, "events": [{"type": "Closed"}]}]')$$);
SELECT es_stream_version('q-pay-3') AS still_1;
-- checks only: every form of claim, nothing returned, nothing written
SELECT count(*) FROM es_append('{"stream": "q-pay-1", "expected_version": 1, "events": []}');
SELECT count(*) FROM es_append('[{"stream": "q-pay-1", "expected_version": "exists", "events": []},
                                 {"stream": "q-pay-404", "expected_version": "no_stream", "events": []}]');
SELECT pg_temp.conflict_of($$SELECT es_append('{"stream": "q-pay-404", "expected_version": -1, "events": []}')$$);
-- without a claim an empty entry says nothing
SELECT try($$SELECT es_append('{"stream": "q-pay-1", "events": []}')$$);
SELECT try($$SELECT es_append('{"stream": "q-pay-1", "expected_version": null, "events": []}')$$);
SELECT try($$SELECT es_append('[{"stream": "q-pay-1", "expected_version": 1, "events": []},
                                {"stream": "q-pay-1", "expected_version": 1, "events": [{"type": "X"}]}]')$$);

-- Correlation and causation: a conversation of five events, two branches
--   c1 (root) -> c2 -> c3, c2 -> c4; c5 another conversation
SELECT count(*) FROM es_append('[
  {"stream": "q-corr-order-1", "events": [
    {"type": "Placed",   "id": "00000000-0000-4000-8000-0000000000c1", "metadata": {"correlation_id": "conv-1"}},
    {"type": "Priced",   "id": "00000000-0000-4000-8000-0000000000c2",
     "metadata": {"correlation_id": "conv-1", "causation_id": "00000000-0000-4000-8000-0000000000c1"}}]},
  {"stream": "q-corr-payment-1", "events": [
    {"type": "Charged",  "id": "00000000-0000-4000-8000-0000000000c3",
     "metadata": {"correlation_id": "conv-1", "causation_id": "00000000-0000-4000-8000-0000000000c2", "user": "u1"}}]}]');
SELECT count(*) FROM es_append('q-corr-mail-1', 'Mailed', NULL,
    metadata => '{"correlation_id": "conv-1", "causation_id": "00000000-0000-4000-8000-0000000000c2"}',
    event_id => '00000000-0000-4000-8000-0000000000c4');
SELECT count(*) FROM es_append('q-corr-order-2', 'Placed', NULL,
    metadata => '{"correlation_id": "conv-2", "causation_id": "not an event id"}',
    event_id => '00000000-0000-4000-8000-0000000000c5');
SELECT stream, type FROM es_load_correlated('conv-1');
SELECT type FROM es_load_correlated('conv-1', max_count => 2);
SELECT type FROM es_load_correlated('conv-1',
    (SELECT position FROM es_load_event('00000000-0000-4000-8000-0000000000c2')));
SELECT type FROM es_load_correlated('conv-1', max_count => NULL);
SELECT count(*) FROM es_load_correlated('conv-404');
SELECT type FROM es_load_causes('00000000-0000-4000-8000-0000000000c3');
SELECT type FROM es_load_causes('00000000-0000-4000-8000-0000000000c3', 1);
SELECT count(*) FROM es_load_causes('00000000-0000-4000-8000-0000000000c1');
SELECT count(*) FROM es_load_causes('00000000-0000-4000-8000-0000000000c5');
SELECT count(*) FROM es_load_causes('00000000-0000-4000-8000-0000000000ff');
SELECT type FROM es_load_effects('00000000-0000-4000-8000-0000000000c1');
SELECT type FROM es_load_effects('00000000-0000-4000-8000-0000000000c2');
SELECT count(*) FROM es_load_effects('00000000-0000-4000-8000-0000000000c4');
-- a cycle (writer-chosen ids) ends the walk: each event once
SELECT count(*) FROM es_append('[{"stream": "q-cycle-1", "events": [
    {"type": "A", "id": "00000000-0000-4000-8000-0000000000d1", "metadata": {"causation_id": "00000000-0000-4000-8000-0000000000d2"}},
    {"type": "B", "id": "00000000-0000-4000-8000-0000000000d2", "metadata": {"causation_id": "00000000-0000-4000-8000-0000000000d1"}}]}]');
SELECT type FROM es_load_causes('00000000-0000-4000-8000-0000000000d1');
SELECT type FROM es_load_effects('00000000-0000-4000-8000-0000000000d1');
-- the store's indexes serve these reads
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM eventstore.events e
    WHERE substr(e.metadata ->> 'correlation_id', 1, 200) = substr('conv-1', 1, 200)
      AND (e.metadata ->> 'correlation_id') = 'conv-1' AND e.position > 0 ORDER BY e.position LIMIT 1000;
EXPLAIN (COSTS OFF) SELECT * FROM eventstore.events e
    WHERE substr(e.metadata ->> 'causation_id', 1, 200) = '00000000-0000-4000-8000-0000000000c2'
      AND (e.metadata ->> 'causation_id') IS NOT NULL;
RESET enable_seqscan;
-- a correlation id of any length can be stored (the index holds its first 200 characters)
SELECT count(*) FROM es_append('q-corr-long-1', 'Long', NULL,
    metadata => jsonb_build_object('correlation_id', repeat('x', 10000)));
SELECT count(*) FROM es_load_correlated(repeat('x', 10000));
-- bad input
SELECT try($$SELECT * FROM es_load_correlated(NULL)$$);
SELECT try($$SELECT * FROM es_load_correlated('')$$);
SELECT try($$SELECT * FROM es_load_correlated('conv-1', NULL)$$);
SELECT try($$SELECT * FROM es_load_correlated('conv-1', -1)$$);
SELECT try($$SELECT * FROM es_load_correlated('conv-1', 0, 0)$$);
SELECT try($$SELECT * FROM es_load_correlated('conv-1', 0, 100001)$$);
SELECT try($$SELECT * FROM es_load_causes(NULL)$$);
SELECT try($$SELECT * FROM es_load_causes('00000000-0000-4000-8000-0000000000c1', -1)$$);
SELECT try($$SELECT * FROM es_load_effects(NULL)$$);
SELECT try($$SELECT * FROM es_load_effects('nope')$$);
SELECT try($$SELECT * FROM es_load_effects('00000000-0000-4000-8000-0000000000c1', 0)$$);

-- Time: a writer's occurrence time (batch key "occurred_at") beside the
-- store's recording time (created_at)
SELECT count(*) FROM es_append('{"stream": "q-time-1", "events": [
    {"type": "Measured", "occurred_at": "1990-01-01T10:00:00Z"},
    {"type": "Measured", "occurred_at": "1990-01-01T11:00:00+00:00"},
    {"type": "Noted"}]}');
SELECT pg_sleep(0.01);
SELECT count(*) FROM es_append('{"stream": "q-time-1", "events": [
    {"type": "Measured", "occurred_at": "1990-01-01 09:30:00+00"}]}');
SELECT version, type, occurred_at AT TIME ZONE 'UTC' AS occurred_utc, occurred_at IS NULL AS none
FROM es_load('q-time-1');
-- up to a time by occurrence (occurred_at, else created_at): deterministic here
SELECT version FROM es_load_until('q-time-1', '1990-01-01T10:30:00Z', by_occurrence => true);
SELECT version FROM es_load_until('q-time-1', '1990-01-01T11:00:00Z', true, 1);
-- up to a time by recording: the first transaction's events, not the second's
SELECT version FROM es_load_until('q-time-1',
    (SELECT created_at FROM eventstore.events WHERE stream = 'q-time-1' AND version = 1));
SELECT count(*) FROM es_load_until('q-time-1', '1980-01-01');
SELECT count(*) FROM es_load_until('q-nope', now());
-- the first feed position at or after a time: the first event of the second
-- transaction above, and nothing recorded later is before it
SELECT es_feed_position_at((SELECT created_at FROM eventstore.events WHERE stream = 'q-time-1' AND version = 4))
     = (SELECT position FROM eventstore.events WHERE stream = 'q-time-1' AND version = 4) AS at_that_event;
SELECT es_feed_position_at(t) = (SELECT min(position) FROM eventstore.events WHERE created_at >= t) AS first_at_or_after
FROM (SELECT created_at AS t FROM eventstore.events WHERE stream = 'q-time-1' AND version = 1) x;
SELECT es_feed_position_at('1980-01-01') = (SELECT min(position) FROM eventstore.events) AS from_the_start;
SELECT es_feed_position_at(now() + interval '1 day') = es_feed_head() + 1 AS after_the_head;
-- the opt-in BRIN index on created_at: created once, recorded as an
-- addition (so pg_dump keeps it); the answer is the same with it
SELECT es_enable_time_index() AS created, es_enable_time_index() AS again;
SELECT kind, name FROM eventstore.table_additions WHERE name = 'events_created_at_brin_idx';
SELECT es_feed_position_at('1980-01-01') = (SELECT min(position) FROM eventstore.events) AS with_the_index;
DROP INDEX eventstore.events_created_at_brin_idx;
SELECT count(*) FROM eventstore.table_additions WHERE name = 'events_created_at_brin_idx';
-- bad input
SELECT try($$SELECT es_append('{"stream": "q-time-1", "events": [{"type": "T", "occurred_at": "yesterday-ish"}]}')$$);
SELECT try($$SELECT es_append('{"stream": "q-time-1", "events": [{"type": "T", "occurred_at": "infinity"}]}')$$);
SELECT try($$SELECT es_append('{"stream": "q-time-1", "events": [{"type": "T", "occurred_at": 1767261600}]}')$$);
SELECT try($$SELECT es_append('{"stream": "q-time-1", "events": [{"type": "T", "occurred_at": "300000-01-01"}]}')$$);
SELECT try($$SELECT * FROM es_load_until(NULL, now())$$);
SELECT try($$SELECT * FROM es_load_until('q-time-1', NULL)$$);
SELECT try($$SELECT * FROM es_load_until('q-time-1', '-infinity')$$);
SELECT try($$SELECT * FROM es_load_until('q-time-1', now(), false, 0)$$);
SELECT try($$SELECT es_feed_position_at(NULL)$$);
SELECT try($$SELECT es_feed_position_at('infinity')$$);
SELECT es_stream_version('q-time-1') AS still_4;

-- The streams catalogue: category qcat has qcat (no "-"), qcat-1, qcat-2;
-- qcatalog-1 shares the prefix, not the category
SELECT count(*) FROM es_append('[
    {"stream": "qcat-1", "events": [{"type": "A"}, {"type": "B"}, {"type": "C"}]},
    {"stream": "qcat-2", "events": [{"type": "A"}]},
    {"stream": "qcat", "events": [{"type": "A"}, {"type": "B"}]},
    {"stream": "qcatalog-1", "events": [{"type": "A"}]}]');
SELECT count(*) FROM es_append('qcat-1', 'D');
SELECT stream, category, version, last_position > first_position AS moved,
       last_appended_at >= created_at AS times_ok
FROM es_streams(category => 'qcat');
SELECT stream FROM es_streams(prefix => 'qcat');
SELECT stream FROM es_streams(prefix => 'qcat-');
-- paged: after_stream is the last name of the previous page
SELECT stream FROM es_streams(category => 'qcat', max_count => 2);
SELECT stream FROM es_streams(category => 'qcat', after_stream => 'qcat-1', max_count => 2);
SELECT count(*) FROM es_streams(category => 'qcat', after_stream => 'qcat-2');
-- the positions and times are those of the first and last events
SELECT s.first_position = (SELECT min(position) FROM eventstore.events WHERE stream = 'qcat-1')
   AND s.last_position = (SELECT max(position) FROM eventstore.events WHERE stream = 'qcat-1')
   AND s.last_appended_at = (SELECT max(created_at) FROM eventstore.events WHERE stream = 'qcat-1') AS matches_table
FROM es_streams(prefix => 'qcat-1') s;
-- every stream once, over pages of any size
SELECT (SELECT count(*) FROM es_streams(max_count => 100000))
     = (SELECT count(DISTINCT stream) FROM eventstore.events) AS every_stream;
-- categories with their streams and events
SELECT category, streams, events FROM es_categories() WHERE category IN ('qcat', 'qcatalog');
SELECT sum(streams) = (SELECT count(DISTINCT stream) FROM eventstore.events)
   AND sum(events) = (SELECT count(*) FROM eventstore.events) AS counts_exact
FROM es_categories();
-- existence and version of many streams in one call, in the order given
SELECT stream, version FROM es_stream_versions(ARRAY['qcat-1', 'qcat-404', 'qcat', 'qcat-1']);
SELECT count(*) FROM es_stream_versions('{}');
-- bad input
SELECT try($$SELECT * FROM es_streams(category => '')$$);
SELECT try($$SELECT * FROM es_streams(category => 'qcat-1')$$);
SELECT try($$SELECT * FROM es_streams(prefix => '')$$);
SELECT try($$SELECT * FROM es_streams(after_stream => '')$$);
SELECT try($$SELECT * FROM es_streams(max_count => NULL)$$);
SELECT try($$SELECT * FROM es_streams(max_count => 0)$$);
SELECT try($$SELECT * FROM es_streams(max_count => 100001)$$);
SELECT try($$SELECT * FROM es_stream_versions(NULL)$$);
SELECT try($$SELECT * FROM es_stream_versions(ARRAY['a', NULL])$$);
SELECT try($$SELECT * FROM es_stream_versions(ARRAY[''])$$);
SELECT try($$SELECT * FROM es_stream_versions(ARRAY[repeat('x', 256)])$$);
SELECT try($$SELECT * FROM es_stream_versions('{{a}}')$$);
SELECT try($$SELECT * FROM es_stream_versions(array_fill('a'::text, ARRAY[100001]))$$);
-- Deleted streams are absent from every query (their events leave
-- eventstore.events: docs/lifecycle.md): after a soft delete and after a
-- tombstone, nothing of them is found by catalogue, id, correlation or time.
SELECT count(*) FROM es_append('[
    {"stream": "qdel-1", "expected_version": 0, "events": [{"type": "A", "id": "00000000-0000-4000-8000-00000000de01",
        "metadata": {"correlation_id": "qdel-corr"}}]},
    {"stream": "qdel-2", "expected_version": 0, "events": [{"type": "A", "id": "00000000-0000-4000-8000-00000000de02",
        "metadata": {"correlation_id": "qdel-corr"}}]}]');
SELECT count(*) AS before_delete FROM es_streams(prefix => 'qdel-');
SELECT count(*) AS correlated_before FROM es_load_correlated('qdel-corr');
SELECT es_delete_stream('qdel-1', reason => 'test: soft delete') IS NOT NULL AS soft_deleted;
SELECT es_tombstone_stream('qdel-2', reason => 'test: tombstone') IS NOT NULL AS tombstoned;
SELECT count(*) AS in_catalogue FROM es_streams(prefix => 'qdel-');
SELECT count(*) AS in_categories FROM es_categories() WHERE category = 'qdel';
SELECT stream, version FROM es_stream_versions(ARRAY['qdel-1', 'qdel-2']);
SELECT count(*) AS by_id FROM es_load_events(ARRAY['00000000-0000-4000-8000-00000000de01',
                                                   '00000000-0000-4000-8000-00000000de02']::uuid[]);
SELECT count(*) AS by_correlation FROM es_load_correlated('qdel-corr');
SELECT count(*) AS until_now FROM es_load_until('qdel-1', now());

-- es_streams(prefix) stops walking names past the prefix (issue 21, item
-- 11) where names sort by bytes (C, POSIX, C.UTF-8: the test clusters):
-- 300 names after 'qwalk-' cost no walk steps.  The index probes of one call
-- are counted in this transaction's statistics; before the fix the walk
-- took one probe per name after the prefix (over 300).
SELECT count(*) FROM es_append((SELECT jsonb_agg(jsonb_build_object('stream', 'qwalz-' || g, 'events',
    jsonb_build_array(jsonb_build_object('type', 'T')))) FROM generate_series(1, 300) g));
SELECT count(*) FROM es_append('[{"stream": "qwalk-1", "events": [{"type": "T"}]}, {"stream": "qwalk-2", "events": [{"type": "T"}]}]');
BEGIN;
SELECT pg_stat_get_xact_numscans('eventstore.events_stream_version_key'::regclass) AS scans_before \gset
SELECT string_agg(stream, ',') FROM es_streams(prefix => 'qwalk-');
SELECT string_agg(stream, ',') FROM es_streams(category => 'qwalk');
SELECT CASE WHEN (SELECT datlocprovider = 'c' AND (datcollate IN ('C', 'POSIX') OR datcollate ~* '^c\.utf-?8$')
                  FROM pg_database WHERE datname = current_database())
            THEN pg_stat_get_xact_numscans('eventstore.events_stream_version_key'::regclass) - :scans_before < 50
            ELSE true END AS walk_stopped_at_the_prefix;
COMMIT;
