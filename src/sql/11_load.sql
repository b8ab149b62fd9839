-- es_load for streams, and the stream version (src/load.c).
-- Both forms of es_load return rows of eventstore.events as stored: the
-- stored tuples are handed on without being taken apart and rebuilt, which
-- keeps a page of 1,000 events close to the cost of a plain SELECT
-- (docs/benchmarks.md).

CREATE FUNCTION eventstore.es_load(
    stream       text,
    from_version bigint  DEFAULT NULL,
    max_count    integer DEFAULT 1000,
    backward     boolean DEFAULT false)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_stream'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;

COMMENT ON FUNCTION eventstore.es_load(text, bigint, integer, boolean) IS
    'Read a stream: forward from from_version (default: the first version the stream keeps), or backward from from_version (default: the end), at most max_count events; max_count NULL reads the whole stream. A from_version that retention or archival removed is an error (ES012), never a silent start past it.';

CREATE FUNCTION eventstore.es_stream_version(stream text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_stream_version'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_stream_version(text) IS
    'The current version of a stream: the version of its last event, 0 if it has none.';
