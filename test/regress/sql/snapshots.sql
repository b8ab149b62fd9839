-- Snapshots: save (newest kept), load, load with the events after it, bad input.
SET search_path = eventstore, public;
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'snap-1', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'Added', 'data', jsonb_build_object('qty', i)))
       FROM generate_series(1, 5) i)));

-- no snapshot yet: nothing to load, es_load_with_snapshot returns every event
SELECT count(*) FROM es_load_snapshot('snap-1');
SELECT is_snapshot, version, type, data FROM es_load_with_snapshot('snap-1');

-- save at version 3, then a newer one, then an older one (kept: 4)
SELECT * FROM es_snapshot('snap-1', 3, '{"total": 6}');
SELECT * FROM es_snapshot('snap-1', 4, '{"total": 10}');
SELECT * FROM es_snapshot('snap-1', 2, '{"total": 3}');
SELECT stream, kind, version, data, data_bin FROM es_load_snapshot('snap-1');
-- the same version again replaces the state (a corrected snapshot)
SELECT * FROM es_snapshot('snap-1', 4, '{"total": 10, "fixed": true}');
SELECT version, data FROM es_load_snapshot('snap-1');

-- the snapshot, then the events after it, in one query
SELECT is_snapshot, position IS NULL AS no_position, version, type, data
FROM es_load_with_snapshot('snap-1');
-- a page: the snapshot and at most max_count events
SELECT is_snapshot, version FROM es_load_with_snapshot('snap-1', max_count => 1);
-- a snapshot at the head: only the snapshot row
SELECT * FROM es_snapshot('snap-1', 5, '{"total": 15}');
SELECT is_snapshot, version, data FROM es_load_with_snapshot('snap-1');
-- the same with es_load_snapshot and es_load (LEFT JOIN keeps the snapshot when no event follows)
SELECT s.version AS snapshot_version, s.data AS state, e.version, e.data
FROM es_load_snapshot('snap-1') s
LEFT JOIN LATERAL es_load('snap-1', s.version + 1) e ON true;

-- kinds: each kind keeps its own newest snapshot; binary state
SELECT * FROM es_snapshot('snap-1', 2, kind => 'cart:v2', data_bin => '\x0102');
SELECT kind, version, data, data_bin FROM eventstore.snapshots WHERE stream = 'snap-1' ORDER BY kind;
SELECT is_snapshot, version, type, data, data_bin FROM es_load_with_snapshot('snap-1', 'cart:v2');
SELECT count(*) FROM es_load_snapshot('snap-1', 'cart:v9');
SELECT count(*) FROM es_load_with_snapshot('snap-1', 'cart:v9');

-- a snapshot in the transaction that appended the events
BEGIN;
SELECT version FROM es_append('snap-2', 'Added', '{"qty": 1}', 0);
SELECT * FROM es_snapshot('snap-2', 1, '{"total": 1}');
COMMIT;
-- rolled back with its transaction
BEGIN;
SELECT version FROM es_append('snap-2', 'Added', '{"qty": 2}', 1);
SELECT * FROM es_snapshot('snap-2', 2, '{"total": 3}');
ROLLBACK;
SELECT version, data FROM es_load_snapshot('snap-2');

-- typed and untyped parameters resolve to one function each
PREPARE p_snap_untyped(unknown, unknown, unknown) AS SELECT * FROM es_snapshot($1, $2, $3);
EXECUTE p_snap_untyped('snap-2', '1', '{"total": 1}');
PREPARE p_snap_typed(text, bigint, jsonb, text) AS SELECT * FROM es_snapshot($1, $2, $3, $4);
EXECUTE p_snap_typed('snap-2', 1, '{"total": 1}', 'cart:v2');
PREPARE p_load_snap(unknown, unknown) AS SELECT version FROM es_load_snapshot($1, $2);
EXECUTE p_load_snap('snap-2', 'cart:v2');
PREPARE p_load_with(unknown, unknown, unknown) AS SELECT version FROM es_load_with_snapshot($1, $2, $3);
EXECUTE p_load_with('snap-2', 'default', '10');

-- bad input: each with its SQLSTATE, and nothing changes
SELECT count(*) AS snapshots_before FROM eventstore.snapshots \gset
SELECT try($$SELECT es_snapshot(NULL, 1, '{}')$$);
SELECT try($$SELECT es_snapshot('', 1, '{}')$$);
SELECT try($$SELECT es_snapshot(repeat('x', 256), 1, '{}')$$);
SELECT try($$SELECT es_snapshot('snap-1', NULL, '{}')$$);
SELECT try($$SELECT es_snapshot('snap-1', 0, '{}')$$);
SELECT try($$SELECT es_snapshot('snap-1', -1, '{}')$$);
SELECT try($$SELECT es_snapshot('snap-1', -9223372036854775808, '{}')$$);
SELECT try($$SELECT es_snapshot('snap-1', 6, '{}')$$);
SELECT try($$SELECT es_snapshot('snap-1', 9223372036854775807, '{}')$$);
SELECT try($$SELECT es_snapshot('snap-404', 1, '{}')$$);
SELECT try($$SELECT es_snapshot('snap-1', 1, '{}', NULL)$$);
SELECT try($$SELECT es_snapshot('snap-1', 1, '{}', '')$$);
SELECT try($$SELECT es_snapshot('snap-1', 1, '{}', repeat('k', 256))$$);
SELECT try($$SELECT es_snapshot('snap-1', 1)$$);
SELECT try($$SELECT es_snapshot('snap-1', 1, NULL, 'k', NULL)$$);
SELECT try($$SELECT es_snapshot('snap-1', 1, '{}', data_bin => '\x00')$$);
SELECT try($$SELECT es_snapshot('snap-1', 1, '{bad json')$$);
SELECT try($$SELECT es_snapshot('snap-1', 'one', '{}')$$);
SELECT try($$SELECT es_snapshot('snap-1', 1.5, '{}')$$);
-- oversized state: the limit is eventstore.max_snapshot_size
SHOW eventstore.max_snapshot_size;
SET eventstore.max_snapshot_size = '1kB';
SELECT try($$SELECT es_snapshot('snap-1', 1, jsonb_build_object('s', repeat('x', 2000)))$$);
SELECT try($$SELECT es_snapshot('snap-1', 1, data_bin => convert_to(repeat('x', 1025), 'UTF8'))$$);
SELECT try($$SELECT es_snapshot('snap-1', 1, data_bin => convert_to(repeat('x', 1024), 'UTF8'))$$);
RESET eventstore.max_snapshot_size;
-- (the range the message ends with, "(1 .. 1048576)", gained units in 16: cut)
SELECT split_part(try($$SET eventstore.max_snapshot_size = 0$$), ' (', 1) AS try;
SELECT split_part(try($$SET eventstore.max_snapshot_size = '2GB'$$), ' (', 1) AS try;
-- the eventstore. prefix is reserved: a misspelt setting is an error
SELECT try($$SET eventstore.max_snapshot_sise = '1kB'$$);
-- the accepted 1024-byte state did not replace the newer snapshot
SELECT count(*) = :snapshots_before AS unchanged FROM eventstore.snapshots;
SELECT version, data FROM es_load_snapshot('snap-1');
-- loading
SELECT try($$SELECT * FROM es_load_snapshot(NULL)$$);
SELECT try($$SELECT * FROM es_load_snapshot('')$$);
SELECT try($$SELECT * FROM es_load_snapshot(repeat('x', 256))$$);
SELECT try($$SELECT * FROM es_load_snapshot('snap-1', NULL)$$);
SELECT try($$SELECT * FROM es_load_snapshot('snap-1', '')$$);
SELECT try($$SELECT * FROM es_load_with_snapshot(NULL)$$);
SELECT try($$SELECT * FROM es_load_with_snapshot('snap-1', NULL)$$);
SELECT try($$SELECT * FROM es_load_with_snapshot('snap-1', 'default', 0)$$);
SELECT try($$SELECT * FROM es_load_with_snapshot('snap-1', 'default', NULL)$$);
SELECT try($$SELECT * FROM es_load_with_snapshot('snap-1', 'default', 100001)$$);

-- the table is written only through the functions
CREATE ROLE snap_app;
SET ROLE snap_app;
SELECT try($$SELECT * FROM eventstore.snapshots$$);
SELECT try($$SELECT * FROM eventstore.es_load_snapshot('snap-1')$$);
RESET ROLE;
SELECT es_grant_writer('snap_app');
SET ROLE snap_app;
SELECT * FROM eventstore.es_snapshot('snap-2', 1, '{"total": 1}');
SELECT version FROM eventstore.es_load_snapshot('snap-2');
SELECT try($$SELECT * FROM eventstore.snapshots$$);
RESET ROLE;
-- pg_dump keeps the snapshots
SELECT 'eventstore.snapshots'::regclass = ANY (extconfig) AS dumped
FROM pg_extension WHERE extname = 'eventstore';
DROP OWNED BY snap_app;
DROP ROLE snap_app;
