-- The "SQL baseline" of the benchmark: the optimistic append that event
-- stores written in SQL typically use (compare Message DB's write_message,
-- Marten's append functions), in PL/pgSQL, against a table of the same shape
-- and indexes as eventstore.events:
--   1. take a transaction-level advisory lock on a hash of the stream name,
--   2. read max(version) of the stream (a new snapshot per statement in READ
--      COMMITTED, taken after the lock, so it sees every committed append),
--   3. check the expected version, 4. insert with position from a sequence;
--   the UNIQUE (stream, version) constraint is the last line of defence.
-- Loaded by bench/run.sh into every benchmark database; not part of the
-- extension.

CREATE TABLE bench.sql_events (LIKE eventstore.events INCLUDING ALL);
CREATE SEQUENCE bench.sql_events_position_seq OWNED BY bench.sql_events.position;
COMMENT ON TABLE bench.sql_events IS 'Benchmark: events written by the PL/pgSQL baseline.';

-- One event, like es_append(stream, type, data, expected_version, metadata).
CREATE FUNCTION bench.sql_append(p_stream text, p_type text, p_data jsonb,
                                 p_expected bigint DEFAULT NULL, p_metadata jsonb DEFAULT NULL)
RETURNS TABLE (stream text, version bigint, "position" bigint, event_id uuid)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    cur bigint;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(p_stream, 0));
    SELECT max(e.version) INTO cur FROM bench.sql_events e WHERE e.stream = p_stream;
    cur := coalesce(cur, 0);
    IF p_expected IS NOT NULL AND p_expected <> cur THEN
        RAISE EXCEPTION 'wrong expected version for stream "%"', p_stream
            USING ERRCODE = 'ES001',
                  DETAIL = format('Expected version %s, but the stream is at version %s.', p_expected, cur);
    END IF;
    RETURN QUERY
    INSERT INTO bench.sql_events AS e (position, stream, version, event_id, type, category,
                                       data, metadata, created_at)
    VALUES (nextval('bench.sql_events_position_seq'), p_stream, cur + 1, gen_random_uuid(), p_type,
            split_part(p_stream, '-', 1), p_data, p_metadata, now())
    RETURNING e.stream, e.version, e.position, e.event_id;
END
$$;
COMMENT ON FUNCTION bench.sql_append(text, text, jsonb, bigint, jsonb) IS
    'Benchmark baseline: optimistic single-event append in PL/pgSQL.';

-- The same JSON batch as es_append(jsonb): one stream object or an array of
-- them; streams are locked in hash order (no deadlocks), all or nothing.
CREATE FUNCTION bench.sql_append_batch(batch jsonb)
RETURNS TABLE (stream text, version bigint, "position" bigint, event_id uuid)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    entry jsonb;
    s text;
    cur bigint;
    expected bigint;
BEGIN
    FOR entry IN
        SELECT x FROM jsonb_array_elements(CASE WHEN jsonb_typeof(batch) = 'array'
                                                THEN batch ELSE jsonb_build_array(batch) END) AS x
        ORDER BY pg_catalog.hashtextextended(x->>'stream', 0)
    LOOP
        s := entry->>'stream';
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(s, 0));
        SELECT max(e.version) INTO cur FROM bench.sql_events e WHERE e.stream = s;
        cur := coalesce(cur, 0);
        expected := (entry->>'expected_version')::bigint;
        IF expected IS NOT NULL AND expected <> cur THEN
            RAISE EXCEPTION 'wrong expected version for stream "%"', s
                USING ERRCODE = 'ES001',
                      DETAIL = format('Expected version %s, but the stream is at version %s.', expected, cur);
        END IF;
        RETURN QUERY
        INSERT INTO bench.sql_events AS e (position, stream, version, event_id, type, category,
                                           data, metadata, created_at)
        SELECT nextval('bench.sql_events_position_seq'), s, cur + t.o, gen_random_uuid(), t.ev->>'type',
               split_part(s, '-', 1), t.ev->'data', t.ev->'metadata', now()
        FROM jsonb_array_elements(entry->'events') WITH ORDINALITY AS t(ev, o)
        RETURNING e.stream, e.version, e.position, e.event_id;
    END LOOP;
END
$$;
COMMENT ON FUNCTION bench.sql_append_batch(jsonb) IS
    'Benchmark baseline: one- or multi-stream batch append in PL/pgSQL, same JSON as es_append(jsonb).';

CREATE FUNCTION bench.sql_stream_version(p_stream text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(e.version), 0) FROM bench.sql_events e WHERE e.stream = p_stream
$$;
COMMENT ON FUNCTION bench.sql_stream_version(text) IS 'Benchmark baseline: current version of a stream.';

-- Hot-stream workload: a version conflict is an expected outcome there, but
-- pgbench aborts a client on any error, so both contenders are called
-- through the same wrapper that turns ES001 into 0 (one subtransaction each).
CREATE FUNCTION bench.try_sql_append(p_stream text, p_type text, p_data jsonb,
                                     p_expected bigint, p_metadata jsonb)
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    PERFORM * FROM bench.sql_append(p_stream, p_type, p_data, p_expected, p_metadata);
    RETURN 1;
EXCEPTION WHEN SQLSTATE 'ES001' THEN
    RETURN 0;
END
$$;
COMMENT ON FUNCTION bench.try_sql_append(text, text, jsonb, bigint, jsonb) IS
    'Benchmark: sql_append returning 1, or 0 on a version conflict.';
