-- Privileges.  Tables are written only through the SECURITY DEFINER
-- functions; applications get EXECUTE on them, never table rights.
-- Every SPI statement in the C code is schema-qualified, operators included,
-- so a caller's search_path cannot redirect them.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eventstore FROM PUBLIC;
-- A pure conversion of its argument, callable by every role with USAGE.
GRANT EXECUTE ON FUNCTION eventstore.es_expected_version(text) TO PUBLIC;

CREATE FUNCTION eventstore.es_grant_writer(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventstore.es_grant_scope(role_name, 'handler', '');
    PERFORM eventstore.es_grant_scope(role_name, 'category', '');
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_writer(name) IS
    'Let a role append events, save snapshots of every stream, advance and lock every handler, and read, through the functions only (no table rights). For a writer limited to some handlers or categories, use es_grant_handler and es_grant_category instead.';

CREATE FUNCTION eventstore.es_grant_reader(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f regprocedure;
BEGIN
    PERFORM eventstore.es_check_grantee(role_name);
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'eventstore'::regnamespace
          AND p.proname IN ('es_load', 'es_stream_version', 'es_feed_mode',
                            'es_feed_head', 'es_wait', 'es_stream_hash',
                            'es_load_snapshot', 'es_load_with_snapshot', 'es_handler_position',
                            'es_feed_holders', 'es_stream_info', 'es_load_feed',
                            'es_load_event', 'es_load_events', 'es_load_correlated',
                            'es_load_causes', 'es_load_effects', 'es_load_until',
                            'es_feed_position_at', 'es_streams', 'es_stream_versions',
                            'es_categories', 'es_archive_horizon', 'es_partitions',
                            'es_load_query')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, role_name);
    END LOOP;
    EXECUTE format('GRANT SELECT ON eventstore.handler_lag, eventstore.feed_holders TO %I', role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_reader(name) IS
    'Let a role read streams, the feed, snapshots and checkpoints, through the functions and the handler_lag and feed_holders views only (no table rights).';

CREATE FUNCTION eventstore.es_grant_admin(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventstore.es_grant_writer(role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_delete_stream(text, bigint, text), eventstore.es_restore_stream(text, text), eventstore.es_tombstone_stream(text, bigint, text), eventstore.es_erase_stream(text, text) TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_delete_snapshots(text, text, text), eventstore.es_reset_checkpoint(text, text, bigint, text) TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_set_retention(text, bigint, bigint, interval, text), eventstore.es_apply_retention(integer) TO %I', role_name);
    EXECUTE format('GRANT SELECT ON eventstore.lifecycle_log TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_archive_events(bigint, text) TO %I', role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_admin(name) IS
    'Let a role delete, restore, tombstone and erase streams, delete snapshots and reset checkpoints, set and apply retention and archive the oldest partitions (the audited lifecycle functions, docs/lifecycle.md, docs/partitioning.md) and read the lifecycle log, besides everything a writer may do.';

REVOKE ALL ON FUNCTION eventstore.es_grant_writer(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_grant_reader(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_grant_admin(name) FROM PUBLIC;

-- Installing without a superuser (docs/security.md): eventstore is a trusted
-- extension, so a role with CREATE on the database can install it; the
-- script then runs as the bootstrap superuser, which owns every object.  The
-- installing role (the extension's owner) gets what an application needs
-- and the right to hand it on, nothing more: it can append and read through
-- the functions and call es_grant_writer / es_grant_reader (SECURITY
-- DEFINER, so that it needs no grant option), and it does not own the schema:
-- a schema's owner could add objects beside the store's functions, which run
-- as a superuser.
-- (The schema was given to the superuser first: 00_claim_schema.sql.)
-- The owner's name is read from the catalog, never written into a string
-- literal: @extowner@ is substituted as an identifier, and a role name may
-- hold a quote that would end the literal.
GRANT EXECUTE ON FUNCTION eventstore.es_grant_writer(name), eventstore.es_grant_reader(name) TO @extowner@;
SELECT eventstore.es_grant_writer(pg_catalog.pg_get_userbyid(e.extowner))
FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name;
-- The owner and its members need no rows in eventstore.grants (src/grants.c),
-- and a row written by this script would come back from a dump as data and
-- collide with the one CREATE EXTENSION writes on restore.
DELETE FROM eventstore.grants;
-- Issue 11: the owner hands out and reads the handler and category grants.
GRANT EXECUTE ON FUNCTION eventstore.es_grant_handler(name, text), eventstore.es_grant_category(name, text),
    eventstore.es_revoke_handler(name, text), eventstore.es_revoke_category(name, text) TO @extowner@;
GRANT SELECT ON TABLE eventstore.grants TO @extowner@;
