-- eventstore 1.0 -> 1.1.
-- Every change to the SQL surface between the two releases, in the order
-- the issues landed.  src/sql/NN_*.sql holds the same objects as a fresh
-- 1.1 install creates them; test/suites/15_upgrade.sh checks that both
-- roads end in the same schema.
\echo Use "ALTER EXTENSION eventstore UPDATE TO '1.1'" to load this file. \quit

-- Issue 9: no silent loss by DDL (src/sql/85_ddl_guard.sql).
CREATE FUNCTION eventstore.es_forbid_truncate() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_forbid_truncate' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_forbid_truncate() IS
    'Trigger: refuses TRUNCATE of a store table unless a superuser set eventstore.allow_destroy (SQLSTATE ES005).';
REVOKE ALL ON FUNCTION eventstore.es_forbid_truncate() FROM PUBLIC;

CREATE TRIGGER snapshots_no_truncate BEFORE TRUNCATE ON eventstore.snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON eventstore.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
ALTER TABLE eventstore.snapshots ENABLE ALWAYS TRIGGER snapshots_no_truncate;
ALTER TABLE eventstore.checkpoints ENABLE ALWAYS TRIGGER checkpoints_no_truncate;

CREATE FUNCTION eventstore.es_guard_ddl() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'es_guard_ddl' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_guard_ddl() IS
    'Event trigger: refuses DDL that would destroy a store holding data unless a superuser set eventstore.allow_destroy (SQLSTATE ES005).';
REVOKE ALL ON FUNCTION eventstore.es_guard_ddl() FROM PUBLIC;

CREATE EVENT TRIGGER eventstore_guard_ddl ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP TABLE', 'DROP OWNED', 'ALTER TABLE')
    EXECUTE FUNCTION eventstore.es_guard_ddl();
ALTER EVENT TRIGGER eventstore_guard_ddl ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER eventstore_guard_ddl IS
    'Refuses DROP EXTENSION eventstore, DROP SCHEMA eventstore, DROP TABLE of a store table and DROP OWNED BY its owner while the store holds data, and switching the store''s triggers off; SET eventstore.allow_destroy = on (superuser) to mean it.';
