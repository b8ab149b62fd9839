-- Read-only table access for operators, BI tools and CDC connectors
-- (docs/security.md).  Application roles read through the functions; these
-- grants are for tools that need plain SELECTs.  A plain SELECT does not
-- follow the feed's visibility rule (docs/global-feed.md): it may see a
-- higher position before a lower one that commits later, so a consumer
-- must page through es_load, not through the table.

CREATE FUNCTION eventstore.es_grant_monitor(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventstore.es_check_grantee(role_name);
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    EXECUTE format('GRANT SELECT ON eventstore.events, eventstore.snapshots, eventstore.checkpoints,'
                   ' eventstore.handler_lag TO %I', role_name);
    -- handler_lag calls it with the caller's rights
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_feed_head() TO %I', role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_monitor(name) IS
    'Let a role (operators, BI tools) run plain SELECTs on the events, snapshots and checkpoints tables and the handler_lag view; such SELECTs do not follow the feed''s visibility rule.';

CREATE FUNCTION eventstore.es_grant_cdc(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventstore.es_check_grantee(role_name);
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    EXECUTE format('GRANT SELECT ON eventstore.events TO %I', role_name);
    -- The index of tagged events, which a subscriber that answers queries
    -- (docs/dcb.md) receives with the events.
    EXECUTE format('GRANT SELECT ON eventstore.event_tags TO %I', role_name);
    -- The partitioned layout's tables that a subscriber taking over the
    -- appends needs too (docs/partitioning.md publishes them with events).
    IF pg_catalog.to_regclass('eventstore.event_ids') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON eventstore.event_ids TO %I', role_name);
    END IF;
    IF pg_catalog.to_regclass('eventstore.stream_starts') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON eventstore.stream_starts TO %I', role_name);
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_cdc(name) IS
    'Let a CDC connector''s role (e.g. Debezium) take its initial snapshot of the events table: USAGE on the schema and SELECT on events and event_tags, and in the partitioned layout on event_ids and stream_starts, which are published with it. The REPLICATION attribute and the publication are the operator''s (docs/operations.md).';

REVOKE ALL ON FUNCTION eventstore.es_grant_monitor(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_grant_cdc(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventstore.es_grant_monitor(name), eventstore.es_grant_cdc(name) TO @extowner@;
