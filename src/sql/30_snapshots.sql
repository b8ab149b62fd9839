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
AS 'MODULE_PATHNAME', 'es_snapshot'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_snapshot(text, bigint, jsonb, text, bytea) IS
    'Save the state of a stream''s aggregate at a version the stream has reached, as JSON (data) or binary (data_bin), under a kind. An older snapshot never replaces a newer one of the same kind: returns the version kept and whether this one was saved.';

CREATE FUNCTION eventstore.es_load_snapshot(
    stream text,
    kind   text DEFAULT 'default')
RETURNS TABLE (stream text, kind text, version bigint, data jsonb, data_bin bytea,
               created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_load_snapshot'
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
AS 'MODULE_PATHNAME', 'es_load_with_snapshot'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;

COMMENT ON FUNCTION eventstore.es_load_with_snapshot(text, text, integer) IS
    'Rebuild an aggregate in one query: the newest snapshot of the kind (is_snapshot, type = kind, position NULL), if any, then at most max_count events after its version (all of them when max_count is NULL), in version order, all from one database snapshot. ES012 when retention or archival removed events between the snapshot (or the stream''s start) and the first event kept.';
