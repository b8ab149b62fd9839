-- Benchmark objects besides the SQL baseline (bench/run.sh loads this first).

CREATE SCHEMA bench;
COMMENT ON SCHEMA bench IS 'eventstore benchmark: baseline tables and helpers (bench/run.sh).';

-- The floor: the same row inserted into a table of the same shape, with the
-- same indexes and constraints (LIKE ... INCLUDING ALL copies them; triggers
-- are not copied), version computed by the client, no check.
CREATE TABLE bench.floor_events (LIKE eventstore.events INCLUDING ALL);
CREATE SEQUENCE bench.floor_position_seq OWNED BY bench.floor_events.position;
COMMENT ON TABLE bench.floor_events IS 'Benchmark floor: plain INSERTs of the same rows es_append writes.';

CREATE FUNCTION bench.try_es_append(p_stream text, p_type text, p_data jsonb,
                                    p_expected bigint, p_metadata jsonb)
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    PERFORM * FROM eventstore.es_append(p_stream, p_type, p_data, expected_version => p_expected,
                                        metadata => p_metadata);
    RETURN 1;
EXCEPTION WHEN SQLSTATE 'ES001' THEN
    RETURN 0;
END
$$;
COMMENT ON FUNCTION bench.try_es_append(text, text, jsonb, bigint, jsonb) IS
    'Benchmark: es_append returning 1, or 0 on a version conflict.';
