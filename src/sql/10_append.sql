-- es_append: the write path (src/append.c, src/append_exec.c).

CREATE FUNCTION eventstore.es_append(
    stream           text,
    type             text,
    data             jsonb  DEFAULT NULL,
    expected_version bigint DEFAULT NULL,
    metadata         jsonb  DEFAULT NULL,
    event_id         uuid   DEFAULT NULL,
    data_bin         bytea  DEFAULT NULL)
RETURNS TABLE (stream text, version bigint, "position" bigint, event_id uuid)
AS 'MODULE_PATHNAME', 'es_append_event'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 1;

COMMENT ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea) IS
    'Append one event to a stream. expected_version: NULL any, 0 no stream, -1 existing stream, n exactly n. Returns the event''s stream, version, global position and id.';

CREATE FUNCTION eventstore.es_append(batch jsonb)
RETURNS TABLE (stream text, version bigint, "position" bigint, event_id uuid)
AS 'MODULE_PATHNAME', 'es_append_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 10;

COMMENT ON FUNCTION eventstore.es_append(jsonb) IS
    'Append a batch: {"stream", "expected_version", "events": [{"type", "data", "data_bin", "metadata", "id"}]} for one stream, or an array of such objects for several streams, all or nothing. Returns one row per event.';
