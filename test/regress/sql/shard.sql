-- Scale-out by stream (issue 16): the routing hash es_shard_of, a store
-- told its shard identity, and es_append refusing streams of other shards
-- (ES020) and calls that span shards (ES021) before any lock or write.
SET search_path = eventstore, public;

-- The routing hash, pinned: FNV-1a 64 of the UTF-8 bytes, mixed by
-- MurmurHash3's finalizer, modulo the count.  These values must never change (every router, proxy
-- and subscriber of a sharded store depends on them).
SELECT s, es_shard_of(s, 4) AS by_stream_4, es_shard_of(s, 4, 'category') AS by_category_4,
       es_shard_of(s, 16) AS by_stream_16, es_shard_of(s, 1000) AS by_stream_1000,
       es_shard_of(s, 1) AS one
  FROM (VALUES ('order-1'), ('order-2'), ('order-42'), ('account-7'), ('user-1'),
               ('lonely'), ('überweisung-1'), ('注文-1'), ('a-b-c')) v(s);
-- a category's streams share its shard; the category alone hashes the same
SELECT count(DISTINCT es_shard_of('order-' || i, 8, 'category')) AS shards_of_order,
       min(es_shard_of('order-' || i, 8, 'category')) = es_shard_of('order', 8) AS same_as_name
  FROM generate_series(1, 200) i;
-- by stream, 4,000 streams spread over 4 shards
SELECT es_shard_of('s-' || i, 4) AS shard, count(*) > 900 AS fair
  FROM generate_series(1, 4000) i GROUP BY 1 ORDER BY 1;
-- independent of the consumer-group hash: the streams of one shard spread
-- over every member of a group of the same size
SELECT count(DISTINCT es_stream_hash('s-' || i) % 4) AS members
  FROM generate_series(1, 4000) i WHERE es_shard_of('s-' || i, 4) = 2;
-- bad arguments
SELECT try($$SELECT es_shard_of(NULL, 4)$$);
SELECT try($$SELECT es_shard_of('', 4)$$);
SELECT try($$SELECT es_shard_of('order-1', 0)$$);
SELECT try($$SELECT es_shard_of('order-1', NULL)$$);
SELECT try($$SELECT es_shard_of('order-1', 4, 'tenant')$$);
SELECT try($$SELECT es_shard_of('order-1', 4, NULL)$$);
-- the router's check of a batch
SELECT es_shard_of_batch('{"stream": "order-1", "events": []}', 4);
SELECT es_shard_of_batch('[{"stream": "order-1"}, {"stream": "order-2"}]', 4, 'category');
SELECT try_detail($$SELECT es_shard_of_batch('[{"stream": "order-1"}, {"stream": "order-2"}]', 4)$$);
SELECT try($$SELECT es_shard_of_batch('[]', 4)$$);
SELECT try($$SELECT es_shard_of_batch('[{"events": []}]', 4)$$);
-- a malformed batch is 22023, as es_append answers it (issue 21, item 11)
SELECT try($$SELECT es_shard_of_batch('null'::jsonb, 2)$$);
SELECT try($$SELECT es_shard_of_batch('5', 2)$$);
SELECT try($$SELECT es_shard_of_batch('[null]', 2)$$);
SELECT try($$SELECT es_shard_of_batch('[{"stream": "a-1"}, 7]', 2)$$);
SELECT try_detail($$SELECT es_shard_of_batch('{"stream": 5}', 2)$$);
SELECT try($$SELECT es_shard_of_batch('{"stream": null}', 2)$$);
SELECT try($$SELECT es_shard_of_batch(NULL, 2)$$);
SELECT try($$SELECT es_append('null'::jsonb)$$);
SELECT try($$SELECT es_append('{"stream": 5, "events": [{"type": "T"}]}')$$);

-- A store that holds streams of other shards cannot become a shard (the
-- stream named depends on what the other tests stored).
SELECT split_part(try($$SELECT es_set_shard(0, 4)$$), ':', 1) AS sqlstate;
SELECT count(*) AS config_rows FROM es_shard_info();

-- A fresh store as shard 1 of 4, by stream.
SELECT current_database() AS regress_db \gset
CREATE DATABASE es_shard_regress;
\c es_shard_regress
SET client_min_messages = error;
CREATE EXTENSION eventstore;
RESET client_min_messages;
SET search_path = eventstore, public;
-- Errors as psql prints them, then their SQLSTATE.
\set VERBOSITY default
SELECT es_set_shard(4, 4);
\echo :LAST_ERROR_SQLSTATE
SELECT es_set_shard(-1, 4);
\echo :LAST_ERROR_SQLSTATE
SELECT es_set_shard(0, 4, 'tenant');
\echo :LAST_ERROR_SQLSTATE
SELECT es_set_shard(1, 4);
SELECT shard, shard_count, shard_by FROM es_shard_info();
-- order-1 and user-1 are shard 1's, order-42 shard 2's, order-2 shard 3's
SELECT s, es_shard_of(s, 4) FROM (VALUES ('order-1'), ('user-1'), ('order-42'), ('order-2')) v(s);
SELECT stream, version FROM es_append('order-1', 'Placed', '{}');
SELECT es_append('order-2', 'Placed', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT es_append('{"stream": "order-42", "events": [{"type": "T"}]}');
\echo :LAST_ERROR_SQLSTATE
-- a multi-stream call across other shards, and one that also has a stream
-- of this shard: both refused whole, whatever the order of the streams
SELECT es_append('[{"stream": "order-2", "events": [{"type": "T"}]},
                 {"stream": "order-42", "events": [{"type": "T"}]}]');
\echo :LAST_ERROR_SQLSTATE
SELECT es_append('[{"stream": "order-2", "events": [{"type": "T"}]},
                 {"stream": "order-1", "events": [{"type": "T"}]}]');
\echo :LAST_ERROR_SQLSTATE
SELECT es_append('[{"stream": "order-1", "events": [{"type": "T"}]},
                 {"stream": "order-2", "events": [{"type": "T"}]}]');
\echo :LAST_ERROR_SQLSTATE
SELECT stream, version FROM es_append('[{"stream": "order-1", "events": [{"type": "T"}]},
                                        {"stream": "user-1", "events": [{"type": "T"}]}]');
SELECT stream, version FROM events ORDER BY position;
-- another identity is refused while streams of this one are stored: by
-- category, order-1 would be shard 2's and user-1 shard 3's
SELECT es_shard_of('order-1', 4, 'category') AS order_by_category,
       es_shard_of('user-1', 4, 'category') AS user_by_category;
SELECT es_set_shard(2, 4);
\echo :LAST_ERROR_SQLSTATE
SELECT es_set_shard(1, 4, 'category');
\echo :LAST_ERROR_SQLSTATE
SELECT shard, shard_count, shard_by FROM es_shard_info();
-- a change reaches this session's next statement, and a rollback undoes it
BEGIN;
SELECT es_unset_shard();
SELECT stream, version FROM es_append('order-2', 'Placed', '{}');
ROLLBACK;
SELECT es_append('order-2', 'Placed', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT es_unset_shard();
SELECT count(*) AS config_rows FROM es_shard_info();
SELECT stream, version FROM es_append('order-2', 'Placed', '{}');
\c :regress_db
DROP DATABASE es_shard_regress;
