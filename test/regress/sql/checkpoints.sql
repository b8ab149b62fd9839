-- Checkpoints: forward only, per-stream handlers, lag, locks, bad input.
SET search_path = eventstore, public;
-- A checkpoint never goes beyond what exists (ES009, below): some events first.
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'cp-fill-1', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'Filled')) FROM generate_series(1, 100))));
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'cp-order-1', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'Placed')) FROM generate_series(1, 3))));

-- unknown handler: 0
SELECT es_handler_position('cp-proj');
-- first advance creates the checkpoint; older or equal positions are kept
SELECT * FROM es_advance_position('cp-proj', 10);
SELECT * FROM es_advance_position('cp-proj', 4);
SELECT * FROM es_advance_position('cp-proj', 10);
SELECT * FROM es_advance_position('cp-proj', 11);
SELECT es_handler_position('cp-proj');
-- position 0 is a valid start (nothing processed yet)
SELECT * FROM es_advance_position('cp-zero', 0);
SELECT es_handler_position('cp-zero');
-- a rolled-back advance leaves no trace
BEGIN;
SELECT * FROM es_advance_position('cp-proj', 50);
ROLLBACK;
SELECT es_handler_position('cp-proj');

-- per-stream handlers: position is a stream version; NULL means the feed
-- ('' is an empty stream name, refused: test/regress/sql/names.sql)
SELECT * FROM es_advance_position('cp-proj', 3, 'cp-order-1');
SELECT * FROM es_advance_position('cp-proj', 2, 'cp-order-1');
SELECT es_handler_position('cp-proj', 'cp-order-1'), es_handler_position('cp-proj', 'cp-order-2');
SELECT es_handler_position('cp-proj'), es_handler_position('cp-proj', NULL);
SELECT * FROM es_advance_position('cp-proj', 12, NULL);
SELECT handler, stream, position FROM eventstore.checkpoints WHERE handler LIKE 'cp-%' ORDER BY 1, 2;

-- lag: feed handlers against the feed head, per-stream handlers against the stream version
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'cp-order-1', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'Placed')) FROM generate_series(1, 5))));
SELECT max(position) AS head FROM eventstore.events \gset
SELECT advanced FROM es_advance_position('cp-lag', :head - 3);
SELECT handler, stream, position = :head - 3 AS at_checkpoint, head = :head AS at_head, lag
FROM handler_lag WHERE handler = 'cp-lag';
SELECT handler, stream, position, head, lag FROM handler_lag WHERE stream = 'cp-order-1';
-- a checkpoint beyond the head is refused (ES009): it could never move back
SELECT try($$SELECT es_advance_position('cp-ahead', 1000000)$$);
SELECT try_detail($$SELECT es_advance_position('cp-ahead', 9, 'cp-order-1')$$);
SELECT try_detail($$SELECT es_advance_position('cp-ahead', 1, 'cp-no-such-stream')$$);
SELECT count(*) FROM handler_lag WHERE handler = 'cp-ahead';
-- the head is the highest allocated position: the caller's own appends count
BEGIN;
SELECT max(position) AS own FROM es_append('cp-own-1', 'Placed') \gset
SELECT advanced FROM es_advance_position('cp-own', :own);
ROLLBACK;

-- es_lock_handler returns the checkpoint; its holder may take it again (other
-- transactions wait or get NULL: test/isolation/specs/checkpoint_race.spec)
BEGIN;
SELECT es_lock_handler('cp-proj');
SELECT es_lock_handler('cp-proj', wait => false);
SELECT es_lock_handler('cp-new');
SELECT es_lock_handler('cp-proj', 'cp-order-1');
COMMIT;
SELECT es_lock_handler('cp-proj', NULL, false);

-- typed and untyped parameters resolve to one function each
PREPARE p_adv_untyped(unknown, unknown) AS SELECT * FROM es_advance_position($1, $2);
EXECUTE p_adv_untyped('cp-proj', '13');
PREPARE p_adv_typed(text, bigint, text) AS SELECT * FROM es_advance_position($1, $2, $3);
EXECUTE p_adv_typed('cp-proj', 4, 'cp-order-1');
PREPARE p_pos_untyped(unknown, unknown) AS SELECT es_handler_position($1, $2);
EXECUTE p_pos_untyped('cp-proj', 'cp-order-1');
PREPARE p_lock_untyped(unknown, unknown, unknown) AS SELECT es_lock_handler($1, $2, $3);
EXECUTE p_lock_untyped('cp-proj', NULL, 'true');

-- bad input: each with its SQLSTATE, and nothing changes
SELECT count(*) AS rows_before, sum(position) AS sum_before FROM eventstore.checkpoints \gset
SELECT try($$SELECT es_advance_position(NULL, 1)$$);
SELECT try($$SELECT es_advance_position('', 1)$$);
SELECT try($$SELECT es_advance_position(repeat('h', 256), 1)$$);
SELECT try($$SELECT es_advance_position('cp-proj', NULL)$$);
SELECT try($$SELECT es_advance_position('cp-proj', -1)$$);
SELECT try($$SELECT es_advance_position('cp-proj', -9223372036854775808)$$);
SELECT try($$SELECT es_advance_position('cp-proj', 1, repeat('s', 256))$$);
SELECT try($$SELECT es_advance_position('cp-proj', 'ten')$$);
SELECT try($$SELECT es_advance_position('cp-proj', 99999999999999999999)$$);
SELECT try($$SELECT es_handler_position(NULL)$$);
SELECT try($$SELECT es_handler_position('')$$);
SELECT try($$SELECT es_handler_position(repeat('h', 256))$$);
SELECT try($$SELECT es_handler_position('cp-proj', repeat('s', 256))$$);
SELECT try($$SELECT es_lock_handler(NULL)$$);
SELECT try($$SELECT es_lock_handler('')$$);
SELECT try($$SELECT es_lock_handler('cp-proj', NULL, NULL)$$);
SELECT try($$SELECT es_lock_handler('cp-proj', repeat('s', 256))$$);
SELECT count(*) = :rows_before AND sum(position) = :sum_before AS unchanged
FROM eventstore.checkpoints;
-- the table refuses what the functions refuse
SELECT try($$INSERT INTO eventstore.checkpoints VALUES ('cp-x', '', -1, now())$$);

-- privileges: readers read, writers advance; neither touches the table
CREATE ROLE cp_reader;
CREATE ROLE cp_writer;
SELECT es_grant_reader('cp_reader');
SELECT es_grant_writer('cp_writer');
SET ROLE cp_reader;
SELECT eventstore.es_handler_position('cp-proj');
SELECT count(*) > 0 AS sees_lag FROM eventstore.handler_lag;
SELECT try($$SELECT eventstore.es_advance_position('cp-proj', 100)$$);
SELECT try($$SELECT eventstore.es_lock_handler('cp-proj')$$);
SELECT try($$SELECT * FROM eventstore.checkpoints$$);
RESET ROLE;
SET ROLE cp_writer;
SELECT * FROM eventstore.es_advance_position('cp-proj', 100);
SELECT eventstore.es_lock_handler('cp-proj');
SELECT try($$UPDATE eventstore.checkpoints SET position = 0$$);
RESET ROLE;
-- pg_dump keeps the checkpoints
SELECT 'eventstore.checkpoints'::regclass = ANY (extconfig) AS dumped
FROM pg_extension WHERE extname = 'eventstore';
DROP OWNED BY cp_reader;
DROP OWNED BY cp_writer;
DROP ROLE cp_reader;
DROP ROLE cp_writer;
