-- pgTAP: snapshots and checkpoints (schema, behaviour, errors, privileges).
BEGIN;
SELECT plan(46);
SET search_path = eventstore, public;

-- schema
SELECT has_table('eventstore', 'snapshots', 'snapshots table exists');
SELECT col_is_pk('eventstore', 'snapshots', ARRAY['stream', 'kind'], 'one snapshot per (stream, kind)');
SELECT has_table('eventstore', 'checkpoints', 'checkpoints table exists');
SELECT col_is_pk('eventstore', 'checkpoints', ARRAY['handler', 'stream'], 'one checkpoint per (handler, stream)');
SELECT has_view('eventstore', 'handler_lag', 'handler_lag view exists');
SELECT has_function('eventstore', 'es_snapshot', ARRAY['text', 'bigint', 'jsonb', 'text', 'bytea']);
SELECT has_function('eventstore', 'es_load_snapshot', ARRAY['text', 'text']);
SELECT has_function('eventstore', 'es_load_with_snapshot', ARRAY['text', 'text', 'integer']);
SELECT has_function('eventstore', 'es_advance_position', ARRAY['text', 'bigint', 'text']);
SELECT has_function('eventstore', 'es_handler_position', ARRAY['text', 'text']);
SELECT has_function('eventstore', 'es_lock_handler', ARRAY['text', 'text', 'boolean']);
SELECT is(
    (SELECT count(*) FROM pg_proc
     WHERE pronamespace = 'eventstore'::regnamespace
       AND proname IN ('es_snapshot', 'es_load_snapshot', 'es_load_with_snapshot',
                       'es_advance_position', 'es_handler_position', 'es_lock_handler')
       AND prosecdef AND obj_description(oid, 'pg_proc') IS NOT NULL
       AND NOT has_function_privilege('public', oid, 'EXECUTE')),
    6::bigint, 'the six functions are SECURITY DEFINER, commented, not executable by PUBLIC');
SELECT ok(
    (SELECT array['eventstore.snapshots'::regclass, 'eventstore.checkpoints'::regclass] <@ extconfig::regclass[]
     FROM pg_extension WHERE extname = 'eventstore'),
    'pg_dump keeps snapshots and checkpoints');
SELECT is(
    (SELECT count(*) FROM pg_class c
     WHERE c.oid IN ('eventstore.snapshots'::regclass, 'eventstore.checkpoints'::regclass,
                     'eventstore.handler_lag'::regclass)
       AND obj_description(c.oid, 'pg_class') IS NOT NULL
       AND NOT has_table_privilege('public', c.oid, 'SELECT')),
    3::bigint, 'tables and view are commented and closed to PUBLIC');

-- snapshots
SELECT count(*) FROM es_append('tap-cart-1', 'Added', '{"qty": 1}', 0);
SELECT count(*) FROM es_append('tap-cart-1', 'Added', '{"qty": 2}', 1);
SELECT count(*) FROM es_append('tap-cart-1', 'Added', '{"qty": 3}', 2);
SELECT is_empty($$SELECT * FROM es_load_snapshot('tap-cart-1')$$, 'no snapshot yet');
SELECT results_eq($$SELECT version, saved FROM es_snapshot('tap-cart-1', 2, '{"total": 3}')$$,
                  $$VALUES (2::bigint, true)$$, 'a snapshot is saved');
SELECT results_eq($$SELECT version, saved FROM es_snapshot('tap-cart-1', 1, '{"total": 1}')$$,
                  $$VALUES (2::bigint, false)$$, 'an older snapshot keeps the newer one');
SELECT results_eq($$SELECT version, data FROM es_load_snapshot('tap-cart-1')$$,
                  $$VALUES (2::bigint, '{"total": 3}'::jsonb)$$, 'the newer state is loaded');
SELECT results_eq($$SELECT is_snapshot, version FROM es_load_with_snapshot('tap-cart-1')$$,
                  $$VALUES (true, 2::bigint), (false, 3::bigint)$$,
                  'snapshot first, then the events after it');
SELECT results_eq($$SELECT version, saved FROM es_snapshot('tap-cart-1', 1, kind => 'cart:v2', data_bin => '\x01')$$,
                  $$VALUES (1::bigint, true)$$, 'each kind has its own snapshot');
SELECT results_eq($$SELECT is_snapshot, version, type FROM es_load_with_snapshot('tap-cart-1', 'cart:v2')$$,
                  $$VALUES (true, 1::bigint, 'cart:v2'), (false, 2::bigint, 'Added'), (false, 3::bigint, 'Added')$$,
                  'loading by kind');
SELECT throws_ok($$SELECT es_snapshot('tap-cart-1', 4, '{}')$$, '22023', NULL, 'a version the stream has not reached');
SELECT throws_ok($$SELECT es_snapshot('tap-cart-404', 1, '{}')$$, '22023', NULL, 'a stream that does not exist');
SELECT throws_ok($$SELECT es_snapshot('tap-cart-1', 0, '{}')$$, '22023', NULL, 'version 0');
SELECT throws_ok($$SELECT es_snapshot('tap-cart-1', -5, '{}')$$, '22023', NULL, 'a negative version');
SELECT throws_ok($$SELECT es_snapshot('tap-cart-1', NULL, '{}')$$, '22004', NULL, 'a NULL version');
SELECT throws_ok($$SELECT es_snapshot(NULL, 1, '{}')$$, '22004', NULL, 'a NULL stream');
SELECT throws_ok($$SELECT es_snapshot('tap-cart-1', 1)$$, '22004', NULL, 'no state');
SELECT throws_ok($$SELECT es_snapshot('tap-cart-1', 1, '{}', data_bin => '\x00')$$, '22023', NULL, 'two states');
SELECT throws_ok($$SELECT es_snapshot('tap-cart-1', 1, '{}', '')$$, '22023', NULL, 'an empty kind');
SET LOCAL eventstore.max_snapshot_size = 1;
SELECT throws_ok($$SELECT es_snapshot('tap-cart-1', 1, data_bin => convert_to(repeat('x', 1025), 'UTF8'))$$,
                 '54000', NULL, 'a state above eventstore.max_snapshot_size');
RESET eventstore.max_snapshot_size;

-- checkpoints
SELECT is(es_handler_position('tap-proj'), 0::bigint, 'an unknown handler is at 0');
SELECT results_eq($$SELECT position, advanced FROM es_advance_position('tap-proj', 7)$$,
                  $$VALUES (7::bigint, true)$$, 'the first advance creates the checkpoint');
SELECT results_eq($$SELECT position, advanced FROM es_advance_position('tap-proj', 3)$$,
                  $$VALUES (7::bigint, false)$$, 'an older position keeps the newer one');
SELECT results_eq($$SELECT position, advanced FROM es_advance_position('tap-proj', 9)$$,
                  $$VALUES (9::bigint, true)$$, 'a newer position advances');
SELECT is(es_handler_position('tap-proj'), 9::bigint, 'reading the checkpoint is one call');
SELECT results_eq($$SELECT position, advanced FROM es_advance_position('tap-proj', 2, 'tap-cart-1')$$,
                  $$VALUES (2::bigint, true)$$, 'a per-stream checkpoint is separate');
SELECT is(es_handler_position('tap-proj', 'tap-cart-1'), 2::bigint, 'per-stream checkpoint read');
SELECT results_eq($$SELECT head, lag FROM handler_lag WHERE handler = 'tap-proj' AND stream = 'tap-cart-1'$$,
                  $$VALUES (3::bigint, 1::bigint)$$, 'per-stream lag against the stream version');
SELECT is(es_lock_handler('tap-proj'), 9::bigint, 'es_lock_handler returns the checkpoint');
SELECT throws_ok($$SELECT es_advance_position('tap-proj', -1)$$, '22023', NULL, 'a negative position');
SELECT throws_ok($$SELECT es_advance_position('tap-proj', NULL)$$, '22004', NULL, 'a NULL position');
SELECT throws_ok($$SELECT es_advance_position(NULL, 1)$$, '22004', NULL, 'a NULL handler');
SELECT throws_ok($$SELECT es_advance_position('', 1)$$, '22023', NULL, 'an empty handler');
SELECT throws_ok($$SELECT es_advance_position(repeat('h', 256), 1)$$, '22023', NULL, 'an over-long handler');
SELECT throws_ok($$SELECT es_handler_position(NULL)$$, '22004', NULL, 'reading with a NULL handler');

SELECT * FROM finish();
ROLLBACK;
