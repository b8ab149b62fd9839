-- Projections run in the server (docs/subscriptions.md, section 7): a
-- subscription with a handler is consumed by es_run_projection, which the
-- projection worker (src/projection_worker.c) calls in batches, as the
-- role that created the subscription.  One batch is one transaction: the
-- claim, every handler call and the ack commit together (exactly-once); an
-- event whose handler fails is retried, and parked after max_retries, in
-- the same transaction, while the others of the batch are acked.

-- Lease up to max_count events of a projection's subscription to the
-- server, pulling from the feed when the pool has none.  Only the
-- subscription's run_as role (or a superuser) may.
CREATE FUNCTION eventstore.es_projection_claim(subscription text, max_count integer)
RETURNS SETOF eventstore.events
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sub     eventstore.subscriptions;
    claimed bigint[];
    seen    bigint;
    pulled  boolean;
BEGIN
    PERFORM eventstore.es_subscription_check_name('subscription name', subscription);
    PERFORM eventstore.es_subscription_check_range('max_count', max_count, 1, 10000);
    SELECT * INTO sub FROM eventstore.subscriptions s WHERE s.name = subscription;
    IF NOT FOUND OR sub.handler IS NULL THEN
        RAISE EXCEPTION 'subscription "%" is not a projection', subscription USING ERRCODE = 'ES022',
            HINT = 'Create it with a handler (es_create_subscription(..., handler => ...)).';
    END IF;
    IF NOT pg_has_role(eventstore.es_subscription_caller(), sub.run_as, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied for projection "%"', subscription USING ERRCODE = '42501',
            DETAIL = format('It runs as role "%s".', sub.run_as);
    END IF;
    claimed := eventstore.es_subscription_claim(sub, 'server', max_count);
    IF cardinality(claimed) = 0 THEN
        SELECT p.seen, p.wrote INTO seen, pulled
        FROM eventstore.es_subscription_pull(sub, greatest(max_count, 100), sub.cursor_position) p;
        IF pulled THEN
            claimed := eventstore.es_subscription_claim(sub, 'server', max_count);
        END IF;
    END IF;
    IF cardinality(claimed) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO eventstore.subscription_consumers AS c (subscription, consumer, last_fetch_at)
    VALUES (sub.name, 'server', clock_timestamp())
    ON CONFLICT ON CONSTRAINT subscription_consumers_pkey
    DO UPDATE SET last_fetch_at = excluded.last_fetch_at;
    RETURN QUERY
        SELECT ev.* FROM unnest(claimed) WITH ORDINALITY AS c(pos, ord)
        JOIN eventstore.events ev ON ev.position = c.pos
        ORDER BY c.ord;
    -- Deleted from the store meanwhile: nothing left to handle.
    DELETE FROM eventstore.subscription_events e
    WHERE e.subscription = sub.name AND e.position = ANY (claimed)
      AND NOT EXISTS (SELECT 1 FROM eventstore.events ev WHERE ev.position = e.position);
END
$$;
COMMENT ON FUNCTION eventstore.es_projection_claim(text, integer) IS
    'Internal (es_run_projection): lease a batch of a projection''s events to the server.';

-- Settle a batch: ack what was handled, retry (or park, out of tries) what
-- failed, with the handler's error as the reason.
CREATE FUNCTION eventstore.es_projection_settle(subscription text, handled bigint[],
                                                failed bigint[], reasons text[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sub eventstore.subscriptions;
    i   integer;
BEGIN
    SELECT * INTO sub FROM eventstore.subscriptions s WHERE s.name = subscription;
    IF NOT FOUND OR sub.handler IS NULL
       OR NOT pg_has_role(eventstore.es_subscription_caller(), sub.run_as, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied for projection "%"', subscription USING ERRCODE = '42501';
    END IF;
    -- The batch's claim is in this same transaction, so no other consumer
    -- could see these leases: a batch slower than lease_ms keeps them.
    UPDATE eventstore.subscription_events e
    SET lease_until = clock_timestamp() + sub.lease_ms * interval '1 millisecond'
    WHERE e.subscription = sub.name AND e.consumer = 'server'
      AND e.position = ANY (handled || failed);
    IF cardinality(handled) > 0 THEN
        PERFORM eventstore.es_subscription_settle(sub, 'server', handled, 'ack', NULL, 0);
    END IF;
    FOR i IN 1 .. coalesce(cardinality(failed), 0) LOOP
        PERFORM eventstore.es_subscription_settle(sub, 'server', ARRAY[failed[i]], 'retry',
                                                  left(reasons[i], 10000), 1000);
    END LOOP;
END
$$;
COMMENT ON FUNCTION eventstore.es_projection_settle(text, bigint[], bigint[], text[]) IS
    'Internal (es_run_projection): ack the handled events of a batch, retry or park the failed ones.';

-- One batch of a projection, in the caller's transaction and with the
-- caller's rights (not SECURITY DEFINER: the handler must never run as the
-- store's owner).  Each handler call runs in a subtransaction, so a failing
-- event is rolled back alone.  Returns how many events were handled or
-- failed (0: nothing to do).
CREATE FUNCTION eventstore.es_run_projection(subscription text, max_count integer DEFAULT 100)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    call    text;
    ev      eventstore.events;
    handled bigint[] := '{}';
    failed  bigint[] := '{}';
    reasons text[] := '{}';
BEGIN
    -- The handler's name from the catalog, quoted: never text a caller chose.
    SELECT format('SELECT %I.%I($1)', n.nspname, p.proname) INTO call
    FROM eventstore.es_projection_handler(subscription) h
    JOIN pg_catalog.pg_proc p ON p.oid = h.handler
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace;
    FOR ev IN SELECT * FROM eventstore.es_projection_claim(subscription, max_count) LOOP
        BEGIN
            EXECUTE call USING ev;
            handled := handled || ev.position;
        EXCEPTION WHEN OTHERS THEN
            failed := failed || ev.position;
            reasons := reasons || format('%s: %s', SQLSTATE, SQLERRM);
        END;
    END LOOP;
    IF cardinality(handled) + cardinality(failed) > 0 THEN
        PERFORM eventstore.es_projection_settle(subscription, handled, failed, reasons);
    END IF;
    RETURN cardinality(handled) + cardinality(failed);
END
$$;
COMMENT ON FUNCTION eventstore.es_run_projection(text, integer) IS
    'Run one batch of a projection (a subscription with a handler) in the current transaction, as the current role, which must be the subscription''s run_as: each event''s handler call, then the acks, commit together; a failing event is retried and parked after max_retries. The projection worker calls it; it can be called by hand or from pg_cron too. Returns how many events it handled.';

-- The handler of a projection the caller may run.
CREATE FUNCTION eventstore.es_projection_handler(subscription text, OUT handler regprocedure)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sub eventstore.subscriptions;
BEGIN
    PERFORM eventstore.es_subscription_check_name('subscription name', subscription);
    SELECT * INTO sub FROM eventstore.subscriptions s WHERE s.name = subscription;
    IF NOT FOUND OR sub.handler IS NULL THEN
        RAISE EXCEPTION 'subscription "%" is not a projection', subscription USING ERRCODE = 'ES022',
            HINT = 'Create it with a handler (es_create_subscription(..., handler => ...)).';
    END IF;
    IF NOT pg_has_role(eventstore.es_subscription_caller(), sub.run_as, 'USAGE') THEN
        RAISE EXCEPTION 'permission denied for projection "%"', subscription USING ERRCODE = '42501',
            DETAIL = format('It runs as role "%s".', sub.run_as);
    END IF;
    -- Looked up now: the function may have been dropped or renamed (42883).
    handler := sub.handler::regprocedure;
END
$$;
COMMENT ON FUNCTION eventstore.es_projection_handler(text) IS
    'Internal (es_run_projection): the handler of a projection the calling role runs.';

-- The projections the worker runs, with their roles (the worker runs as a
-- superuser and takes each role for its batches).
CREATE FUNCTION eventstore.es_projections(OUT subscription text, OUT run_as name)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT s.name, s.run_as FROM eventstore.subscriptions s
    WHERE s.handler IS NOT NULL ORDER BY s.name;
END;
COMMENT ON FUNCTION eventstore.es_projections() IS
    'Internal (the projection worker): the subscriptions with a handler and the role each runs as.';

REVOKE ALL ON FUNCTION eventstore.es_projection_claim(text, integer),
    eventstore.es_projection_settle(text, bigint[], bigint[], text[]),
    eventstore.es_run_projection(text, integer), eventstore.es_projection_handler(text),
    eventstore.es_projections() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventstore.es_projection_claim(text, integer),
    eventstore.es_projection_settle(text, bigint[], bigint[], text[]),
    eventstore.es_run_projection(text, integer), eventstore.es_projection_handler(text)
TO @extowner@;
