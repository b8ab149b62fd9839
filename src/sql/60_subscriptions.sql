-- Managed subscriptions (issue 25; docs/subscriptions.md): the tables, the
-- checks every call shares, and the admin's functions.  Consumers' calls are
-- in 61_subscription_consume.sql, the views and grants in
-- 62_subscription_views.sql, the wait in src/subscription_wait.c.

CREATE TABLE eventstore.subscriptions (
    name            text        NOT NULL,
    category        text,
    types           text[],
    strategy        text        NOT NULL,
    lease_ms        integer     NOT NULL,
    max_retries     integer     NOT NULL,
    max_in_flight   integer     NOT NULL,
    start_after     bigint      NOT NULL,
    cursor_position bigint      NOT NULL,
    next_seq        bigint      NOT NULL DEFAULT 1,
    -- text, not regprocedure: pg_upgrade refuses reg* columns in tables
    handler         text,
    run_as          name,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT subscriptions_pkey PRIMARY KEY (name),
    CONSTRAINT subscriptions_strategy_check
        CHECK (strategy OPERATOR(pg_catalog.=) ANY (ARRAY['pinned', 'round_robin']))
);
COMMENT ON TABLE eventstore.subscriptions IS
    'Managed subscriptions: filter, strategy, limits and the cursor (every matching event at or below cursor_position is in the pool or done). Written by es_create_subscription, es_drop_subscription and es_fetch only.';

-- The pool: events pulled from the feed and not done yet.  A row is leased
-- while lease_until is in the future, waiting otherwise.  seq is the order of
-- arrival (from the subscription's next_seq, taken under its row lock, so it
-- survives a dump); pinned subscriptions deliver only the lowest seq of each
-- stream.
CREATE TABLE eventstore.subscription_events (
    subscription text        NOT NULL,
    position     bigint      NOT NULL,
    seq          bigint      NOT NULL,
    stream       text        NOT NULL,
    event_id     uuid        NOT NULL,
    consumer     text,
    lease_until  timestamptz,
    tries        integer     NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT '-infinity'::pg_catalog.timestamptz,
    reason       text,
    CONSTRAINT subscription_events_pkey PRIMARY KEY (subscription, position)
);
CREATE INDEX subscription_events_seq_idx ON eventstore.subscription_events (subscription, seq);
CREATE INDEX subscription_events_stream_idx ON eventstore.subscription_events (subscription, stream, seq);
COMMENT ON TABLE eventstore.subscription_events IS
    'The pool of each subscription: events pulled from the feed that are not acked, skipped or parked yet; leased (lease_until in the future, to consumer) or waiting.';

CREATE TABLE eventstore.subscription_parked (
    subscription text        NOT NULL,
    position     bigint      NOT NULL,
    stream       text        NOT NULL,
    event_id     uuid        NOT NULL,
    tries        integer     NOT NULL,
    reason       text,
    consumer     text,
    parked_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT subscription_parked_pkey PRIMARY KEY (subscription, position)
);
COMMENT ON TABLE eventstore.subscription_parked IS
    'Parked events of each subscription (a nack with park, or max_retries reached), until es_replay_parked.';

CREATE TABLE eventstore.subscription_consumers (
    subscription  text        NOT NULL,
    consumer      text        NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_fetch_at timestamptz,
    last_ack_at   timestamptz,
    acked         bigint      NOT NULL DEFAULT 0,
    nacked        bigint      NOT NULL DEFAULT 0,
    skipped       bigint      NOT NULL DEFAULT 0,
    parked        bigint      NOT NULL DEFAULT 0,
    CONSTRAINT subscription_consumers_pkey PRIMARY KEY (subscription, consumer)
);
COMMENT ON TABLE eventstore.subscription_consumers IS
    'Every consumer that fetched from a subscription: when it was last seen, what it acked, nacked, skipped and parked. Written only by that consumer''s own calls.';

CREATE TABLE eventstore.subscription_grants (
    grantee      name        NOT NULL,
    subscription text        NOT NULL,
    granted_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT subscription_grants_pkey PRIMARY KEY (grantee, subscription)
);
COMMENT ON TABLE eventstore.subscription_grants IS
    'Which role may consume which subscription (es_grant_subscription); members that inherit the role''s privileges are covered too.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('eventstore.subscription_events', '');
SELECT pg_catalog.pg_extension_config_dump('eventstore.subscription_parked', '');
SELECT pg_catalog.pg_extension_config_dump('eventstore.subscription_consumers', '');
SELECT pg_catalog.pg_extension_config_dump('eventstore.subscription_grants', '');
REVOKE ALL ON TABLE eventstore.subscriptions, eventstore.subscription_events,
    eventstore.subscription_parked, eventstore.subscription_consumers,
    eventstore.subscription_grants FROM PUBLIC;

-- The C helpers (src/subscription_wait.c).
CREATE FUNCTION eventstore.es_subscription_caller() RETURNS oid
AS 'MODULE_PATHNAME', 'es_subscription_caller' LANGUAGE C STABLE;
COMMENT ON FUNCTION eventstore.es_subscription_caller() IS
    'Internal: the role that called the store (the session''s current role outside any function).';
CREATE FUNCTION eventstore.es_subscription_wake() RETURNS void
AS 'MODULE_PATHNAME', 'es_subscription_wake' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION eventstore.es_subscription_wake() IS
    'Internal: wake waiting fetches when the current transaction commits (it freed events).';
CREATE FUNCTION eventstore.es_subscription_wait_prepare() RETURNS void
AS 'MODULE_PATHNAME', 'es_subscription_wait_prepare' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION eventstore.es_subscription_wait_prepare() IS
    'Internal: join the waiters before es_fetch looks, so that no wake-up is lost.';
CREATE FUNCTION eventstore.es_subscription_sleep(timeout_ms integer) RETURNS boolean
AS 'MODULE_PATHNAME', 'es_subscription_sleep' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION eventstore.es_subscription_sleep(integer) IS
    'Internal: sleep until a wake-up since es_subscription_wait_prepare, or timeout_ms; true when woken.';
CREATE FUNCTION eventstore.es_subscription_wait_cancel() RETURNS void
AS 'MODULE_PATHNAME', 'es_subscription_wait_cancel' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION eventstore.es_subscription_wait_cancel() IS
    'Internal: stop waiting (es_fetch returns).';

-- Whether the calling role is an admin of the store: a superuser, or the
-- extension's owner or a member of it.
CREATE FUNCTION eventstore.es_subscription_is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT pg_catalog.pg_has_role(eventstore.es_subscription_caller(), e.extowner, 'USAGE')
    FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name;
END;
COMMENT ON FUNCTION eventstore.es_subscription_is_admin() IS
    'Internal: whether the calling role is a superuser, the extension''s owner or a member of it.';

-- Whether the calling role may consume (or see) a subscription.
CREATE FUNCTION eventstore.es_subscription_allowed(subscription text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT eventstore.es_subscription_is_admin()
        OR EXISTS (SELECT 1 FROM eventstore.subscription_grants g
                   JOIN pg_catalog.pg_authid r ON r.rolname OPERATOR(pg_catalog.=) g.grantee
                   WHERE g.subscription OPERATOR(pg_catalog.=) es_subscription_allowed.subscription
                     AND pg_catalog.pg_has_role(eventstore.es_subscription_caller(), r.oid, 'USAGE'));
END;
COMMENT ON FUNCTION eventstore.es_subscription_allowed(text) IS
    'Internal: whether the calling role is an admin or holds a grant of the subscription.';

-- Ensure a subscription or consumer name is usable: not NULL (22004), not
-- empty, at most 255 bytes, no control characters, no blanks at either end
-- (22023).
CREATE FUNCTION eventstore.es_subscription_check_name(what text, val text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF val IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = '22004';
    END IF;
    IF val = '' THEN
        RAISE EXCEPTION '% must not be empty', what USING ERRCODE = '22023';
    END IF;
    IF octet_length(val) > 255 THEN
        RAISE EXCEPTION '% is too long', what USING ERRCODE = '22023',
            DETAIL = format('It is %s bytes; the limit is 255.', octet_length(val));
    END IF;
    IF val ~ '[[:cntrl:]]' OR val <> btrim(val) THEN
        RAISE EXCEPTION '% "%" contains control characters or blanks at an end', what, val
            USING ERRCODE = '22023';
    END IF;
    RETURN val;
END
$$;
COMMENT ON FUNCTION eventstore.es_subscription_check_name(text, text) IS
    'Internal: refuse a NULL (22004), empty, over-long or badly formed (22023) subscription or consumer name.';

-- The subscription a consumer call names, after the access check: 42501
-- before the lookup, so that a role learns nothing of subscriptions it was
-- not granted; ES022 when it does not exist.
CREATE FUNCTION eventstore.es_subscription_for_call(subscription text)
RETURNS eventstore.subscriptions
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s eventstore.subscriptions;
BEGIN
    PERFORM eventstore.es_subscription_check_name('subscription name', subscription);
    IF NOT eventstore.es_subscription_allowed(subscription) THEN
        RAISE EXCEPTION 'permission denied for subscription "%"', subscription
            USING ERRCODE = '42501',
                  DETAIL = format('Role "%s" holds no grant of this subscription.',
                                  pg_get_userbyid(eventstore.es_subscription_caller())),
                  HINT = 'An admin can grant it with es_grant_subscription.';
    END IF;
    SELECT * INTO s FROM eventstore.subscriptions x WHERE x.name = subscription;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', subscription USING ERRCODE = 'ES022';
    END IF;
    RETURN s;
END
$$;
COMMENT ON FUNCTION eventstore.es_subscription_for_call(text) IS
    'Internal: check the caller''s grant (42501), then look the subscription up (ES022).';

CREATE FUNCTION eventstore.es_subscription_check_admin() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT eventstore.es_subscription_is_admin() THEN
        RAISE EXCEPTION 'permission denied to manage subscriptions'
            USING ERRCODE = '42501',
                  HINT = 'Subscriptions are created, dropped, replayed and granted by a superuser or the extension''s owner.';
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_subscription_check_admin() IS
    'Internal: refuse (42501) a caller that is not an admin of the store.';

-- Ensure an integer argument is given and within lo .. hi.
CREATE FUNCTION eventstore.es_subscription_check_range(what text, val bigint, lo bigint, hi bigint)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF val IS NULL THEN
        RAISE EXCEPTION '% must not be null', what USING ERRCODE = '22004';
    END IF;
    IF val < lo OR val > hi THEN
        RAISE EXCEPTION '% must be between % and %', what, lo, hi
            USING ERRCODE = '22023', DETAIL = format('It is %s.', val);
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_subscription_check_range(text, bigint, bigint, bigint) IS
    'Internal: refuse a NULL (22004) or out-of-range (22023) limit.';

-- Ensure a projection handler is a plain function of one eventstore.events
-- returning void, that the calling role may execute (ES027).
CREATE FUNCTION eventstore.es_check_projection_handler(handler regprocedure) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p pg_catalog.pg_proc;
BEGIN
    SELECT * INTO STRICT p FROM pg_catalog.pg_proc x WHERE x.oid = handler;
    IF p.prokind <> 'f' OR p.pronargs <> 1 OR p.proretset
       OR p.proargtypes[0] <> 'eventstore.events'::regtype
       OR p.prorettype <> 'void'::regtype THEN
        RAISE EXCEPTION 'handler % has the wrong signature', handler
            USING ERRCODE = 'ES027',
                  DETAIL = 'A projection handler is a function of one eventstore.events returning void.',
                  HINT = 'CREATE FUNCTION my_projection(e eventstore.events) RETURNS void ...';
    END IF;
    IF NOT has_function_privilege(eventstore.es_subscription_caller(), handler, 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function %', handler USING ERRCODE = '42501',
            DETAIL = 'The handler runs as the role that creates the subscription, which must be allowed to execute it.';
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_check_projection_handler(regprocedure) IS
    'Internal: refuse a projection handler of the wrong signature (ES027) or one the calling role cannot execute (42501).';

CREATE FUNCTION eventstore.es_create_subscription(
    name          text,
    category      text    DEFAULT NULL,
    types         text[]  DEFAULT NULL,
    start_after   bigint  DEFAULT 0,
    strategy      text    DEFAULT 'round_robin',
    lease_ms      integer DEFAULT 30000,
    max_retries   integer DEFAULT 10,
    max_in_flight integer DEFAULT 1000,
    handler       regprocedure DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head bigint;
BEGIN
    PERFORM eventstore.es_subscription_check_admin();
    PERFORM eventstore.es_subscription_check_name('subscription name', name);
    IF category IS NOT NULL THEN
        PERFORM eventstore.es_subscription_check_name('category', category);
        IF strpos(category, '-') > 0 THEN
            RAISE EXCEPTION 'category "%" contains "-"', category USING ERRCODE = '22023',
                DETAIL = 'A category is the part of a stream name before its first "-".';
        END IF;
    END IF;
    IF types IS NOT NULL THEN
        IF cardinality(types) = 0 OR array_ndims(types) > 1 THEN
            RAISE EXCEPTION 'types must be a non-empty one-dimensional array' USING ERRCODE = '22023',
                HINT = 'Pass NULL for events of every type.';
        END IF;
        IF array_position(types, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'types must not contain null elements' USING ERRCODE = '22004';
        END IF;
        PERFORM eventstore.es_subscription_check_name('event type', t) FROM unnest(types) t;
    END IF;
    IF strategy IS NULL THEN
        RAISE EXCEPTION 'strategy must not be null' USING ERRCODE = '22004';
    END IF;
    IF strategy NOT IN ('pinned', 'round_robin') THEN
        RAISE EXCEPTION 'unrecognized strategy: "%"', strategy USING ERRCODE = '22023',
            HINT = 'A strategy is pinned or round_robin.';
    END IF;
    PERFORM eventstore.es_subscription_check_range('lease_ms', lease_ms, 100, 3600000);
    PERFORM eventstore.es_subscription_check_range('max_retries', max_retries, 0, 1000);
    PERFORM eventstore.es_subscription_check_range('max_in_flight', max_in_flight, 1, 100000);
    PERFORM eventstore.es_subscription_check_range('start_after', start_after, 0, 9223372036854775807);
    IF handler IS NOT NULL THEN
        PERFORM eventstore.es_check_projection_handler(handler);
    END IF;
    head := eventstore.es_feed_head();
    IF start_after > head THEN
        RAISE EXCEPTION 'start_after is beyond the head of the feed' USING ERRCODE = '22023',
            DETAIL = format('It is %s; the head is %s.', start_after, head),
            HINT = 'Start from 0 (every event), from es_feed_head() (new events only) or from a position already read.';
    END IF;
    BEGIN
        INSERT INTO eventstore.subscriptions AS s
            (name, category, types, strategy, lease_ms, max_retries, max_in_flight,
             start_after, cursor_position, handler, run_as)
        VALUES (name, category, types, strategy, lease_ms, max_retries, max_in_flight,
                start_after, start_after,
                handler::text,      -- schema-qualified: search_path is pg_catalog here
                CASE WHEN handler IS NOT NULL
                     THEN pg_get_userbyid(eventstore.es_subscription_caller()) END);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'subscription "%" already exists', name USING ERRCODE = 'ES026',
            HINT = 'Drop it first with es_drop_subscription, or choose another name.';
    END;
END
$$;
COMMENT ON FUNCTION eventstore.es_create_subscription(text, text, text[], bigint, text, integer, integer, integer, regprocedure) IS
    'Admin: create a managed subscription of the events after start_after (0: all; es_feed_head(): from now), optionally of one category and some event types, with strategy pinned (per-stream order, one event of a stream in flight) or round_robin, a lease, retries before parking and a limit on events in flight; with a handler (a function of one eventstore.events returning void) the server runs it as a projection, as the creating role (docs/subscriptions.md).';

CREATE FUNCTION eventstore.es_drop_subscription(name text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_it boolean;
BEGIN
    PERFORM eventstore.es_subscription_check_admin();
    PERFORM eventstore.es_subscription_check_name('subscription name', name);
    DELETE FROM eventstore.subscriptions s WHERE s.name = es_drop_subscription.name;
    found_it := FOUND;
    DELETE FROM eventstore.subscription_events e WHERE e.subscription = es_drop_subscription.name;
    DELETE FROM eventstore.subscription_parked p WHERE p.subscription = es_drop_subscription.name;
    DELETE FROM eventstore.subscription_consumers c WHERE c.subscription = es_drop_subscription.name;
    DELETE FROM eventstore.subscription_grants g WHERE g.subscription = es_drop_subscription.name;
    RETURN found_it;
END
$$;
COMMENT ON FUNCTION eventstore.es_drop_subscription(text) IS
    'Admin: drop a subscription with its pool, parked events, consumers and grants; true when it existed.';

CREATE FUNCTION eventstore.es_replay_parked(subscription text, positions bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n    integer;
    seq0 bigint;
BEGIN
    PERFORM eventstore.es_subscription_check_admin();
    PERFORM eventstore.es_subscription_for_call(subscription);
    -- One inserter into the pool at a time (with the pulls): seq order is
    -- commit order, so a replayed event never slips before a leased head.
    SELECT s.next_seq INTO seq0 FROM eventstore.subscriptions s
    WHERE s.name = es_replay_parked.subscription FOR NO KEY UPDATE;
    WITH back AS (
        DELETE FROM eventstore.subscription_parked p
        WHERE p.subscription = es_replay_parked.subscription
          AND (positions IS NULL OR p.position = ANY (positions))
        RETURNING p.position, p.stream, p.event_id)
    INSERT INTO eventstore.subscription_events (subscription, position, seq, stream, event_id)
    SELECT es_replay_parked.subscription, b.position,
           seq0 + pg_catalog.row_number() OVER (ORDER BY b.position) - 1, b.stream, b.event_id
    FROM back b;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE eventstore.subscriptions s SET next_seq = seq0 + n
    WHERE s.name = es_replay_parked.subscription;
    IF n > 0 THEN
        PERFORM eventstore.es_subscription_wake();
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION eventstore.es_replay_parked(text, bigint[]) IS
    'Admin: put parked events (all, or those at the given positions) back into the subscription''s pool, with their tries reset; returns how many. In a pinned subscription each goes to the back of its stream''s queue.';
