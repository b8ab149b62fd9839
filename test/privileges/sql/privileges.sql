-- Privileges: writers and readers get EXECUTE on the SECURITY DEFINER
-- functions and no table rights; a caller's search_path cannot redirect what
-- the functions run (every object in their SQL is schema-qualified).
\set VERBOSITY sqlstate
SET client_min_messages = warning;
DROP ROLE IF EXISTS es_priv_app;
DROP ROLE IF EXISTS es_priv_reader;
DROP ROLE IF EXISTS es_priv_nobody;
DROP ROLE IF EXISTS es_priv_monitor;
DROP ROLE IF EXISTS es_priv_cdc;
RESET client_min_messages;
CREATE ROLE es_priv_app LOGIN;
CREATE ROLE es_priv_reader LOGIN;
CREATE ROLE es_priv_nobody LOGIN;
CREATE ROLE es_priv_monitor LOGIN;
CREATE ROLE es_priv_cdc LOGIN;
SELECT eventstore.es_grant_writer('es_priv_app');
SELECT eventstore.es_grant_reader('es_priv_reader');
SELECT eventstore.es_grant_monitor('es_priv_monitor');
SELECT eventstore.es_grant_cdc('es_priv_cdc');
-- the attacker below may create a schema in this database
SELECT format('GRANT CREATE ON DATABASE %I TO es_priv_app', current_database()) \gexec
SELECT version FROM eventstore.es_append('order-1', 'OrderPlaced', '{"total": 1}', 0,
    event_id => '00000000-0000-4000-8000-00000000e001');
-- exactly these functions are a reader's
SELECT p.oid::regprocedure AS reader_may_execute FROM pg_proc p
WHERE p.pronamespace = 'eventstore'::regnamespace
  AND has_function_privilege('es_priv_reader', p.oid, 'EXECUTE')
ORDER BY p.oid::regprocedure::text COLLATE "C";

-- The writer: appends and reads through the functions only.
\c - es_priv_app
SELECT current_user;
SELECT stream, version FROM eventstore.es_append('order-1', 'OrderPaid', '{"amount": 1}', 1);
SELECT stream, version FROM eventstore.es_append('blob-1', 'Proto', data_bin => '\x00ff'::bytea);
SELECT stream, version FROM eventstore.es_append('{"stream": "order-2", "events": [{"type": "A"}, {"type": "B"}]}');
SELECT version, type, data FROM eventstore.es_load('order-1');
SELECT eventstore.es_stream_version('order-2');
-- no table rights, not even SELECT
SELECT count(*) FROM eventstore.events;
INSERT INTO eventstore.events VALUES (1000, 'x-1', 1, gen_random_uuid(), 't', 'x', NULL, NULL, NULL, now());
UPDATE eventstore.events SET type = 'x';
DELETE FROM eventstore.events;
TRUNCATE eventstore.events;
-- no administration
SELECT eventstore.es_grant_writer('es_priv_nobody');
SELECT eventstore.es_reset_position_counter();
CREATE FUNCTION eventstore.es_mine() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TABLE eventstore.mine (i int);

-- The reader: reads, cannot append.
\c - es_priv_reader
SELECT version, type FROM eventstore.es_load('order-1');
SELECT eventstore.es_stream_version('order-1');
SELECT eventstore.es_feed_mode() IN ('concurrent', 'serialized') AS mode_ok;
SELECT stream, version FROM eventstore.es_load_event('00000000-0000-4000-8000-00000000e001');
SELECT stream, version FROM eventstore.es_load_events('{00000000-0000-4000-8000-00000000e001}');
SELECT count(*) FROM eventstore.es_load('order-1', max_count => NULL);
SELECT count(*) FROM eventstore.es_load_correlated('c-1');
SELECT count(*) FROM eventstore.es_load_causes('00000000-0000-4000-8000-00000000e001');
SELECT count(*) FROM eventstore.es_load_effects('00000000-0000-4000-8000-00000000e001');
SELECT count(*) FROM eventstore.es_load_until('order-1', now());
SELECT eventstore.es_feed_position_at('2000-01-01') > 0 AS position_ok;
SELECT stream, version FROM eventstore.es_streams(prefix => 'order-');
SELECT * FROM eventstore.es_stream_versions(ARRAY['order-1', 'order-9']);
SELECT category, streams FROM eventstore.es_categories() WHERE category = 'order';
SELECT eventstore.es_append('order-1', 'X', '{}');
SELECT eventstore.es_append('{"stream": "order-1", "events": [{"type": "X"}]}');
SELECT count(*) FROM eventstore.events;

-- The monitor (operators, BI): plain SELECTs on the tables and the view,
-- nothing else; no function of the store.
\c - es_priv_monitor
SELECT count(*) > 0 AS sees_events FROM eventstore.events;
SELECT count(*) >= 0 AS sees_snapshots FROM eventstore.snapshots;
SELECT count(*) >= 0 AS sees_checkpoints FROM eventstore.checkpoints;
SELECT count(*) >= 0 AS sees_lag FROM eventstore.handler_lag;
INSERT INTO eventstore.events VALUES (1000, 'x-1', 1, gen_random_uuid(), 't', 'x', NULL, NULL, NULL, now());
UPDATE eventstore.checkpoints SET position = 0;
SELECT count(*) FROM eventstore.es_load('order-1');
SELECT eventstore.es_append('order-1', 'X', '{}');
SELECT count(*) FROM eventstore.table_additions;

-- The CDC connector: SELECT on events (its initial snapshot), nothing else.
\c - es_priv_cdc
SELECT count(*) > 0 AS sees_events FROM eventstore.events;
SELECT count(*) FROM eventstore.snapshots;
SELECT count(*) FROM eventstore.es_load('order-1');
DELETE FROM eventstore.events;

-- Only the extension's owner hands these grants out.
\c - es_priv_app
SELECT eventstore.es_grant_monitor('es_priv_nobody');
SELECT eventstore.es_grant_cdc('es_priv_nobody');

-- A role without grants: nothing.
\c - es_priv_nobody
SELECT eventstore.es_append('order-1', 'X', '{}');
SELECT eventstore.es_append('{"stream": "order-1", "events": [{"type": "X"}]}');
SELECT count(*) FROM eventstore.es_load('order-1');
SELECT eventstore.es_stream_version('order-1');
SELECT count(*) FROM eventstore.es_load_event('00000000-0000-4000-8000-00000000e001');
SELECT count(*) FROM eventstore.es_load_events('{00000000-0000-4000-8000-00000000e001}');
SELECT count(*) FROM eventstore.es_load_correlated('c-1');
SELECT count(*) FROM eventstore.es_load_until('order-1', now());
SELECT eventstore.es_feed_position_at('2000-01-01');
SELECT count(*) FROM eventstore.es_streams();
SELECT count(*) FROM eventstore.es_categories();
SELECT count(*) FROM eventstore.events;

-- search_path attack.  The writer builds objects that shadow everything the
-- functions use (a table named events, max, unnest, the = <= >= operators of
-- text, uuid and bigint) and puts them first on its search_path, also
-- before pg_catalog.  Each evil object records who called it (under SECURITY
-- DEFINER that would be the extension's owner) and returns a plausible lie.
\c - es_priv_app
CREATE SCHEMA evil;
CREATE TABLE evil.calls (what text, caller text);
CREATE FUNCTION evil.called(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO evil.calls VALUES (what, current_user);
END
$$;
CREATE TABLE evil.events (LIKE pg_catalog.pg_class);
CREATE FUNCTION evil.max(bigint) RETURNS bigint LANGUAGE plpgsql AS
    $$ BEGIN PERFORM evil.called('max'); RETURN 0; END $$;
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS
    $$ BEGIN PERFORM evil.called('unnest'); RETURN; END $$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN PERFORM evil.called('= text'); RETURN true; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE FUNCTION evil.uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN PERFORM evil.called('= uuid'); RETURN false; END $$;
CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = evil.uuid_eq);
CREATE FUNCTION evil.int8_cmp(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN PERFORM evil.called('cmp bigint'); RETURN true; END $$;
CREATE OPERATOR evil.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_cmp);
CREATE OPERATOR evil.>= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_cmp);
CREATE OPERATOR evil.< (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_cmp);
CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_cmp);
-- the evil objects do work when called unqualified
SET search_path = evil, pg_catalog;
SELECT 'a' = 'b' AS evil_eq;
SELECT what, caller FROM evil.calls;
TRUNCATE evil.calls;

-- A new session, so that the functions prepare their statements under the
-- hostile path (plans are cached per session).
\c - es_priv_app
SET search_path = evil, eventstore, public;
SELECT stream, version FROM es_append('order-1', 'OrderShipped', '{}', 2);
SELECT stream, version FROM es_append('order-1', 'Stale', '{}', 2);
SELECT stream, version FROM es_append('{"stream": "order-3", "expected_version": 0, "events": [{"type": "A"}, {"type": "B", "data_bin": "\\x01"}]}');
SELECT stream, version FROM es_append('[{"stream": "acct-1", "events": [{"type": "Debited"}]}, {"stream": "acct-2", "events": [{"type": "Credited"}]}]');
SELECT version, type FROM es_load('order-1');
SELECT version, type FROM es_load('order-1', 2, 2);
SELECT version, type FROM es_load('order-1', NULL, 2, true);
SELECT es_stream_version('order-1'), es_stream_version('order-3'), es_stream_version('nope-1');
-- idempotent retry and reused id go through the event-id probe (= ANY on uuid)
SELECT stream, version FROM es_append('idem-1', 'A', '{}', 0, NULL, '11111111-1111-1111-1111-111111111111');
SELECT stream, version FROM es_append('idem-1', 'A', '{}', 0, NULL, '11111111-1111-1111-1111-111111111111');
SELECT stream, version FROM es_append('idem-2', 'A', '{}', 0, NULL, '11111111-1111-1111-1111-111111111111');
SET search_path = evil, pg_catalog, eventstore, public;
SELECT stream, version FROM es_append('order-1', 'OrderClosed', '{}', 3);
SELECT stream, version FROM es_append('{"stream": "order-3", "expected_version": 2, "events": [{"type": "C"}, {"type": "D"}]}');
SELECT version, type FROM es_load('order-3', NULL, 10, true);
SELECT es_stream_version('order-3');
-- nothing evil ran
SELECT count(*) AS evil_calls FROM evil.calls;

-- Clean up (the database itself is dropped by the next run).
\c - postgres
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
DROP OWNED BY es_priv_app, es_priv_reader, es_priv_nobody, es_priv_monitor, es_priv_cdc;
DROP ROLE es_priv_app;
DROP ROLE es_priv_reader;
DROP ROLE es_priv_nobody;
DROP ROLE es_priv_monitor;
DROP ROLE es_priv_cdc;
