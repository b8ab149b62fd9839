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
