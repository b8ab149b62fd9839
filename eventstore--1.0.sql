-- eventstore 1.0: schema, tables and indexes.
-- Assembled with the other src/sql/NN_*.sql files into eventstore--1.0.sql.
\echo Use "CREATE EXTENSION eventstore" to load this file. \quit

-- Every stored event.  Rows are only ever inserted, by es_append (or by a
-- restore); triggers in 20_guards.sql refuse UPDATE, DELETE and TRUNCATE.
CREATE TABLE eventstore.events (
    position    bigint      NOT NULL,
    stream      text        NOT NULL,
    version     bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    type        text        NOT NULL,
    category    text        NOT NULL,
    data        jsonb,
    data_bin    bytea,
    metadata    jsonb,
    created_at  timestamptz NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_version_check CHECK (version > 0),
    CONSTRAINT events_one_payload_check CHECK (data IS NULL OR data_bin IS NULL)
);
-- A category page of the feed is as cheap as an all-events page.
CREATE INDEX events_category_position_idx ON eventstore.events (category, position);

COMMENT ON TABLE eventstore.events IS
    'Every event of the store, in global position order; append with es_append, read with es_load. Immutable.';
COMMENT ON COLUMN eventstore.events.position IS 'Global position: unique, increasing in feed order; gaps come from aborted appends.';
COMMENT ON COLUMN eventstore.events.stream IS 'Stream name, e.g. order-42.';
COMMENT ON COLUMN eventstore.events.version IS 'Version of the event within its stream: 1, 2, 3, ... without gaps.';
COMMENT ON COLUMN eventstore.events.event_id IS 'Event id (UUID), unique in the store; generated when the writer gives none.';
COMMENT ON COLUMN eventstore.events.type IS 'Event type, e.g. OrderPlaced.';
COMMENT ON COLUMN eventstore.events.category IS 'The part of the stream name before its first "-".';
COMMENT ON COLUMN eventstore.events.data IS 'JSON payload (NULL for a binary or empty event).';
COMMENT ON COLUMN eventstore.events.data_bin IS 'Binary payload (NULL for a JSON or empty event).';
COMMENT ON COLUMN eventstore.events.metadata IS 'Metadata: correlation and causation ids and whatever the writer adds.';
COMMENT ON COLUMN eventstore.events.created_at IS 'Start time of the appending transaction.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.events', '');

REVOKE ALL ON TABLE eventstore.events FROM PUBLIC;
-- es_append: the write path (src/append.c, src/append_exec.c).

-- The row es_append returns per event.  A named type rather than RETURNS
-- TABLE: the executor then takes the row type from the type cache instead of
-- rebuilding it from pg_proc on every call (docs/benchmarks.md).
CREATE TYPE eventstore.append_result AS (
    stream     text,
    version    bigint,
    "position" bigint,
    event_id   uuid
);
COMMENT ON TYPE eventstore.append_result IS
    'One appended event: its stream, version, global position and id.';

CREATE FUNCTION eventstore.es_append(
    stream           text,
    type             text,
    data             jsonb  DEFAULT NULL,
    expected_version bigint DEFAULT NULL,
    metadata         jsonb  DEFAULT NULL,
    event_id         uuid   DEFAULT NULL,
    data_bin         bytea  DEFAULT NULL)
RETURNS SETOF eventstore.append_result
AS 'MODULE_PATHNAME', 'es_append_event'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 1;

COMMENT ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea) IS
    'Append one event to a stream. expected_version: NULL any, 0 no stream, -1 existing stream, n exactly n. Returns the event''s stream, version, global position and id.';

CREATE FUNCTION eventstore.es_append(batch jsonb)
RETURNS SETOF eventstore.append_result
AS 'MODULE_PATHNAME', 'es_append_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 10;

COMMENT ON FUNCTION eventstore.es_append(jsonb) IS
    'Append a batch: {"stream", "expected_version", "events": [{"type", "data", "data_bin", "metadata", "id"}]} for one stream, or an array of such objects for several streams, all or nothing. Returns one row per event.';
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
    'Read a stream: forward from from_version (default 1), or backward from from_version (default: the end), at most max_count events.';

CREATE FUNCTION eventstore.es_stream_version(stream text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_stream_version'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_stream_version(text) IS
    'The current version of a stream: the version of its last event, 0 if it has none.';
-- Immutability of stored events, and the restore guard (src/guards.c).

CREATE FUNCTION eventstore.es_forbid_change() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_forbid_change' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_forbid_change() IS
    'Trigger: refuses UPDATE, DELETE and TRUNCATE of stored events (SQLSTATE ES003).';

CREATE FUNCTION eventstore.es_note_insert() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_note_insert' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_note_insert() IS
    'Trigger: when rows are inserted by another path than es_append (a restore), the position counter is reread.';

CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON eventstore.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON eventstore.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_change();
CREATE TRIGGER events_note_insert BEFORE INSERT ON eventstore.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_note_insert();
-- Fire in every session_replication_role, so "replica" mode cannot bypass them.
ALTER TABLE eventstore.events ENABLE ALWAYS TRIGGER events_immutable;
ALTER TABLE eventstore.events ENABLE ALWAYS TRIGGER events_no_truncate;
ALTER TABLE eventstore.events ENABLE ALWAYS TRIGGER events_note_insert;
-- Snapshots: the latest saved state of a stream's aggregate (src/snapshot.c).

-- One row per (stream, kind): the newest snapshot of each kind.  The kind
-- names the snapshot's schema ("cart:v3"), so code that changed the shape of
-- its state saves and loads its own kind while older code, still running,
-- keeps its own; a stale snapshot is never mistaken for a current one.
CREATE TABLE eventstore.snapshots (
    stream      text        NOT NULL,
    kind        text        NOT NULL,
    version     bigint      NOT NULL,
    data        jsonb,
    data_bin    bytea,
    created_at  timestamptz NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (stream, kind),
    CONSTRAINT snapshots_version_check CHECK (version > 0),
    CONSTRAINT snapshots_one_payload_check CHECK (pg_catalog.num_nonnulls(data, data_bin) OPERATOR(pg_catalog.=) 1)
) WITH (fillfactor = 80);	-- room for HOT updates when a snapshot is replaced

COMMENT ON TABLE eventstore.snapshots IS
    'The newest snapshot of each (stream, kind): save with es_snapshot, read with es_load_snapshot or es_load_with_snapshot.';
COMMENT ON COLUMN eventstore.snapshots.stream IS 'Stream whose aggregate state this is.';
COMMENT ON COLUMN eventstore.snapshots.kind IS 'Snapshot schema, e.g. cart:v3: code loads only the kind it understands.';
COMMENT ON COLUMN eventstore.snapshots.version IS 'Stream version the state includes: events up to and including this version.';
COMMENT ON COLUMN eventstore.snapshots.data IS 'JSON state (NULL for a binary snapshot).';
COMMENT ON COLUMN eventstore.snapshots.data_bin IS 'Binary state (NULL for a JSON snapshot).';
COMMENT ON COLUMN eventstore.snapshots.created_at IS 'Start time of the saving transaction.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.snapshots', '');

REVOKE ALL ON TABLE eventstore.snapshots FROM PUBLIC;

CREATE FUNCTION eventstore.es_snapshot(
    stream   text,
    version  bigint,
    data     jsonb DEFAULT NULL,
    kind     text  DEFAULT 'default',
    data_bin bytea DEFAULT NULL,
    OUT version bigint,
    OUT saved   boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'es_snapshot_save'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_snapshot(text, bigint, jsonb, text, bytea) IS
    'Save the state of a stream''s aggregate at a version the stream has reached, as JSON (data) or binary (data_bin), under a kind. An older snapshot never replaces a newer one of the same kind: returns the version kept and whether this one was saved.';

CREATE FUNCTION eventstore.es_load_snapshot(
    stream text,
    kind   text DEFAULT 'default')
RETURNS TABLE (stream text, kind text, version bigint, data jsonb, data_bin bytea,
               created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_snapshot_load'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 1;

COMMENT ON FUNCTION eventstore.es_load_snapshot(text, text) IS
    'The newest snapshot of a stream of one kind: one row, or none when there is no snapshot of that kind.';

CREATE FUNCTION eventstore.es_load_with_snapshot(
    stream    text,
    kind      text    DEFAULT 'default',
    max_count integer DEFAULT 1000)
RETURNS TABLE (is_snapshot boolean, "position" bigint, stream text, version bigint,
               event_id uuid, type text, data jsonb, data_bin bytea, metadata jsonb,
               created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_snapshot_load_with_events'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;

COMMENT ON FUNCTION eventstore.es_load_with_snapshot(text, text, integer) IS
    'Rebuild an aggregate in one query: the newest snapshot of the kind (is_snapshot, type = kind, position NULL), if any, then at most max_count events after its version, in version order, all from one database snapshot.';
-- Checkpoints: how far each handler has processed (src/checkpoint.c).

-- A feed handler (stream = '') records a global position; a per-stream
-- handler records a stream version.  Rows only move forward.
CREATE TABLE eventstore.checkpoints (
    handler     text        NOT NULL,
    stream      text        NOT NULL DEFAULT '',
    "position"  bigint      NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT checkpoints_pkey PRIMARY KEY (handler, stream),
    CONSTRAINT checkpoints_position_check CHECK ("position" >= 0)
) WITH (fillfactor = 50);	-- rewritten after every batch: keep the updates HOT

COMMENT ON TABLE eventstore.checkpoints IS
    'How far each handler has processed: write with es_advance_position (forward only), read with es_handler_position.';
COMMENT ON COLUMN eventstore.checkpoints.handler IS 'Handler (projection, subscriber) name.';
COMMENT ON COLUMN eventstore.checkpoints.stream IS 'Empty for a feed handler; the stream name for a per-stream handler.';
COMMENT ON COLUMN eventstore.checkpoints."position" IS 'Last processed global position (feed handler) or stream version (per-stream handler).';
COMMENT ON COLUMN eventstore.checkpoints.updated_at IS 'Start time of the transaction that last advanced the checkpoint.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.checkpoints', '');

REVOKE ALL ON TABLE eventstore.checkpoints FROM PUBLIC;

CREATE FUNCTION eventstore.es_advance_position(
    handler    text,
    "position" bigint,
    stream     text DEFAULT NULL,
    OUT "position" bigint,
    OUT advanced   boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'es_advance_position'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_advance_position(text, bigint, text) IS
    'Record that a handler has processed up to a global position (stream NULL) or up to a version of a stream. Forward only: returns the position kept and whether it advanced. Commits or rolls back with the caller''s transaction.';

CREATE FUNCTION eventstore.es_handler_position(
    handler text,
    stream  text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_handler_position'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_handler_position(text, text) IS
    'A handler''s checkpoint (global position, or stream version when stream is given); 0 when it has none.';

CREATE FUNCTION eventstore.es_lock_handler(
    handler text,
    stream  text    DEFAULT NULL,
    wait    boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_lock_handler'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_lock_handler(text, text, boolean) IS
    'Take a handler''s lock until the end of the transaction, then return its checkpoint read after the lock was granted (0 when none), so that two instances of one projection never process the same events. With wait => false, returns NULL at once when another transaction holds the lock.';

-- The global feed: es_load(after_position, ...), es_feed_head, es_wait and
-- the consumer-group hash (src/feed.c; design in docs/global-feed.md).

-- The stable hash of a stream name that splits streams across consumer groups.
CREATE FUNCTION eventstore.es_stream_hash(stream text) RETURNS bigint
AS 'MODULE_PATHNAME', 'es_stream_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION eventstore.es_stream_hash(text) IS
    'FNV-1a 64 hash of the UTF-8 bytes of a stream name, made non-negative; member i of a consumer group of n gets the streams with es_stream_hash(stream) % n = i. Stable across platforms and versions.';

-- The feed form of es_load.  Its first parameter is bigint, the stream form's
-- is text: an untyped first argument reads a stream, so drivers that send
-- untyped parameters use named notation (after_position => $1) or $1::bigint.
-- Parameters 2 to 4 have the type categories of the stream form's
-- (es_load(stream text, from_version bigint, max_count integer, backward
-- boolean)), so that calls of the stream form with untyped or literal
-- arguments still resolve to it: PostgreSQL cannot choose between two
-- candidates whose types at an unknown-typed argument are of different
-- non-string categories ("function is not unique"), and an integer second
-- parameter here would be an exact match for es_load('order-1', 5).  The
-- filters come after them and are passed by name.
-- VOLATILE and PARALLEL UNSAFE: it reads with a fresh snapshot taken after
-- the safe position, not with the statement's snapshot.
CREATE FUNCTION eventstore.es_load(
    after_position bigint,
    max_count      bigint  DEFAULT 1000,
    to_position    bigint  DEFAULT NULL,
    with_payload   boolean DEFAULT true,
    category       text    DEFAULT NULL,
    types          text[]  DEFAULT NULL,
    group_member   integer DEFAULT NULL,
    group_size     integer DEFAULT NULL)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_feed'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 100;

COMMENT ON FUNCTION eventstore.es_load(bigint, bigint, bigint, boolean, text, text[], integer, integer) IS
    'Read a page of the global feed: events with after_position < position <= to_position (default: the head) in position order, at most max_count, optionally of one category, of some event types, and of one consumer-group member (group_member of group_size); with_payload => false leaves data, data_bin and metadata NULL. Never skips an event: it stops before any position still being appended. Not on a hot standby.';

CREATE FUNCTION eventstore.es_feed_head() RETURNS bigint
AS 'MODULE_PATHNAME', 'es_feed_head'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_feed_head() IS
    'The highest position a feed reader may read now: every event at or below it is committed or will never exist. For lag views: head minus a handler''s position.';

CREATE FUNCTION eventstore.es_wait(after_position bigint, timeout_ms integer DEFAULT 10000)
RETURNS boolean
AS 'MODULE_PATHNAME', 'es_wait'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_wait(bigint, integer) IS
    'Wait until the global feed has an event after after_position (true) or timeout_ms passed (false). Sleeps on a condition variable when eventstore is preloaded, polls every 100 ms otherwise. Honours statement_timeout and cancellation.';
-- The handler_lag view (checkpoints: src/sql/31_checkpoints.sql; feed head: 40_feed.sql).

-- Lag of every handler (after 40_feed.sql: it needs es_feed_head).  The head
-- of the feed is the highest position a feed reader may return now; on a hot
-- standby, where the feed cannot be read, it is max(position).
CREATE VIEW eventstore.handler_lag AS
WITH feed AS (
    SELECT CASE WHEN pg_catalog.pg_is_in_recovery()
                THEN (SELECT COALESCE(pg_catalog.max(e."position"), 0) FROM eventstore.events e)
                ELSE eventstore.es_feed_head()
           END AS head
)
SELECT c.handler,
       c.stream,
       c."position",
       h.head,
       GREATEST(h.head OPERATOR(pg_catalog.-) c."position", 0) AS lag,
       c.updated_at
FROM eventstore.checkpoints c
CROSS JOIN feed
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.stream OPERATOR(pg_catalog.=) '' THEN feed.head
                ELSE (SELECT COALESCE(pg_catalog.max(e.version), 0)
                      FROM eventstore.events e
                      WHERE e.stream OPERATOR(pg_catalog.=) c.stream)
           END AS head
) h;

COMMENT ON VIEW eventstore.handler_lag IS
    'Every checkpoint with its head (feed head for a feed handler, stream version for a per-stream handler) and lag = head - position. A feed lag counts positions, which can have gaps: it is an upper bound of the events left.';
COMMENT ON COLUMN eventstore.handler_lag.handler IS 'Handler name.';
COMMENT ON COLUMN eventstore.handler_lag.stream IS 'Empty for a feed handler; the stream for a per-stream handler.';
COMMENT ON COLUMN eventstore.handler_lag."position" IS 'The handler''s checkpoint.';
COMMENT ON COLUMN eventstore.handler_lag.head IS 'Feed head (feed handler) or stream version (per-stream handler).';
COMMENT ON COLUMN eventstore.handler_lag.lag IS 'head - position, never below 0.';
COMMENT ON COLUMN eventstore.handler_lag.updated_at IS 'When the checkpoint last advanced.';

REVOKE ALL ON TABLE eventstore.handler_lag FROM PUBLIC;
-- Operations: the feed mode, the position counter (src/position.c).

CREATE FUNCTION eventstore.es_feed_mode() RETURNS text
AS 'MODULE_PATHNAME', 'es_feed_mode' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventstore.es_feed_mode() IS
    '"concurrent" when eventstore is in shared_preload_libraries, "serialized" otherwise (appending transactions of a database then commit one at a time).';

CREATE FUNCTION eventstore.es_reset_position_counter() RETURNS void
AS 'MODULE_PATHNAME', 'es_reset_position_counter' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION eventstore.es_reset_position_counter() IS
    'Make the next append reread the highest stored position (needed only after rows were added by hand with triggers disabled).';

-- A reinstall in the same database must not reuse a stale counter.
SELECT eventstore.es_reset_position_counter();

-- A WARNING, not a NOTICE: CREATE EXTENSION runs its script with
-- client_min_messages at least WARNING (extension.c), so a NOTICE would never
-- reach the user.
DO $$
BEGIN
    IF eventstore.es_feed_mode() = 'serialized' THEN
        RAISE WARNING 'eventstore is not in shared_preload_libraries: appends run in serialized mode'
            USING HINT = 'Add eventstore to shared_preload_libraries and restart the server so that appending transactions commit concurrently.';
    END IF;
END
$$;
-- Privileges.  Tables are written only through the SECURITY DEFINER
-- functions; applications get EXECUTE on them, never table rights.
-- Every SPI statement in the C code is schema-qualified, operators included,
-- so a caller's search_path cannot redirect them.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eventstore FROM PUBLIC;

CREATE FUNCTION eventstore.es_grant_writer(role_name name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea), eventstore.es_append(jsonb) TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_snapshot(text, bigint, jsonb, text, bytea), eventstore.es_advance_position(text, bigint, text), eventstore.es_lock_handler(text, text, boolean) TO %I', role_name);
    PERFORM eventstore.es_grant_reader(role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_writer(name) IS
    'Let a role append events, save snapshots, advance checkpoints and read, through the functions only (no table rights).';

CREATE FUNCTION eventstore.es_grant_reader(role_name name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f regprocedure;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'eventstore'::regnamespace
          AND p.proname IN ('es_load', 'es_stream_version', 'es_feed_mode',
                            'es_feed_head', 'es_wait', 'es_stream_hash',
                            'es_load_snapshot', 'es_load_with_snapshot', 'es_handler_position')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, role_name);
    END LOOP;
    EXECUTE format('GRANT SELECT ON eventstore.handler_lag TO %I', role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_reader(name) IS
    'Let a role read streams, the feed, snapshots and checkpoints, through the functions and the handler_lag view only (no table rights).';

REVOKE ALL ON FUNCTION eventstore.es_grant_writer(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_grant_reader(name) FROM PUBLIC;
