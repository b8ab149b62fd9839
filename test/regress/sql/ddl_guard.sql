-- No silent loss by DDL (src/ddl_guard.c): while the store holds data,
-- statements that would destroy it are refused with ES005 and nothing changes.
SELECT count(*) > 0 AS store_holds_data FROM eventstore.events;
CREATE TEMP TABLE before_guard AS SELECT * FROM eventstore.events;
SELECT try('DROP EXTENSION eventstore');
SELECT try('DROP EXTENSION eventstore CASCADE');
SELECT try('DROP EXTENSION IF EXISTS pg_trgm, eventstore CASCADE');
SELECT try('DROP SCHEMA eventstore CASCADE');
SELECT try('DROP TABLE eventstore.events');
SELECT try('DROP TABLE eventstore.snapshots CASCADE');
SELECT try('DROP TABLE IF EXISTS eventstore.checkpoints');
SELECT try('TRUNCATE eventstore.events');
SELECT try('TRUNCATE eventstore.snapshots');
SELECT try('TRUNCATE eventstore.checkpoints CASCADE');
-- The store's triggers are its guarantees: none may be switched off or made
-- skippable by session_replication_role.
SELECT try('ALTER TABLE eventstore.events DISABLE TRIGGER ALL');
SELECT try('ALTER TABLE eventstore.events DISABLE TRIGGER USER');
SELECT try('ALTER TABLE eventstore.events DISABLE TRIGGER events_immutable');
SELECT try('ALTER TABLE eventstore.events ENABLE TRIGGER events_no_truncate');
SELECT try('ALTER TABLE eventstore.events ENABLE REPLICA TRIGGER events_note_insert');
SELECT try('ALTER TABLE eventstore.snapshots DISABLE TRIGGER snapshots_no_truncate');
SELECT try('ALTER TABLE eventstore.events ENABLE ALWAYS TRIGGER events_immutable');
SELECT tgname, tgenabled FROM pg_trigger
WHERE tgrelid IN ('eventstore.events'::regclass, 'eventstore.snapshots'::regclass, 'eventstore.checkpoints'::regclass)
  AND NOT tgisinternal ORDER BY tgname;
-- A user's own trigger on the table may be switched as the user likes.
CREATE FUNCTION public.note_event() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER user_note AFTER INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION public.note_event();
SELECT try('ALTER TABLE eventstore.events DISABLE TRIGGER user_note');
SELECT try('ALTER TABLE eventstore.events ENABLE TRIGGER user_note');
DROP TRIGGER user_note ON eventstore.events;
DROP FUNCTION public.note_event();
-- DROP OWNED BY the owner of the store's schema would drop the store.
CREATE ROLE es_guard_owner;
ALTER SCHEMA eventstore OWNER TO es_guard_owner;
SELECT try('DROP OWNED BY es_guard_owner');
ALTER SCHEMA eventstore OWNER TO CURRENT_USER;
DROP ROLE es_guard_owner;
-- Replica mode does not bypass the guard (the event trigger fires ALWAYS).
SET session_replication_role = replica;
SELECT try('DROP EXTENSION eventstore');
RESET session_replication_role;
-- Other extensions and unrelated tables are not affected.
CREATE TABLE public.scratch (i int);
SELECT try('DROP TABLE public.scratch');
SELECT try('DROP EXTENSION IF EXISTS no_such_extension');
-- Only a superuser can say that destroying the store is intended.
CREATE ROLE es_guard_user;
SET ROLE es_guard_user;
SELECT try('SET eventstore.allow_destroy = on');
RESET ROLE;
DROP ROLE es_guard_user;
SHOW eventstore.allow_destroy;
-- A superuser who means it can; here rolled back.
BEGIN;
SET LOCAL eventstore.allow_destroy = on;
TRUNCATE eventstore.events;
SELECT count(*) AS events_after_truncate FROM eventstore.events;
DROP EXTENSION eventstore;
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'eventstore';
ROLLBACK;
-- Nothing changed.
SELECT count(*) AS events_changed FROM (
    (TABLE before_guard EXCEPT TABLE eventstore.events)
    UNION ALL (TABLE eventstore.events EXCEPT TABLE before_guard)) d;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'eventstore') AS at_head
FROM pg_extension WHERE extname = 'eventstore';
