-- No silent loss by DDL (src/ddl_guard.c, src/guards.c; docs/operations.md,
-- "Protection against destructive DDL").  New in 1.1.

-- TRUNCATE of the snapshots and checkpoints tables is refused like a DROP:
-- a checkpoint cannot be rebuilt from the events.
CREATE FUNCTION eventstore.es_forbid_truncate() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_forbid_truncate' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_forbid_truncate() IS
    'Trigger: refuses TRUNCATE of a store table unless a superuser set eventstore.allow_destroy (SQLSTATE ES005).';

CREATE TRIGGER snapshots_no_truncate BEFORE TRUNCATE ON eventstore.snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON eventstore.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
ALTER TABLE eventstore.snapshots ENABLE ALWAYS TRIGGER snapshots_no_truncate;
ALTER TABLE eventstore.checkpoints ENABLE ALWAYS TRIGGER checkpoints_no_truncate;
-- The lifecycle tables (50_lifecycle.sql): tombstones and the audit trail.
CREATE TRIGGER stream_state_no_truncate BEFORE TRUNCATE ON eventstore.stream_state
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
CREATE TRIGGER deleted_events_no_truncate BEFORE TRUNCATE ON eventstore.deleted_events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
CREATE TRIGGER lifecycle_log_no_truncate BEFORE TRUNCATE ON eventstore.lifecycle_log
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
ALTER TABLE eventstore.stream_state ENABLE ALWAYS TRIGGER stream_state_no_truncate;
ALTER TABLE eventstore.deleted_events ENABLE ALWAYS TRIGGER deleted_events_no_truncate;
COMMENT ON TRIGGER stream_state_no_truncate ON eventstore.stream_state IS
    'Refuses TRUNCATE (ES005): the table holds the tombstones.';
COMMENT ON TRIGGER deleted_events_no_truncate ON eventstore.deleted_events IS
    'Refuses TRUNCATE (ES005): soft-deleted events are purged by es_tombstone_stream or es_erase_stream.';
COMMENT ON TRIGGER lifecycle_log_no_truncate ON eventstore.lifecycle_log IS
    'Refuses TRUNCATE (ES005): the table is the audit trail of the lifecycle functions.';
ALTER TABLE eventstore.lifecycle_log ENABLE ALWAYS TRIGGER lifecycle_log_no_truncate;

-- DROP EXTENSION eventstore, DROP SCHEMA eventstore, DROP TABLE of a store
-- table and DROP OWNED BY the store's owner are refused while the store
-- holds data; switching the store's own triggers off is refused always.
-- ddl_command_start fires before anything is dropped, also for this
-- extension's own DROP EXTENSION; ENABLE ALWAYS keeps it firing under
-- session_replication_role = replica.
CREATE FUNCTION eventstore.es_guard_ddl() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'es_guard_ddl' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_guard_ddl() IS
    'Event trigger: refuses DDL that would destroy a store holding data unless a superuser set eventstore.allow_destroy (SQLSTATE ES005).';

CREATE EVENT TRIGGER eventstore_guard_ddl ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP TABLE', 'DROP OWNED', 'ALTER TABLE')
    EXECUTE FUNCTION eventstore.es_guard_ddl();
ALTER EVENT TRIGGER eventstore_guard_ddl ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER eventstore_guard_ddl IS
    'Refuses DROP EXTENSION eventstore, DROP SCHEMA eventstore, DROP TABLE of a store table and DROP OWNED BY its owner while the store holds data, and switching the store''s triggers off; SET eventstore.allow_destroy = on (superuser) to mean it.';
