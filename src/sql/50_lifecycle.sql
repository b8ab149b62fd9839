-- Stream lifecycle: soft delete, restore, tombstone, erasure, deleting
-- snapshots, resetting checkpoints (src/lifecycle.c, src/stream_state.c;
-- semantics in docs/lifecycle.md).  New in 1.1 (issue 12).

-- A row only for a stream that has lifecycle state.
CREATE TABLE eventstore.stream_state (
    stream          text        NOT NULL,
    last_version    bigint      NOT NULL DEFAULT 0,
    last_position   bigint,
    deleted_at      timestamptz,
    tombstoned_at   timestamptz,
    truncate_before bigint,
    max_count       bigint,
    max_age         interval,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT stream_state_pkey PRIMARY KEY (stream),
    CONSTRAINT stream_state_last_version_check CHECK (last_version >= 0),
    CONSTRAINT stream_state_retention_check
        CHECK (truncate_before >= 1 AND max_count >= 1 AND max_age > '0'::interval)
);

-- The highest position of any deleted event: never handed out again.
CREATE INDEX stream_state_last_position_idx ON eventstore.stream_state (last_position);
COMMENT ON INDEX eventstore.stream_state_last_position_idx IS
    'Finds the highest position of any deleted event, which the position counter starts above.';

COMMENT ON TABLE eventstore.stream_state IS
    'Lifecycle state of the streams that have any (soft-deleted, tombstoned, retention settings); other streams have no row. Written only by the lifecycle functions and es_append.';
COMMENT ON COLUMN eventstore.stream_state.stream IS 'Stream name.';
COMMENT ON COLUMN eventstore.stream_state.last_version IS 'Highest version the stream had when its events were last deleted: version numbers continue after it.';
COMMENT ON COLUMN eventstore.stream_state.last_position IS 'Highest global position of the stream''s deleted events: positions up to it are never handed out again (the feed never reuses a position a reader may have passed).';
COMMENT ON COLUMN eventstore.stream_state.deleted_at IS 'When the stream was soft-deleted (NULL when it is not): its events are in eventstore.deleted_events.';
COMMENT ON COLUMN eventstore.stream_state.tombstoned_at IS 'When the stream was hard-deleted or erased: the name can never be written again.';
COMMENT ON COLUMN eventstore.stream_state.truncate_before IS 'Retention: events of lower versions are removed (es_set_retention).';
COMMENT ON COLUMN eventstore.stream_state.max_count IS 'Retention: at most this many newest events are kept.';
COMMENT ON COLUMN eventstore.stream_state.max_age IS 'Retention: events older than this are removed by es_apply_retention (the last event is always kept).';
COMMENT ON COLUMN eventstore.stream_state.updated_at IS 'When the row last changed.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.stream_state', '');
REVOKE ALL ON TABLE eventstore.stream_state FROM PUBLIC;

-- The events of soft-deleted streams, kept until restored or tombstoned.
CREATE TABLE eventstore.deleted_events (
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
    deleted_at  timestamptz NOT NULL,
    occurred_at timestamptz,
    tags        text[],
    CONSTRAINT deleted_events_pkey PRIMARY KEY (stream, version)
);

COMMENT ON TABLE eventstore.deleted_events IS
    'Events of soft-deleted streams, as they were stored, until es_restore_stream puts them back or es_tombstone_stream / es_erase_stream removes them.';
COMMENT ON COLUMN eventstore.deleted_events.position IS 'The global position the event had (a restore gives it a new one).';
COMMENT ON COLUMN eventstore.deleted_events.stream IS 'Stream name.';
COMMENT ON COLUMN eventstore.deleted_events.version IS 'Version of the event within its stream (kept by a restore).';
COMMENT ON COLUMN eventstore.deleted_events.event_id IS 'Event id (kept by a restore).';
COMMENT ON COLUMN eventstore.deleted_events.type IS 'Event type.';
COMMENT ON COLUMN eventstore.deleted_events.category IS 'Category of the stream.';
COMMENT ON COLUMN eventstore.deleted_events.data IS 'JSON payload.';
COMMENT ON COLUMN eventstore.deleted_events.data_bin IS 'Binary payload.';
COMMENT ON COLUMN eventstore.deleted_events.metadata IS 'Metadata.';
COMMENT ON COLUMN eventstore.deleted_events.created_at IS 'When the event was first appended.';
COMMENT ON COLUMN eventstore.deleted_events.deleted_at IS 'When the stream was soft-deleted.';
COMMENT ON COLUMN eventstore.deleted_events.occurred_at IS 'When the event happened, as its writer said (kept by a restore).';
COMMENT ON COLUMN eventstore.deleted_events.tags IS 'Tags of the event (kept by a restore; docs/dcb.md).';

SELECT pg_catalog.pg_extension_config_dump('eventstore.deleted_events', '');
REVOKE ALL ON TABLE eventstore.deleted_events FROM PUBLIC;

-- The audit trail: one row per call of a lifecycle function.
CREATE TABLE eventstore.lifecycle_log (
    logged_at   timestamptz NOT NULL,
    action      text        NOT NULL,
    stream      text,
    handler     text,
    kind        text,
    detail      jsonb       NOT NULL,
    reason      text,
    session_role name       NOT NULL,
    calling_role name       NOT NULL
);

COMMENT ON TABLE eventstore.lifecycle_log IS
    'Audit trail of the lifecycle functions: what was deleted, restored, erased or reset, when, by whom and why.';
COMMENT ON COLUMN eventstore.lifecycle_log.logged_at IS 'When (clock time of the call).';
COMMENT ON COLUMN eventstore.lifecycle_log.action IS 'delete, restore, tombstone, erase, delete_snapshots, reset_checkpoint, set_retention, retention; in the partitioned layout also archive and drop_archive (an archive dropped by a superuser with eventstore.allow_destroy).';
COMMENT ON COLUMN eventstore.lifecycle_log.stream IS 'The stream concerned, if any.';
COMMENT ON COLUMN eventstore.lifecycle_log.handler IS 'The handler whose checkpoint was reset, if any.';
COMMENT ON COLUMN eventstore.lifecycle_log.kind IS 'The snapshot kind deleted, if any.';
COMMENT ON COLUMN eventstore.lifecycle_log.detail IS 'What changed: versions and numbers of events and snapshots removed, old and new checkpoint.';
COMMENT ON COLUMN eventstore.lifecycle_log.reason IS 'The reason the caller gave (required for an erasure).';
COMMENT ON COLUMN eventstore.lifecycle_log.session_role IS 'session_user of the call.';
COMMENT ON COLUMN eventstore.lifecycle_log.calling_role IS 'The role in effect when the function was called (after SET ROLE).';

SELECT pg_catalog.pg_extension_config_dump('eventstore.lifecycle_log', '');
REVOKE ALL ON TABLE eventstore.lifecycle_log FROM PUBLIC;

-- TRUNCATE is refused like DROP TABLE (ES005; es_forbid_truncate is
-- declared in 85_ddl_guard.sql, the triggers are created there).

CREATE FUNCTION eventstore.es_delete_stream(
    stream           text,
    expected_version bigint DEFAULT NULL,
    reason           text   DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_delete_stream'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_delete_stream(text, bigint, text) IS
    'Soft-delete a stream (admin): its events leave stream reads and the feed and are kept aside until restored or tombstoned; its snapshots are deleted. Returns the version it had. Audited.';

CREATE FUNCTION eventstore.es_restore_stream(
    stream text,
    reason text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_restore_stream'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_restore_stream(text, text) IS
    'Restore a soft-deleted stream (admin): its events come back with their versions and ids, at new global positions. Returns the stream''s version. Audited.';

CREATE FUNCTION eventstore.es_tombstone_stream(
    stream           text,
    expected_version bigint DEFAULT NULL,
    reason           text   DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_tombstone_stream'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_tombstone_stream(text, bigint, text) IS
    'Hard-delete a stream (admin): its events, also soft-deleted ones, and its snapshots are removed physically and the name can never be written again (ES006). Returns the version it had. Audited.';

CREATE FUNCTION eventstore.es_erase_stream(
    stream text,
    reason text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_erase_stream'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_erase_stream(text, text) IS
    'Erase a stream for data protection (admin): a tombstone that also removes its snapshots, its per-stream checkpoints and its archived events (partitioned layout); the reason is required and audited with the rows removed from each table. Returns the version it had.';

CREATE FUNCTION eventstore.es_delete_snapshots(
    stream text DEFAULT NULL,
    kind   text DEFAULT NULL,
    reason text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_delete_snapshots'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_delete_snapshots(text, text, text) IS
    'Delete snapshots (admin) of a stream, of a kind in every stream, or of a kind in one stream. Returns how many were deleted. Audited.';

CREATE FUNCTION eventstore.es_reset_checkpoint(
    handler    text,
    stream     text   DEFAULT NULL,
    "position" bigint DEFAULT 0,
    reason     text   DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_reset_checkpoint'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_reset_checkpoint(text, text, bigint, text) IS
    'Move a handler''s checkpoint back to position (admin; default 0, which removes it), for a rebuild; waits for the handler''s lock. Returns the previous position. Audited.';

CREATE FUNCTION eventstore.es_stream_info(
    stream text,
    OUT stream        text,
    OUT state         text,
    OUT version       bigint,
    OUT first_version bigint,
    OUT last_version  bigint,
    OUT deleted_at    timestamptz,
    OUT tombstoned_at timestamptz,
    OUT truncate_before bigint,
    OUT max_count     bigint,
    OUT max_age       interval)
RETURNS record
AS 'MODULE_PATHNAME', 'es_stream_info'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_stream_info(text) IS
    'A stream''s lifecycle state (active, deleted, tombstoned or unknown), its version as es_stream_version answers it, the first version a read returns (NULL when none; after retention, the first version kept), the highest version it ever had, and its retention settings.';

CREATE FUNCTION eventstore.es_set_retention(
    stream          text,
    truncate_before bigint   DEFAULT NULL,
    max_count       bigint   DEFAULT NULL,
    max_age         interval DEFAULT NULL,
    reason          text     DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_set_retention'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_set_retention(text, bigint, bigint, interval, text) IS
    'Set a stream''s retention (admin): remove events below truncate_before, keep at most max_count, remove events older than max_age; all NULL clears it. Applied to the stream at once; es_apply_retention enforces it later. The last event is always kept. Returns the events removed now. Audited.';

CREATE FUNCTION eventstore.es_apply_retention(
    max_streams       integer DEFAULT NULL,
    OUT stream        text,
    OUT deleted       bigint,
    OUT first_version bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'es_apply_retention'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_apply_retention(integer) IS
    'Enforce every stream''s retention settings (admin; schedule it, e.g. with pg_cron), at most max_streams streams losing events per call (NULL: all; the next call goes on). Idempotent; never waits for a busy stream: a stream being appended to right now is returned with deleted NULL and cleaned by the next run. Returns the streams that lost events, with the first version they keep. Audited per stream.';
