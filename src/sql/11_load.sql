-- es_load for streams, and the stream version (src/load.c).

CREATE FUNCTION eventstore.es_load(
    stream       text,
    from_version bigint  DEFAULT NULL,
    max_count    integer DEFAULT 1000,
    backward     boolean DEFAULT false)
RETURNS TABLE ("position" bigint, stream text, version bigint, event_id uuid, type text,
               data jsonb, data_bin bytea, metadata jsonb, created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_load_stream'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;

COMMENT ON FUNCTION eventstore.es_load(text, bigint, integer, boolean) IS
    'Read a stream: forward from from_version (default 1), or backward from from_version (default: the end), at most max_count events.';

CREATE FUNCTION eventstore.es_stream_version(stream text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_stream_version'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_stream_version(text) IS
    'The current version of a stream: the version of its last event, 0 if it has none.';
