-- Reads that stream (src/stream_read.c): the read functions run as a custom
-- scan that hands each row up as it is read.  The rows are the function's;
-- what changes is the plan, and the cases that must stay function scans.
SET search_path = eventstore, public;
SELECT count(*) FROM es_append('{"stream": "sr-1", "events": [{"type": "A"}, {"type": "B"}, {"type": "C"}]}');
SELECT count(*) FROM es_append('{"stream": "sr-2", "events": [{"type": "A"}]}');

-- The read functions become the custom scan.
EXPLAIN (COSTS OFF) SELECT * FROM es_load('sr-1');
EXPLAIN (COSTS OFF) SELECT position FROM es_load_feed(0) WHERE type = 'A';
EXPLAIN (COSTS OFF) SELECT count(*) FROM es_load_correlated('x');
-- ... but not WITH ORDINALITY, LATERAL, or a reference to the whole row.
EXPLAIN (COSTS OFF) SELECT * FROM es_load('sr-1') WITH ORDINALITY;
EXPLAIN (COSTS OFF) SELECT e.version FROM (VALUES ('sr-1'), ('sr-2')) v(s), LATERAL es_load(v.s) e;
SELECT v.s, e.version FROM (VALUES ('sr-1'), ('sr-2')) v(s), LATERAL es_load(v.s) e;
EXPLAIN (COSTS OFF) SELECT e FROM es_load('sr-1') e;

-- The same rows, filters and projections as before.
SELECT version, type FROM es_load('sr-1');
SELECT version, type FROM es_load('sr-1', 2, 1);
SELECT version FROM es_load('sr-1', backward => true);
SELECT version, type FROM es_load('sr-1') WHERE type <> 'B';
SELECT stream, version FROM es_load_feed((SELECT min(position) - 1 FROM events WHERE stream = 'sr-1'), 2);
SELECT count(*) FROM es_load('sr-none');
SELECT s, (SELECT string_agg(version::text, ',') FROM es_load(s)) FROM (VALUES ('sr-1'), ('sr-2'), ('sr-none')) v(s);
-- a scan read again without new arguments (the inner side of a join) returns the same rows
SELECT count(*) FROM (VALUES (1), (2), (3)) v(n), es_load('sr-1') e WHERE e.version >= v.n;
SELECT a.version, b.version FROM es_load('sr-1') a JOIN es_load('sr-1') b ON b.version = a.version + 1 ORDER BY 1;
SELECT version FROM es_load('sr-1') LIMIT 1;
-- a cursor reads row by row
BEGIN;
DECLARE c CURSOR FOR SELECT version FROM es_load('sr-1');
FETCH 1 FROM c;
FETCH 1 FROM c;
FETCH 5 FROM c;
COMMIT;
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT version FROM es_load('sr-1');
FETCH 2 FROM c;
FETCH BACKWARD 1 FROM c;
COMMIT;
-- argument checks and the check of where a read starts still come first,
-- even when only one row is wanted
SELECT try($$SELECT * FROM es_load('sr-1', -1) LIMIT 1$$);
SELECT count(*) FROM es_append('{"stream": "sr-gap", "events": [{"type": "T"}, {"type": "T"}, {"type": "T"}]}');
SELECT es_set_retention('sr-gap', truncate_before => 3, reason => 'stream read test');
SELECT try($$SELECT version FROM es_load('sr-gap', 1) LIMIT 1$$);
SELECT version FROM es_load('sr-gap', 3) LIMIT 1;
