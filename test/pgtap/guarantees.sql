-- pgTAP: the guarantees of SPEC.md that one session can check
-- (1 atomic appends, 2 exactly one winner and dense versions, 4 idempotent
-- retries, 6 immutable history, 7 bad input), each with assertions that fail
-- when the guarantee is broken.  Concurrency is covered by the isolation
-- specs (test/isolation/specs) and the stress run (test/stress).
-- Everything runs in one transaction that is rolled back at the end.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off

BEGIN;
SET LOCAL search_path = eventstore, public;
SELECT plan(66);

-- The SQLSTATE and detail of an error, to check what throws_ok cannot see.
CREATE FUNCTION pg_temp.error_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    detail text;
BEGIN
    EXECUTE stmt;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, detail = PG_EXCEPTION_DETAIL;
    RETURN state || ': ' || SQLERRM || ' / ' || coalesce(detail, '');
END
$$;

-- One event of a batch: {"type": t} plus an id when given.
CREATE FUNCTION pg_temp.ev(t text, id uuid DEFAULT NULL, data jsonb DEFAULT NULL) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object('type', t, 'id', id, 'data', data))
$$;

------------------------------------------------------------------------------
-- 1. Atomic appends
------------------------------------------------------------------------------
SELECT lives_ok($$SELECT es_append('atom-a', 'Opened', NULL, 0)$$,
    'atomic: a first event on atom-a');

-- atom-b's part is fine, atom-a's claim is stale: the whole call fails ...
SELECT throws_ok($$SELECT es_append(jsonb_build_array(
        jsonb_build_object('stream', 'atom-b', 'expected_version', 0,
                           'events', jsonb_build_array(pg_temp.ev('B1'), pg_temp.ev('B2'))),
        jsonb_build_object('stream', 'atom-a', 'expected_version', 0,
                           'events', jsonb_build_array(pg_temp.ev('A2')))))$$,
    'ES001', NULL, 'atomic: a multi-stream append with one stale stream fails with ES001');
-- ... and wrote nothing, in either stream.
SELECT results_eq($$SELECT stream, version, type FROM eventstore.events
                    WHERE stream IN ('atom-a', 'atom-b') ORDER BY stream, version$$,
    $$VALUES ('atom-a'::text, 1::bigint, 'Opened'::text)$$,
    'atomic: the failed multi-stream append wrote nothing');

-- The last stream in lock order failing must also undo the first ones:
-- try the stale claim on each side.
SELECT throws_ok($$SELECT es_append(jsonb_build_array(
        jsonb_build_object('stream', 'atom-a', 'expected_version', 7,
                           'events', jsonb_build_array(pg_temp.ev('A2'))),
        jsonb_build_object('stream', 'atom-b', 'expected_version', 'any',
                           'events', jsonb_build_array(pg_temp.ev('B1')))))$$,
    'ES001', NULL, 'atomic: stale claim on the other stream fails with ES001');
SELECT is((SELECT count(*) FROM eventstore.events WHERE stream IN ('atom-a', 'atom-b')),
    1::bigint, 'atomic: still nothing written');

-- A bad event in the middle of a batch: nothing of the batch is stored.
SELECT throws_ok($$SELECT es_append(jsonb_build_object('stream', 'atom-c', 'events', jsonb_build_array(
        pg_temp.ev('C1'), jsonb_build_object('type', 'C2', 'metadata', 5), pg_temp.ev('C3'))))$$,
    '22023', NULL, 'atomic: a batch with a malformed event fails with 22023');
SELECT is(es_stream_version('atom-c'), 0::bigint, 'atomic: no event of the malformed batch is stored');

-- Several calls in one transaction roll back together (a subtransaction here).
SAVEPOINT several;
SELECT lives_ok($$SELECT es_append('atom-d', 'One', NULL, 0)$$, 'atomic: first call of a transaction');
SELECT lives_ok($$SELECT es_append('atom-d', 'Two', NULL, 1)$$, 'atomic: second call of a transaction');
SELECT lives_ok($$SELECT es_append('atom-e', 'One', NULL, 0)$$, 'atomic: third call, another stream');
ROLLBACK TO SAVEPOINT several;
SELECT is((SELECT count(*) FROM eventstore.events WHERE stream IN ('atom-d', 'atom-e')),
    0::bigint, 'atomic: a rolled-back transaction leaves none of its appends');
SELECT is(es_stream_version('atom-d'), 0::bigint, 'atomic: the stream version is back to 0');

------------------------------------------------------------------------------
-- 2. Exactly one winner, dense versions
------------------------------------------------------------------------------
SELECT lives_ok($$SELECT es_append('win-1', 'Created', NULL, 0)$$, 'winner: create win-1');
SELECT lives_ok($$SELECT es_append('win-1', 'First', NULL, 1)$$, 'winner: the first claim of version 1 wins');
SELECT throws_ok($$SELECT es_append('win-1', 'Second', NULL, 1)$$,
    'ES001', 'wrong expected version for stream "win-1"', 'winner: the second claim of version 1 gets ES001');
SELECT alike(pg_temp.error_of($$SELECT es_append('win-1', 'Second', NULL, 1)$$),
    'ES001: % / {"stream": "win-1", "expected_version": 1, "actual_version": 2}',
    'winner: the conflict says the expected and the actual version');
SELECT throws_ok($$SELECT es_append('win-1', 'Again', NULL, 0)$$,
    'ES001', NULL, 'winner: "no stream" on an existing stream gets ES001');
SELECT throws_ok($$SELECT es_append('win-404', 'Again', NULL, -1)$$,
    'ES001', NULL, 'winner: "must exist" on a missing stream gets ES001');
SELECT throws_ok($$SELECT es_append('win-1', 'Future', NULL, 9)$$,
    'ES001', NULL, 'winner: a version from the future gets ES001');
SELECT throws_ok($$SELECT es_append('{"stream": "win-1", "expected_version": "no_stream", "events": [{"type": "X"}]}'::jsonb)$$,
    'ES001', NULL, 'winner: JSON "no_stream" on an existing stream gets ES001');
SELECT results_eq($$SELECT version, type FROM es_load('win-1')$$,
    $$VALUES (1::bigint, 'Created'::text), (2, 'First')$$,
    'winner: only the winners are stored');

-- Dense versions after single, batch and multi-stream appends with failures in between.
SELECT lives_ok($$SELECT es_append(jsonb_build_object('stream', 'win-1', 'expected_version', 2,
        'events', jsonb_build_array(pg_temp.ev('B1'), pg_temp.ev('B2'), pg_temp.ev('B3'))))$$,
    'dense: a batch of three');
SELECT lives_ok($$SELECT es_append(jsonb_build_array(
        jsonb_build_object('stream', 'win-2', 'events', jsonb_build_array(pg_temp.ev('M1'), pg_temp.ev('M2'))),
        jsonb_build_object('stream', 'win-1', 'expected_version', 'exists', 'events', jsonb_build_array(pg_temp.ev('M1')))))$$,
    'dense: a multi-stream append');
SELECT results_eq($$SELECT version FROM es_load('win-1')$$,
    $$SELECT generate_series(1, 6)::bigint$$, 'dense: win-1 has versions 1..6');
SELECT is(es_stream_version('win-1'), 6::bigint, 'dense: es_stream_version agrees');
SELECT is((SELECT count(*) FROM (
        SELECT stream FROM eventstore.events GROUP BY stream
        HAVING min(version) <> 1 OR max(version) <> count(*) OR count(DISTINCT version) <> count(*)) s),
    0::bigint, 'dense: every stream''s versions are exactly 1..n');

------------------------------------------------------------------------------
-- 4. Idempotent retries, id reuse
------------------------------------------------------------------------------
CREATE TEMP TABLE first_reply AS
    SELECT * FROM es_append(jsonb_build_object('stream', 'retry-1', 'expected_version', 0,
        'events', jsonb_build_array(
            pg_temp.ev('R1', 'aaaaaaaa-0000-4000-8000-000000000001', '{"n": 1}'),
            pg_temp.ev('R2', 'aaaaaaaa-0000-4000-8000-000000000002', '{"n": 2}'))));
SELECT is((SELECT count(*) FROM first_reply), 2::bigint, 'retry: the first attempt stores two events');
SELECT lives_ok($$SELECT es_append(jsonb_build_object('stream', 'retry-1', 'expected_version', 0,
        'events', jsonb_build_array(
            pg_temp.ev('R1', 'aaaaaaaa-0000-4000-8000-000000000001', '{"n": 1}'),
            pg_temp.ev('R2', 'aaaaaaaa-0000-4000-8000-000000000002', '{"n": 2}'))))$$,
    'retry: the same append again succeeds');
SELECT results_eq($$SELECT stream, version, position, event_id, NOT replayed
        FROM es_append(jsonb_build_object('stream', 'retry-1', 'expected_version', 0,
        'events', jsonb_build_array(
            pg_temp.ev('R1', 'aaaaaaaa-0000-4000-8000-000000000001', '{"n": 1}'),
            pg_temp.ev('R2', 'aaaaaaaa-0000-4000-8000-000000000002', '{"n": 2}'))))$$,
    $$SELECT stream, version, position, event_id, replayed FROM first_reply$$,
    'retry: a retry returns the same streams, versions, positions and ids, and says it replayed');
SELECT is((SELECT count(*) FROM eventstore.events WHERE stream = 'retry-1'), 2::bigint,
    'retry: retries wrote nothing');
SELECT lives_ok($$SELECT es_append('retry-2', 'S', '{"n": 1}', 0, event_id => 'aaaaaaaa-0000-4000-8000-000000000003')$$,
    'retry: single-event form, first attempt');
SELECT lives_ok($$SELECT es_append('retry-2', 'S', '{"n": 1}', 0, event_id => 'aaaaaaaa-0000-4000-8000-000000000003')$$,
    'retry: single-event form, retry');
SELECT lives_ok($$SELECT es_append('retry-2', 'S', '{"n": 1}', NULL, event_id => 'aaaaaaaa-0000-4000-8000-000000000003')$$,
    'retry: a retry with expected version "any" succeeds too');
SELECT is((SELECT count(*) FROM eventstore.events WHERE event_id = 'aaaaaaaa-0000-4000-8000-000000000003'),
    1::bigint, 'retry: the event is stored once');
SELECT is(es_stream_version('retry-2'), 1::bigint, 'retry: the stream did not grow');

SELECT throws_ok($$SELECT es_append('retry-3', 'S', '{"n": 1}', NULL, event_id => 'aaaaaaaa-0000-4000-8000-000000000003')$$,
    'ES002', NULL, 'reuse: the id on another stream gets ES002');
SELECT throws_ok($$SELECT es_append('retry-2', 'S', '{"n": 2}', NULL, event_id => 'aaaaaaaa-0000-4000-8000-000000000003')$$,
    'ES002', NULL, 'reuse: the id with another payload gets ES002');
SELECT throws_ok($$SELECT es_append('retry-2', 'T', '{"n": 1}', NULL, event_id => 'aaaaaaaa-0000-4000-8000-000000000003')$$,
    'ES002', NULL, 'reuse: the id with another type gets ES002');
SELECT throws_ok($$SELECT es_append(jsonb_build_object('stream', 'retry-1', 'events', jsonb_build_array(
            pg_temp.ev('R1', 'aaaaaaaa-0000-4000-8000-000000000001', '{"n": 1}'),
            pg_temp.ev('R3', 'aaaaaaaa-0000-4000-8000-000000000009'))))$$,
    'ES002', NULL, 'reuse: a batch with one stored id and one new id gets ES002');
SELECT throws_ok($$SELECT es_append(jsonb_build_object('stream', 'retry-1', 'expected_version', 2, 'events', jsonb_build_array(
            pg_temp.ev('R1', 'aaaaaaaa-0000-4000-8000-000000000001', '{"n": 1}'),
            pg_temp.ev('R2', 'aaaaaaaa-0000-4000-8000-000000000002', '{"n": 2}'))))$$,
    'ES002', NULL, 'reuse: the stored events resent with another expected version get ES002');
SELECT is((SELECT count(*) FROM eventstore.events WHERE stream LIKE 'retry-%'), 3::bigint,
    'reuse: the refused appends wrote nothing');

------------------------------------------------------------------------------
-- 6. Immutable history
------------------------------------------------------------------------------
SELECT throws_ok($$UPDATE eventstore.events SET type = 'Changed' WHERE stream = 'win-1'$$,
    'ES003', NULL, 'immutable: UPDATE gets ES003');
SELECT throws_ok($$DELETE FROM eventstore.events WHERE stream = 'win-1'$$,
    'ES003', NULL, 'immutable: DELETE gets ES003');
SELECT throws_ok($$TRUNCATE eventstore.events$$,
    'ES003', NULL, 'immutable: TRUNCATE gets ES003');
SET LOCAL session_replication_role = replica;
SELECT throws_ok($$DELETE FROM eventstore.events$$,
    'ES003', NULL, 'immutable: DELETE in replica mode gets ES003');
SELECT throws_ok($$UPDATE eventstore.events SET data = NULL$$,
    'ES003', NULL, 'immutable: UPDATE in replica mode gets ES003');
SET LOCAL session_replication_role = origin;
SELECT throws_ok($$UPDATE eventstore.events SET version = version WHERE false$$,
    'ES003', NULL, 'immutable: even an UPDATE of no rows gets ES003');
SELECT results_eq($$SELECT version, type FROM es_load('win-1')$$,
    $$VALUES (1::bigint, 'Created'::text), (2, 'First'), (3, 'B1'), (4, 'B2'), (5, 'B3'), (6, 'M1')$$,
    'immutable: the events are unchanged');

------------------------------------------------------------------------------
-- 7. Bad input: specific SQLSTATEs, nothing changes
------------------------------------------------------------------------------
CREATE TEMP TABLE before AS SELECT count(*) AS n, max(position) AS p FROM eventstore.events;
SELECT throws_ok($$SELECT es_append(NULL, 'T')$$, '22004', NULL, 'bad input: NULL stream gets 22004');
SELECT throws_ok($$SELECT es_append('bad-1', NULL)$$, '22004', NULL, 'bad input: NULL type gets 22004');
SELECT throws_ok($$SELECT es_append(NULL::jsonb)$$, '22004', NULL, 'bad input: NULL batch gets 22004');
SELECT throws_ok($$SELECT es_append('', 'T')$$, '22023', NULL, 'bad input: empty stream gets 22023');
SELECT throws_ok($$SELECT es_append(repeat('s', 256), 'T')$$, '22023', NULL, 'bad input: over-long stream gets 22023');
SELECT throws_ok($$SELECT es_append('bad-1', 'T', NULL, -2)$$, '22023', NULL, 'bad input: expected version -2 gets 22023');
SELECT throws_ok($$SELECT es_append('bad-1', 'T', '{}', data_bin => '\x00')$$, '22023', NULL,
    'bad input: two payloads get 22023');
SELECT throws_ok($$SELECT es_append(jsonb_build_object('stream', 'bad-1', 'events', jsonb_build_array(
            pg_temp.ev('T', 'bbbbbbbb-0000-4000-8000-000000000001'),
            pg_temp.ev('T', 'bbbbbbbb-0000-4000-8000-000000000001'))))$$,
    '22023', NULL, 'bad input: a duplicate id in one batch gets 22023');
SELECT throws_ok($$SELECT es_append(jsonb_build_object('stream', 'bad-1', 'events',
        (SELECT jsonb_agg(pg_temp.ev('T')) FROM generate_series(1, 10001))))$$,
    '54000', NULL, 'bad input: an oversized batch gets 54000');
SELECT throws_ok($$SELECT * FROM es_load('win-1', 1, 0)$$, '22023', NULL, 'bad input: max_count 0 gets 22023');
SELECT throws_ok($$SELECT * FROM es_load('win-1', -1)$$, '22023', NULL, 'bad input: a negative from_version gets 22023');
SELECT results_eq($$SELECT count(*), max(position) FROM eventstore.events$$,
    $$SELECT n, p FROM before$$, 'bad input: nothing was stored or changed');

------------------------------------------------------------------------------
-- Returned positions increase
------------------------------------------------------------------------------
CREATE TEMP TABLE replies (n serial, stream text, version bigint, "position" bigint, event_id uuid);
INSERT INTO replies (stream, version, "position", event_id) SELECT stream, version, position, event_id FROM es_append('pos-1', 'P1');
INSERT INTO replies (stream, version, "position", event_id)
    SELECT stream, version, position, event_id FROM es_append(jsonb_build_object('stream', 'pos-1', 'events',
        jsonb_build_array(pg_temp.ev('P2'), pg_temp.ev('P3'), pg_temp.ev('P4'))));
INSERT INTO replies (stream, version, "position", event_id)
    SELECT stream, version, position, event_id FROM es_append(jsonb_build_array(
        jsonb_build_object('stream', 'pos-3', 'events', jsonb_build_array(pg_temp.ev('Q1'))),
        jsonb_build_object('stream', 'pos-2', 'events', jsonb_build_array(pg_temp.ev('Q2'), pg_temp.ev('Q3')))));
INSERT INTO replies (stream, version, "position", event_id) SELECT stream, version, position, event_id FROM es_append('pos-1', 'P5');
SELECT is((SELECT count(*) FROM (SELECT "position" <= lag("position") OVER (ORDER BY n) AS down FROM replies) s
           WHERE down), 0::bigint, 'positions: every returned position is above the previous one');
SELECT results_eq($$SELECT stream, version FROM replies ORDER BY n$$,
    $$VALUES ('pos-1'::text, 1::bigint), ('pos-1', 2), ('pos-1', 3), ('pos-1', 4),
             ('pos-3', 1), ('pos-2', 1), ('pos-2', 2), ('pos-1', 5)$$,
    'positions: rows come back in the caller''s order of events');
SELECT results_eq($$SELECT stream, version, "position", event_id FROM eventstore.events
                    WHERE stream LIKE 'pos-%' ORDER BY "position"$$,
    $$SELECT stream, version, "position", event_id FROM replies ORDER BY n$$,
    'positions: what was returned is what is stored');
SELECT is((SELECT count(*) FROM eventstore.events), (SELECT count(DISTINCT "position") FROM eventstore.events),
    'positions: unique');
SELECT is((SELECT count(*) FROM eventstore.events), (SELECT count(DISTINCT event_id) FROM eventstore.events),
    'event ids: unique, generated when not given');
SELECT ok((SELECT bool_and(event_id IS NOT NULL) FROM replies), 'event ids: generated ids are returned');

SELECT * FROM finish();
ROLLBACK;
