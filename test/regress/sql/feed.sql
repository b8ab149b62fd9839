-- The global feed: es_load(after_position ...), filters, consumer groups,
-- es_feed_head, es_wait, es_stream_hash, bad inputs.
SET search_path = eventstore, public;
-- Other regression files ran before: read relative to the current head.
SELECT es_feed_head() AS h0 \gset
SELECT count(*) FROM es_append(jsonb_build_array(
    jsonb_build_object('stream', 'fcart-1', 'events', jsonb_build_array(
        jsonb_build_object('type', 'Added'), jsonb_build_object('type', 'Removed'))),
    jsonb_build_object('stream', 'fuser-1', 'events', jsonb_build_array(
        jsonb_build_object('type', 'Registered')))));
SELECT count(*) FROM es_append('fcart-2', 'Added', '{"n": 1}');
SELECT count(*) FROM es_append('fcart-2', 'Checkout');
SELECT count(*) FROM es_append('fuser-2', 'Registered');
SELECT es_feed_head() - :h0 AS new_events;
-- all events after h0, in position order
SELECT position - :h0 AS p, stream, version, type FROM es_load(after_position => :h0);
-- the typed first argument picks the feed form without names
SELECT count(*) FROM es_load(:h0::bigint, 2);
SELECT count(*) FROM es_load(:h0);
-- pages cover the feed exactly once
WITH RECURSIVE pages(last, n) AS (
    SELECT :h0::bigint, 0
  UNION ALL
    SELECT (SELECT max(position) FROM es_load(after_position => last, max_count => 2)), n + 1
    FROM pages WHERE last IS NOT NULL AND n < 10)
SELECT array_agg(last - :h0 ORDER BY n) FROM pages;
-- to_position bounds a read; with_payload => false leaves the payloads out
SELECT position - :h0 AS p, stream FROM es_load(after_position => :h0, to_position => :h0 + 2);
SELECT count(*) FROM es_load(after_position => :h0, to_position => :h0);
SELECT position - :h0 AS p, data, data_bin, metadata FROM es_load(:h0, 10, :h0 + 5, false, category => 'fcart') WHERE stream = 'fcart-2';
SELECT position - :h0 AS p, data FROM es_load(after_position => :h0, category => 'fcart') WHERE stream = 'fcart-2';
-- category and types filters
SELECT position - :h0 AS p, stream, type FROM es_load(after_position => :h0, category => 'fcart');
SELECT position - :h0 AS p, stream, type FROM es_load(after_position => :h0, category => 'fcart', max_count => 2);
SELECT position - :h0 AS p, stream, type FROM es_load(after_position => :h0, types => ARRAY['Added', 'Registered']);
SELECT position - :h0 AS p, stream, type FROM es_load(after_position => :h0, category => 'fuser', types => ARRAY['Registered']);
SELECT count(*) FROM es_load(after_position => :h0, category => 'nosuch');
SELECT count(*) FROM es_load(after_position => :h0, types => ARRAY['NoSuchType']);
-- consumer groups: each stream goes to exactly one member, whole
SELECT s.stream, count(DISTINCT g) AS members
FROM generate_series(0, 2) g,
     es_load(after_position => :h0, group_member => g, group_size => 3) s
GROUP BY s.stream ORDER BY s.stream;
SELECT count(*) FROM generate_series(0, 2) g,
     es_load(after_position => :h0, group_member => g, group_size => 3);
SELECT bool_and(es_stream_hash(stream) % 3 = g) AS right_member
FROM generate_series(0, 2) g,
     es_load(after_position => :h0, group_member => g, group_size => 3);
SELECT count(*) FROM es_load(after_position => :h0, group_member => 0, group_size => 1);
-- the hash is FNV-1a 64 of the UTF-8 bytes with the top bit cleared (values
-- computed independently); stable across platforms and versions
SELECT es_stream_hash('') AS empty, es_stream_hash('a') AS a,
       es_stream_hash('order-1') AS order_1, es_stream_hash('ünï-1') AS utf8;
SELECT es_stream_hash(NULL) IS NULL AS strict;
-- head and wait
SELECT es_feed_head() >= :h0 + 6 AS head_moved;
SELECT es_wait(:h0, 0) AS has_events, es_wait(es_feed_head(), 50) AS timed_out;
-- a transaction that appended does not see its own events in the feed
BEGIN;
SELECT count(*) FROM es_append('fcart-3', 'Added');
SELECT count(*) FROM es_load(after_position => :h0 + 6);
SELECT es_feed_head() = :h0 + 6 AS head_held;
ROLLBACK;
-- bad inputs
SELECT try($$SELECT * FROM es_load(after_position => -1)$$);
SELECT try($$SELECT * FROM es_load(after_position => NULL)$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, max_count => 0)$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, max_count => 100001)$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, max_count => NULL)$$);
-- every call shape of the feed refuses a NULL page size (issue 21, item 11)
SELECT try($$SELECT * FROM es_load(0::bigint, NULL)$$);
SELECT try($$SELECT * FROM es_load_feed(0, NULL)$$);
SELECT try($$SELECT * FROM es_load_feed(after_position => 0, max_count => NULL, category => 'fcart')$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, to_position => -1)$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, with_payload => NULL)$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, category => '')$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, category => 'fcart-1')$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, category => repeat('x', 256))$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, types => '{}')$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, types => ARRAY['A', NULL])$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, types => ARRAY[''])$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, types => '{{A},{B}}')$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, group_member => 0)$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, group_size => 2)$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, group_member => 2, group_size => 2)$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, group_member => -1, group_size => 2)$$);
SELECT try($$SELECT * FROM es_load(after_position => 0, group_member => 0, group_size => 0)$$);
SELECT try($$SELECT es_wait(-1)$$);
SELECT try($$SELECT es_wait(NULL)$$);
SELECT try($$SELECT es_wait(0, -5)$$);
SELECT try($$SELECT es_wait(0, NULL)$$);
-- one function for each common call, typed or untyped (no "not unique")
PREPARE f_untyped1(unknown) AS SELECT count(*) FROM es_load($1);
EXECUTE f_untyped1('fcart-2');
PREPARE f_untyped2(unknown, unknown) AS SELECT count(*) FROM es_load($1, $2);
EXECUTE f_untyped2('fcart-2', '2');
PREPARE f_untyped3(unknown, unknown, unknown) AS SELECT count(*) FROM es_load($1, $2, $3);
EXECUTE f_untyped3('fcart-2', '1', '1');
PREPARE f_untyped4(unknown, unknown, unknown, unknown) AS SELECT count(*) FROM es_load($1, $2, $3, $4);
EXECUTE f_untyped4('fcart-2', NULL, '5', 'true');
PREPARE f_untyped_named(unknown, unknown, unknown, unknown) AS
    SELECT count(*) FROM es_load(after_position => $1, max_count => $2, category => $3, group_member => $4, group_size => 1);
EXECUTE f_untyped_named(:h0, '10', 'fcart', '0');
PREPARE f_named(unknown, unknown) AS SELECT count(*) FROM es_load(after_position => $1, max_count => $2);
EXECUTE f_named(:h0, '3');
PREPARE f_cast(unknown) AS SELECT count(*) FROM es_load($1::bigint);
EXECUTE f_cast(:h0);
PREPARE f_typed(bigint, integer) AS SELECT count(*) FROM es_load($1, $2);
EXECUTE f_typed(:h0, 4);
SELECT count(*) FROM es_load('fcart-2', 1);
SELECT count(*) FROM es_load('fcart-2', 1, 5);
SELECT count(*) FROM es_load('fcart-2', max_count => 1);
SELECT count(*) FROM eventstore.es_load('fcart-2', 1, NULL);  -- NULL: the whole stream
SELECT count(*) FROM es_load('fcart-2', NULL, 1, true);
SELECT count(*) FROM es_load(:h0, 5);
-- plan shapes: the statements src/feed.c runs, planned as generic plans
-- with its settings, walk an index in position order and stop at the limit
-- (a category page walks the (category, position) index)
BEGIN;
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SET LOCAL enable_sort = off;
SET LOCAL plan_cache_mode = force_generic_plan;
PREPARE all_page(bigint, bigint, bigint) AS
SELECT position, stream, version, event_id, type, data, data_bin, metadata, created_at FROM eventstore.events WHERE position OPERATOR(pg_catalog.>) $1 AND position OPERATOR(pg_catalog.<=) $2 ORDER BY position LIMIT $3;
EXPLAIN (COSTS OFF) EXECUTE all_page(0, 10, 5);
PREPARE category_page(bigint, bigint, bigint, text, text[], bigint, bigint) AS
SELECT position, stream, version, event_id, type, data, data_bin, metadata, created_at FROM eventstore.events WHERE category OPERATOR(pg_catalog.>=) $4 AND category OPERATOR(pg_catalog.<=) $4 AND position OPERATOR(pg_catalog.>) $1 AND position OPERATOR(pg_catalog.<=) $2 AND type OPERATOR(pg_catalog.=) ANY ($5) AND eventstore.es_stream_hash(stream) OPERATOR(pg_catalog.%) $6 OPERATOR(pg_catalog.=) $7 ORDER BY category, position LIMIT $3;
EXPLAIN (COSTS OFF) EXECUTE category_page(0, 10, 5, 'fcart', '{Added}', 3, 1);
ROLLBACK;
DEALLOCATE ALL;
-- es_load_feed: the feed form under a name of its own; an untyped first
-- argument (a quoted literal here, as node-postgres sends parameters) reads
-- the feed, where es_load would read the stream named '0'.
SELECT (SELECT count(*) FROM es_load_feed('0', '3')) AS feed_page,
       (SELECT count(*) FROM es_load('0', '3')) AS stream_named_0;
SELECT (SELECT array_agg(position ORDER BY position) FROM es_load_feed(after_position => :h0, max_count => 3))
     = (SELECT array_agg(position ORDER BY position) FROM es_load(after_position => :h0, max_count => 3)) AS same_page;
