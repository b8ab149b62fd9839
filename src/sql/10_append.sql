-- es_append: the write path (src/append.c, src/append_exec.c).

-- The row es_append returns per event.  A named type rather than RETURNS
-- TABLE: the executor then takes the row type from the type cache instead of
-- rebuilding it from pg_proc on every call (docs/benchmarks.md).
CREATE TYPE eventstore.append_result AS (
    stream     text,
    version    bigint,
    "position" bigint,
    event_id   uuid,
    replayed   boolean
);
COMMENT ON TYPE eventstore.append_result IS
    'One appended event: its stream, version, global position and id; replayed is true when an idempotent retry found it stored already and wrote nothing.';

CREATE FUNCTION eventstore.es_append(
    stream           text,
    type             text,
    data             jsonb  DEFAULT NULL,
    expected_version bigint DEFAULT NULL,
    metadata         jsonb  DEFAULT NULL,
    event_id         uuid   DEFAULT NULL,
    data_bin         bytea  DEFAULT NULL,
    tags             text[] DEFAULT NULL)
RETURNS SETOF eventstore.append_result
AS 'MODULE_PATHNAME', 'es_append_event'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 1;

COMMENT ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea, text[]) IS
    'Append one event to a stream. expected_version: es_expected_version(''any'') (NULL), es_expected_version(''no_stream'') (0), es_expected_version(''stream_exists'') (-1), or exactly n. tags: the event''s tags (docs/dcb.md). Returns the event''s stream, version, global position and id.';

-- The symbolic expected versions (KurrentDB's names) for the single-event
-- form, whose parameter stays bigint: a text overload of es_append would
-- change the parameter types that drivers preparing statements (pgx,
-- tokio-postgres) infer for calls written for 1.0, and make untyped calls
-- resolve differently.  Executable by everyone: it reads nothing.
CREATE FUNCTION eventstore.es_expected_version(version text) RETURNS bigint
AS 'MODULE_PATHNAME', 'es_expected_version'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION eventstore.es_expected_version(text) IS
    'The expected_version of es_append''s single-event form for ''any'' (NULL), ''no_stream'' (0), ''stream_exists'' (-1) or a version number given as text; anything else is an error (22023).';

CREATE FUNCTION eventstore.es_append(batch jsonb)
RETURNS SETOF eventstore.append_result
AS 'MODULE_PATHNAME', 'es_append_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 10;

COMMENT ON FUNCTION eventstore.es_append(jsonb) IS
    'Append a batch: {"stream", "expected_version", "events": [{"type", "data", "data_bin", "metadata", "id", "occurred_at", "tags"}]} for one stream, or an array of such objects for several streams, all or nothing; an entry with "events": [] and an expected version only checks that stream. Returns one row per event.';
