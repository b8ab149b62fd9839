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

