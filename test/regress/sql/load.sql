-- es_load for streams: forward, backward, pages.
SET search_path = eventstore, public;
SELECT count(*) FROM es_append(jsonb_build_object('stream', 'page-1', 'events',
    (SELECT jsonb_agg(jsonb_build_object('type', 'E', 'data', jsonb_build_object('i', i)))
       FROM generate_series(1, 25) i)));
SELECT version, data->>'i' AS i FROM es_load('page-1', max_count => 3);
SELECT version FROM es_load('page-1', 10, 3);
SELECT version FROM es_load('page-1', 24);
SELECT version FROM es_load('page-1', 26);
SELECT version FROM es_load('page-1', backward => true, max_count => 3);
SELECT version FROM es_load('page-1', 5, 3, true);
SELECT count(*) FROM es_load('page-1');
SELECT count(*) FROM es_load('page-404');
-- forward pages cover the stream exactly once
WITH RECURSIVE pages(last, n) AS (
    SELECT 0::bigint, 0
  UNION ALL
    SELECT (SELECT max(version) FROM es_load('page-1', last + 1, 7)), n + 1
    FROM pages WHERE last IS NOT NULL AND n < 10)
SELECT array_agg(last ORDER BY n) FROM pages;
-- typed and untyped parameters resolve to one function
PREPARE p_untyped(unknown, unknown, unknown) AS SELECT version FROM es_append($1, $2, $3);
EXECUTE p_untyped('typed-1', 'T', '{"a": 1}');
PREPARE p_typed(text, text, jsonb, bigint) AS SELECT version FROM es_append($1, $2, $3, $4);
EXECUTE p_typed('typed-1', 'T', '{"a": 2}', 1);
PREPARE p_batch(jsonb) AS SELECT version FROM es_append($1);
EXECUTE p_batch('{"stream": "typed-1", "events": [{"type": "T"}]}');
PREPARE p_load(unknown, unknown) AS SELECT version FROM es_load($1, $2);
EXECUTE p_load('typed-1', '2');
