-- The new shared library serving a database whose SQL is still 1.1's: the
-- window between installing a new release and ALTER EXTENSION UPDATE.  The
-- functions of 1.1 are called as 1.1 declared them (the same calls as
-- api_1.0.sql, so that test/suites/15_upgrade.sh checks the same data after
-- the update, and those 1.1 added), and every C symbol 1.1's script names
-- must still be exported by the library.
SELECT extversion FROM pg_extension WHERE extname = 'eventstore';
SET search_path = eventstore, public;
CREATE FUNCTION try_v10(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
-- es_append: one event, JSON and binary, every expected-version form
SELECT stream, version, position FROM es_append('v10order-1', 'Placed', '{"total": 10}', 0, '{"correlation_id": "c-1"}');
SELECT stream, version, position FROM es_append('v10order-1', 'Paid', '{"amount": 10}', 1);
SELECT stream, version, position FROM es_append('v10order-1', 'Shipped', expected_version => -1);
SELECT stream, version, position FROM es_append('v10blob-1', 'Proto', data_bin => '\x0001ff'::bytea);
SELECT stream, version, position FROM es_append('v10order-2', 'Placed', '{"total": 5}',
    event_id => '00000000-0000-4000-8000-000000000001');
-- idempotent retry of the same event id
SELECT stream, version, position FROM es_append('v10order-2', 'Placed', '{"total": 5}',
    event_id => '00000000-0000-4000-8000-000000000001');
-- 1.1's append_result has five fields (replayed is the fifth)
SELECT * FROM es_append('v10order-2', 'Placed', '{"total": 5}',
    event_id => '00000000-0000-4000-8000-000000000001');
-- es_append: batches, one stream and several
SELECT stream, version, position FROM es_append('{"stream": "v10cart-1", "expected_version": 0, "events": [
    {"type": "Added", "data": {"sku": "a"}}, {"type": "Added", "data": {"sku": "b"}, "metadata": {"u": 1}}]}');
SELECT stream, version, position FROM es_append('[
    {"stream": "v10account-1", "expected_version": 0, "events": [{"type": "Opened"}]},
    {"stream": "v10account-2", "expected_version": 0, "events": [{"type": "Opened"}]}]');
-- a batch entry that only checks a stream (1.1's behaviour, through 1.0's SQL)
SELECT stream, version FROM es_append('[
    {"stream": "v10order-1", "expected_version": 3, "events": []},
    {"stream": "v10account-3", "expected_version": 0, "events": [{"type": "Opened"}]}]');
-- the store's errors
SELECT try_v10($$SELECT es_append('v10order-1', 'X', '{}', 1)$$) AS conflict;
SELECT try_v10($$SELECT es_append('v10order-9', 'X', '{}', event_id => '00000000-0000-4000-8000-000000000001')$$) AS id_reused;
SELECT try_v10($$SELECT es_append('', 'X')$$) AS empty_stream;
SELECT try_v10($$UPDATE eventstore.events SET type = 'x'$$) AS immutable;
-- an occurrence time (1.1's column)
SELECT stream, version FROM es_append('{"stream": "v11time-1", "events": [{"type": "T", "occurred_at": "2026-01-01T10:00:00Z"}]}');
-- es_load: stream forward and backward, the feed with filters
SELECT stream, version, type, data FROM es_load('v10order-1');
SELECT version FROM es_load('v10order-1', NULL, 2, true);
SELECT count(*) FROM es_load('v10order-1', max_count => NULL);
SELECT position, stream, version FROM es_load(after_position => 0, max_count => 100);
SELECT position, stream FROM es_load(after_position => 0, category => 'v10account');
SELECT count(*) FROM es_load(after_position => 0, types => ARRAY['Placed']);
SELECT (SELECT count(*) FROM es_load(after_position => 0, group_member => 0, group_size => 2))
     + (SELECT count(*) FROM es_load(after_position => 0, group_member => 1, group_size => 2)) AS split_total;
SELECT es_stream_version('v10order-1'), es_stream_version('v10nope');
SELECT es_feed_head(), es_feed_mode();
SELECT es_wait(0, 10);
SELECT es_stream_hash('v10order-1');
-- snapshots
SELECT * FROM es_snapshot('v10order-1', 2, '{"state": "paid"}');
SELECT * FROM es_snapshot('v10order-1', 1, '{"state": "placed"}');
SELECT * FROM es_snapshot('v10cart-1', 2, data_bin => '\xbeef'::bytea, kind => 'cart:v2');
SELECT stream, kind, version, data, data_bin FROM es_load_snapshot('v10order-1');
SELECT is_snapshot, position, version, type, data FROM es_load_with_snapshot('v10order-1');
-- checkpoints
SELECT * FROM es_advance_position('v10-projector', 3);
SELECT * FROM es_advance_position('v10-projector', 2);
SELECT * FROM es_advance_position('v10-per-order', 2, 'v10order-1');
SELECT es_handler_position('v10-projector'), es_handler_position('v10-per-order', 'v10order-1');
BEGIN;
SELECT es_lock_handler('v10-projector');
COMMIT;
SELECT handler, stream, position, head, lag FROM handler_lag ORDER BY handler;
-- What 1.1 added: queries, correlation, time, the catalogue, grants
SELECT stream, version FROM es_stream_info('v10order-1');
SELECT count(*) FROM es_load_feed(0, 100);
SELECT version FROM es_load_event('00000000-0000-4000-8000-000000000001');
SELECT count(*) FROM es_load_events(ARRAY['00000000-0000-4000-8000-000000000001']::uuid[]);
SELECT count(*) FROM es_load_correlated('c-1');
SELECT count(*) FROM es_streams(prefix => 'v10order');
SELECT count(*) FROM es_stream_versions(ARRAY['v10order-1', 'v10order-2']);
SELECT count(*) > 0 FROM es_categories();
SELECT es_feed_position_at(now()) >= 0 AS position_at;
SELECT count(*) FROM es_load_until('v10order-1', now());
CREATE ROLE v11_service;
SELECT es_grant_handler('v11_service', 'v11.'), es_grant_category('v11_service', 'v10order');
SELECT es_revoke_handler('v11_service', 'v11.'), es_revoke_category('v11_service', 'v10order');
-- Every C function of 1.1's script: its symbol is still in the library
-- (docs/releasing.md: a released symbol is never removed).
DO $$
DECLARE
    f record;
    n int := 0;
BEGIN
    FOR f IN
        SELECT p.prosrc, p.probin FROM pg_proc p
        JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'eventstore'
        WHERE p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
    LOOP
        EXECUTE format('CREATE FUNCTION pg_temp.symbol_check() RETURNS void AS %L, %L LANGUAGE C',
                       f.probin, f.prosrc);
        DROP FUNCTION pg_temp.symbol_check();
        n := n + 1;
    END LOOP;
    RAISE NOTICE 'C symbols of 1.1 found: %', n;
END
$$;
-- grants (the role api_1.0.sql made, in the same cluster)
DO $$ BEGIN CREATE ROLE v10_writer; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SELECT es_grant_writer('v10_writer');
SELECT es_reset_position_counter();
SELECT stream, version, position FROM es_append('v10order-1', 'Closed', expected_version => 3);
