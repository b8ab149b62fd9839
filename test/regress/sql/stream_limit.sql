-- A multi-stream call may name at most eventstore.max_streams_per_call
-- streams (default 1,000): each holds a lock until the end of the
-- transaction, in the lock table all sessions share, and 10,000 of them
-- fail with 53200 "out of shared memory" at the default
-- max_locks_per_transaction (issue 11).  The limit is checked before any
-- lock: 53400, with a hint naming both settings, nothing stored.
SET search_path = eventstore, public;
-- (the setting exists once the library is loaded: without preload, at the first call)
SELECT eventstore.es_stream_version('lim-none') AS loaded;
SHOW eventstore.max_streams_per_call;
CREATE TEMP TABLE calls AS
SELECT n, (SELECT jsonb_agg(jsonb_build_object('stream', 'lim' || n || '-' || i,
                                                'events', jsonb_build_array(jsonb_build_object('type', 'T'))))
             FROM generate_series(1, n) i) AS batch
  FROM (VALUES (1000), (1001), (10000)) v(n);
-- at the limit: works
SELECT count(*) AS appended FROM calls, LATERAL es_append(batch) WHERE n = 1000;
-- one more, and the issue's 10,000: refused up front
SELECT n, try(format('SELECT es_append(%L)', batch)) FROM calls WHERE n > 1000 ORDER BY n;
SELECT es_append(batch) FROM calls WHERE n = 1001;
SELECT count(*) AS stored FROM events WHERE stream LIKE 'lim1001-%' OR stream LIKE 'lim10000-%';
-- a superuser can raise it for a session (and then needs the lock table)
SET eventstore.max_streams_per_call = 1001;
SELECT count(*) AS appended FROM calls, LATERAL es_append(batch) WHERE n = 1001;
RESET eventstore.max_streams_per_call;
