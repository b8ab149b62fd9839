-- Managed subscriptions: what operators see, and who may consume what
-- (docs/subscriptions.md, sections 8-9).  The views read through SECURITY
-- DEFINER functions that show each role only the subscriptions it was
-- granted (an admin sees all).

CREATE FUNCTION eventstore.es_subscription_stats()
RETURNS TABLE (subscription text, strategy text, checkpoint bigint, cursor_position bigint,
               head bigint, lag_events bigint, lag_seconds double precision, in_flight bigint,
               waiting bigint, parked bigint, consumers bigint, last_ack_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    feed_head bigint := eventstore.es_feed_head();
    s         eventstore.subscriptions;
    oldest    bigint;
    ahead     bigint;
BEGIN
    FOR s IN SELECT * FROM eventstore.subscriptions x ORDER BY x.name LOOP
        CONTINUE WHEN NOT eventstore.es_subscription_allowed(s.name);
        subscription := s.name;
        strategy := s.strategy;
        cursor_position := s.cursor_position;
        head := feed_head;
        SELECT count(*), count(*) FILTER (WHERE e.lease_until > clock_timestamp()), min(e.position)
        INTO waiting, in_flight, oldest
        FROM eventstore.subscription_events e WHERE e.subscription = s.name;
        waiting := waiting - in_flight;
        checkpoint := least(s.cursor_position, oldest - 1);
        -- Matching events the subscription has not pulled yet (counted up
        -- to 100,000: the cost grows with the lag).
        SELECT count(*), min(f.position) INTO ahead, oldest
        FROM eventstore.es_load_feed(s.cursor_position, 100000::bigint, NULL::bigint, false,
                                     s.category, s.types) f;
        lag_events := waiting + in_flight + ahead;
        oldest := coalesce(least(checkpoint + 1, oldest), oldest);
        SELECT extract(epoch FROM clock_timestamp() - ev.created_at) INTO lag_seconds
        FROM eventstore.events ev
        WHERE ev.position >= oldest AND lag_events > 0 ORDER BY ev.position LIMIT 1;
        lag_seconds := coalesce(lag_seconds, 0);
        SELECT count(*) INTO parked FROM eventstore.subscription_parked p WHERE p.subscription = s.name;
        SELECT count(*), max(c.last_ack_at) INTO consumers, last_ack_at
        FROM eventstore.subscription_consumers c WHERE c.subscription = s.name;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION eventstore.es_subscription_stats() IS
    'The rows of the subscription_stats view.';

CREATE VIEW eventstore.subscription_stats AS SELECT * FROM eventstore.es_subscription_stats();
COMMENT ON VIEW eventstore.subscription_stats IS
    'Per subscription the caller may see: checkpoint, cursor, the feed''s head, lag in events (pool plus unpulled matching events, these counted up to 100,000) and seconds (age of the oldest event not done), events in flight, waiting and parked, consumers, last ack.';

CREATE FUNCTION eventstore.es_subscription_consumer_stats()
RETURNS TABLE (subscription text, consumer text, in_flight bigint, acked bigint, nacked bigint,
               skipped bigint, parked bigint, first_seen_at timestamptz,
               last_fetch_at timestamptz, last_ack_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT c.subscription, c.consumer,
           (SELECT count(*) FROM eventstore.subscription_events e
            WHERE e.subscription OPERATOR(pg_catalog.=) c.subscription
              AND e.consumer OPERATOR(pg_catalog.=) c.consumer
              AND e.lease_until OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()),
           c.acked, c.nacked, c.skipped, c.parked, c.first_seen_at, c.last_fetch_at, c.last_ack_at
    FROM eventstore.subscription_consumers c
    WHERE eventstore.es_subscription_allowed(c.subscription)
    ORDER BY c.subscription, c.consumer;
END;
COMMENT ON FUNCTION eventstore.es_subscription_consumer_stats() IS
    'The rows of the subscription_consumer_stats view.';

CREATE VIEW eventstore.subscription_consumer_stats AS SELECT * FROM eventstore.es_subscription_consumer_stats();
COMMENT ON VIEW eventstore.subscription_consumer_stats IS
    'Per subscription the caller may see and consumer: events in flight, acked, nacked, skipped and parked, first seen, last fetch, last ack.';

CREATE FUNCTION eventstore.es_subscription_parked_events()
RETURNS TABLE (subscription text, "position" bigint, stream text, event_id uuid, type text,
               tries integer, reason text, consumer text, parked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT p.subscription, p.position, p.stream, p.event_id, ev.type, p.tries, p.reason,
           p.consumer, p.parked_at
    FROM eventstore.subscription_parked p
    LEFT JOIN eventstore.events ev ON ev.position OPERATOR(pg_catalog.=) p.position
    WHERE eventstore.es_subscription_allowed(p.subscription)
    ORDER BY p.subscription, p.position;
END;
COMMENT ON FUNCTION eventstore.es_subscription_parked_events() IS
    'The rows of the subscription_parked_events view.';

CREATE VIEW eventstore.subscription_parked_events AS SELECT * FROM eventstore.es_subscription_parked_events();
COMMENT ON VIEW eventstore.subscription_parked_events IS
    'Parked events of the subscriptions the caller may see: why, how many tries, which consumer had them; es_replay_parked puts them back.';

CREATE FUNCTION eventstore.es_grant_subscription(role_name name, subscription text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventstore.es_subscription_check_admin();
    PERFORM eventstore.es_check_grantee(role_name);
    PERFORM eventstore.es_subscription_for_call(subscription);
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_fetch(text, text, integer, integer),'
                   ' eventstore.es_ack(text, text, bigint[]), eventstore.es_ack_ids(text, text, uuid[]),'
                   ' eventstore.es_nack(text, text, bigint[], text, text, integer),'
                   ' eventstore.es_subscription_checkpoint(text), eventstore.es_subscription_stats(),'
                   ' eventstore.es_subscription_consumer_stats(), eventstore.es_subscription_parked_events()'
                   ' TO %I', role_name);
    EXECUTE format('GRANT SELECT ON eventstore.subscription_stats, eventstore.subscription_consumer_stats,'
                   ' eventstore.subscription_parked_events TO %I', role_name);
    INSERT INTO eventstore.subscription_grants (grantee, subscription)
    VALUES (role_name, es_grant_subscription.subscription)
    ON CONFLICT ON CONSTRAINT subscription_grants_pkey DO NOTHING;
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_subscription(name, text) IS
    'Admin: let a role consume one subscription (es_fetch, es_ack, es_ack_ids, es_nack, es_subscription_checkpoint, the subscription views); other subscriptions stay out of its reach (42501). Never to PUBLIC (22023).';

CREATE FUNCTION eventstore.es_revoke_subscription(role_name name, subscription text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventstore.es_subscription_check_admin();
    DELETE FROM eventstore.subscription_grants g
    WHERE g.grantee = role_name AND g.subscription = es_revoke_subscription.subscription;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION eventstore.es_revoke_subscription(name, text) IS
    'Admin: remove a role''s grant of one subscription; true when there was one. EXECUTE rights stay, the subscription is out of its reach (42501).';

-- Nothing of this is PUBLIC's; the admin (the extension's owner) manages it.
REVOKE ALL ON FUNCTION
    eventstore.es_subscription_caller(), eventstore.es_subscription_wake(),
    eventstore.es_subscription_wait_prepare(), eventstore.es_subscription_sleep(integer),
    eventstore.es_subscription_wait_cancel(), eventstore.es_subscription_is_admin(),
    eventstore.es_subscription_allowed(text), eventstore.es_subscription_check_name(text, text),
    eventstore.es_subscription_for_call(text), eventstore.es_subscription_check_admin(),
    eventstore.es_subscription_check_range(text, bigint, bigint, bigint),
    eventstore.es_check_projection_handler(regprocedure),
    eventstore.es_create_subscription(text, text, text[], bigint, text, integer, integer, integer, regprocedure),
    eventstore.es_drop_subscription(text), eventstore.es_replay_parked(text, bigint[]),
    eventstore.es_subscription_claim(eventstore.subscriptions, text, integer),
    eventstore.es_subscription_pull(eventstore.subscriptions, integer, bigint),
    eventstore.es_fetch(text, text, integer, integer),
    eventstore.es_subscription_settle(eventstore.subscriptions, text, bigint[], text, text, integer),
    eventstore.es_ack(text, text, bigint[]), eventstore.es_ack_ids(text, text, uuid[]),
    eventstore.es_nack(text, text, bigint[], text, text, integer),
    eventstore.es_subscription_checkpoint(text), eventstore.es_subscription_stats(),
    eventstore.es_subscription_consumer_stats(), eventstore.es_subscription_parked_events(),
    eventstore.es_grant_subscription(name, text), eventstore.es_revoke_subscription(name, text)
FROM PUBLIC;
REVOKE ALL ON eventstore.subscription_stats, eventstore.subscription_consumer_stats,
    eventstore.subscription_parked_events FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    eventstore.es_create_subscription(text, text, text[], bigint, text, integer, integer, integer, regprocedure),
    eventstore.es_drop_subscription(text), eventstore.es_replay_parked(text, bigint[]),
    eventstore.es_grant_subscription(name, text), eventstore.es_revoke_subscription(name, text),
    eventstore.es_fetch(text, text, integer, integer),
    eventstore.es_ack(text, text, bigint[]), eventstore.es_ack_ids(text, text, uuid[]),
    eventstore.es_nack(text, text, bigint[], text, text, integer),
    eventstore.es_subscription_checkpoint(text), eventstore.es_subscription_stats(),
    eventstore.es_subscription_consumer_stats(), eventstore.es_subscription_parked_events()
TO @extowner@;
GRANT SELECT ON eventstore.subscription_stats, eventstore.subscription_consumer_stats,
    eventstore.subscription_parked_events TO @extowner@;
-- pg_dump as the owner reads every table of the store (89_owner_backup.sql
-- grants it on all tables of a fresh install; an update needs it said).
GRANT SELECT ON eventstore.subscriptions, eventstore.subscription_events,
    eventstore.subscription_parked, eventstore.subscription_consumers,
    eventstore.subscription_grants TO @extowner@;
