-- pgTAP: the query surface of issue 13 (docs/queries.md): events by id,
-- whole streams, richer append answers.
BEGIN;
SELECT plan(37);
SET search_path = eventstore, public;

-- schema
SELECT has_function('eventstore', 'es_load_event', ARRAY['uuid']);
SELECT has_function('eventstore', 'es_load_events', ARRAY['uuid[]']);
SELECT function_returns('eventstore', 'es_load_event', ARRAY['uuid'], 'setof events');
SELECT function_returns('eventstore', 'es_load_events', ARRAY['uuid[]'], 'setof events');
SELECT is_definer('eventstore', 'es_load_events', ARRAY['uuid[]'], 'es_load_events runs as the store''s owner');
SELECT has_column('eventstore', 'append_result', 'replayed', 'append results say whether they replayed');

-- events by id
SELECT lives_ok($$SELECT es_append(jsonb_build_object('stream', 'tq-1', 'events', jsonb_build_array(
    jsonb_build_object('type', 'A', 'id', 'cccccccc-0000-4000-8000-000000000001'),
    jsonb_build_object('type', 'B', 'id', 'cccccccc-0000-4000-8000-000000000002'))))$$, 'two events with ids');
SELECT results_eq($$SELECT type FROM es_load_event('cccccccc-0000-4000-8000-000000000002')$$,
    $$VALUES ('B')$$, 'an event by its id');
SELECT results_eq($$SELECT type FROM es_load_events('{cccccccc-0000-4000-8000-000000000002,
    cccccccc-0000-4000-8000-000000000009, cccccccc-0000-4000-8000-000000000001}')$$,
    $$VALUES ('A'), ('B')$$, 'events by ids: in position order, unknown ids skipped');
SELECT throws_ok($$SELECT * FROM es_load_events(NULL)$$, '22004', NULL, 'NULL ids get 22004');
SELECT throws_ok($$SELECT * FROM es_load_events('{NULL}')$$, '22004', NULL, 'a NULL id gets 22004');

-- whole streams
SELECT lives_ok($$SELECT es_append(jsonb_build_object('stream', 'tq-long', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'E')) FROM generate_series(1, 1500))))$$, 'a stream of 1,500 events');
SELECT is((SELECT count(*) FROM es_load('tq-long')), 1000::bigint, 'the default page is 1,000 events');
SELECT is((SELECT count(*) FROM es_load('tq-long', max_count => NULL)), 1500::bigint,
    'max_count NULL reads the whole stream');
SELECT throws_ok($$SELECT * FROM es_load(after_position => 0, max_count => NULL)$$, '22004', NULL,
    'the feed has no NULL page size');

-- richer append answers
SELECT results_eq($$SELECT replayed FROM es_append('tq-2', 'A', NULL, 0, event_id => 'cccccccc-0000-4000-8000-000000000003')$$,
    $$VALUES (false)$$, 'a fresh append is not a replay');
SELECT results_eq($$SELECT replayed FROM es_append('tq-2', 'A', NULL, 0, event_id => 'cccccccc-0000-4000-8000-000000000003')$$,
    $$VALUES (true)$$, 'a retry says it replayed');
CREATE FUNCTION pg_temp.detail_of(stmt text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE stmt;
    RETURN NULL;
EXCEPTION WHEN SQLSTATE 'ES001' THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN d::jsonb;
END
$$;
SELECT is(pg_temp.detail_of($$SELECT es_append('tq-2', 'B', NULL, 3)$$),
    '{"stream": "tq-2", "expected_version": 3, "actual_version": 1}'::jsonb,
    'a conflict''s DETAIL is JSON with stream, expected and actual version');
SELECT is(pg_temp.detail_of($$SELECT es_append(jsonb_build_array(
        jsonb_build_object('stream', 'tq-2', 'expected_version', 2, 'events', jsonb_build_array()),
        jsonb_build_object('stream', 'tq-3', 'events', jsonb_build_array(jsonb_build_object('type', 'X')))))$$),
    '{"stream": "tq-2", "expected_version": 2, "actual_version": 1}'::jsonb,
    'a checked stream that moved fails the call');
SELECT is(es_stream_version('tq-3'), 0::bigint, 'and nothing of it was written');

-- correlation and causation
SELECT has_index('eventstore', 'events', 'events_correlation_id_idx', 'the store indexes correlation ids');
SELECT has_index('eventstore', 'events', 'events_causation_id_idx', 'the store indexes causation ids');
SELECT lives_ok($$SELECT es_append(jsonb_build_array(jsonb_build_object('stream', 'tq-c', 'events', jsonb_build_array(
    jsonb_build_object('type', 'Cmd', 'id', 'cccccccc-0000-4000-8000-0000000000c1',
                       'metadata', jsonb_build_object('correlation_id', 'tq-conv')),
    jsonb_build_object('type', 'Evt', 'id', 'cccccccc-0000-4000-8000-0000000000c2',
                       'metadata', jsonb_build_object('correlation_id', 'tq-conv',
                                                      'causation_id', 'cccccccc-0000-4000-8000-0000000000c1'))))))$$,
    'a command and its event');
SELECT results_eq($$SELECT type FROM es_load_correlated('tq-conv')$$, $$VALUES ('Cmd'), ('Evt')$$,
    'a correlation, in position order');
SELECT results_eq($$SELECT type FROM es_load_causes('cccccccc-0000-4000-8000-0000000000c2')$$, $$VALUES ('Cmd')$$,
    'an event''s causes');
SELECT results_eq($$SELECT type FROM es_load_effects('cccccccc-0000-4000-8000-0000000000c1')$$, $$VALUES ('Evt')$$,
    'an event''s effects');
SELECT throws_ok($$SELECT * FROM es_load_correlated('')$$, '22023', NULL, 'an empty correlation id gets 22023');

-- time
SELECT has_column('eventstore', 'events', 'occurred_at', 'events have a writer''s occurrence time');
SELECT col_is_null('eventstore', 'events', 'occurred_at', 'occurred_at is optional');
SELECT lives_ok($$SELECT es_append(jsonb_build_object('stream', 'tq-t', 'events', jsonb_build_array(
    jsonb_build_object('type', 'A', 'occurred_at', '1990-05-01T08:00:00Z'),
    jsonb_build_object('type', 'B', 'occurred_at', '1990-05-02T08:00:00Z'))))$$, 'events with occurrence times');
SELECT results_eq($$SELECT type FROM es_load_until('tq-t', '1990-05-01T12:00:00Z', by_occurrence => true)$$,
    $$VALUES ('A')$$, 'a stream up to an occurrence time');
SELECT throws_ok($$SELECT es_feed_position_at('infinity')$$, '22008', NULL, 'an infinite time gets 22008');
SELECT ok(es_feed_position_at(now() - interval '1 day') <= (SELECT position FROM eventstore.events
    WHERE stream = 'tq-t' AND version = 1), 'the feed position at a time is at or before what was recorded since');

-- the streams catalogue
SELECT has_function('eventstore', 'es_streams', ARRAY['text', 'text', 'text', 'integer']);
SELECT results_eq($$SELECT stream, version FROM es_streams(prefix => 'tq-')$$,
    $$SELECT stream, max(version) FROM eventstore.events WHERE stream LIKE 'tq-%' GROUP BY stream ORDER BY stream$$,
    'the catalogue lists every stream with its version');
SELECT results_eq($$SELECT version FROM es_stream_versions(ARRAY['tq-2', 'tq-none'])$$,
    $$VALUES (1::bigint), (0::bigint)$$, 'versions of many streams, 0 for none');
SELECT throws_ok($$SELECT * FROM es_streams(max_count => 0)$$, '22023', NULL, 'a page of 0 streams gets 22023');

SELECT * FROM finish();
ROLLBACK;
