-- Privileges.  Tables are written only through the SECURITY DEFINER
-- functions; applications get EXECUTE on them, never table rights.
-- Every SPI statement in the C code is schema-qualified, operators included,
-- so a caller's search_path cannot redirect them.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eventstore FROM PUBLIC;

CREATE FUNCTION eventstore.es_grant_writer(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f regprocedure;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'eventstore'::regnamespace
          AND p.proname IN ('es_load', 'es_stream_version', 'es_feed_mode',
                            'es_feed_head', 'es_wait', 'es_stream_hash',
                            'es_load_snapshot', 'es_load_with_snapshot', 'es_handler_position',
                            'es_load_event', 'es_load_events', 'es_load_correlated',
                            'es_load_causes', 'es_load_effects', 'es_load_until',
                            'es_feed_position_at', 'es_streams', 'es_stream_versions',
                            'es_categories')
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

-- Installing without a superuser (docs/security.md): eventstore is a trusted
-- extension, so a role with CREATE on the database can install it; the
-- script then runs as the bootstrap superuser, which owns every object.  The
-- installing role (the extension's owner) gets what an application needs
-- and the right to hand it on, nothing more: it can append and read through
-- the functions and call es_grant_writer / es_grant_reader (SECURITY
-- DEFINER, so that it needs no grant option), and it does not own the schema:
-- a schema's owner could add objects beside the store's functions, which run
-- as a superuser.
ALTER SCHEMA eventstore OWNER TO CURRENT_USER;
GRANT EXECUTE ON FUNCTION eventstore.es_grant_writer(name), eventstore.es_grant_reader(name) TO @extowner@;
SELECT eventstore.es_grant_writer('@extowner@');
