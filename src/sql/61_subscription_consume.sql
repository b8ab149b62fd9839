-- Managed subscriptions: the consumers' calls (docs/subscriptions.md,
-- sections 3-6).  Every call is one statement: no session state, so they
-- work through a pooler in transaction mode.

-- Claim up to max_count waiting events for a consumer: in seq order, each
-- locked with SKIP LOCKED (concurrent fetches never wait for each other or
-- take the same row); pinned: only the head of each stream.  Rows delivered
-- max_retries + 1 times whose lease ran out are parked first.  Returns the
-- claimed positions in seq order.  Internal: called by es_fetch only.
CREATE FUNCTION eventstore.es_subscription_claim(sub eventstore.subscriptions, consumer text, max_count integer)
RETURNS bigint[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    now_ts    timestamptz := clock_timestamp();
    in_flight integer;
    n         integer;
    picked    bigint[];
    claimed   bigint[];
BEGIN
    -- Events whose last allowed delivery's lease ran out: parked.
    WITH gone AS (
        DELETE FROM eventstore.subscription_events e
        WHERE e.subscription = sub.name AND e.tries > sub.max_retries
          AND e.lease_until <= now_ts
          AND e.position = ANY (ARRAY(
              SELECT x.position FROM eventstore.subscription_events x
              WHERE x.subscription = sub.name AND x.tries > sub.max_retries
                AND x.lease_until <= now_ts
              FOR UPDATE SKIP LOCKED))
        RETURNING e.position, e.stream, e.event_id, e.tries, e.consumer)
    INSERT INTO eventstore.subscription_parked (subscription, position, stream, event_id, tries, reason, consumer)
    SELECT sub.name, g.position, g.stream, g.event_id, g.tries,
           format('lease ran out %s times', g.tries), g.consumer
    FROM gone g;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM eventstore.es_subscription_wake();
    END IF;

    SELECT count(*) INTO in_flight FROM eventstore.subscription_events e
    WHERE e.subscription = sub.name AND e.lease_until > now_ts;
    n := least(max_count, sub.max_in_flight - in_flight);
    IF n <= 0 THEN
        RETURN '{}';
    END IF;

    -- The rows first (locked, SKIP LOCKED), then the update by primary key:
    -- the pool is small and often not analyzed, and a join would be planned
    -- as a nested loop over it.
    IF sub.strategy = 'pinned' THEN
        picked := ARRAY(
            SELECT e.position FROM eventstore.subscription_events e
            WHERE e.subscription = sub.name
              AND (e.lease_until IS NULL OR e.lease_until <= now_ts)
              AND e.available_at <= now_ts
              AND NOT EXISTS (SELECT 1 FROM eventstore.subscription_events h
                              WHERE h.subscription = e.subscription AND h.stream = e.stream
                                AND h.seq < e.seq)
            ORDER BY e.seq LIMIT n
            FOR UPDATE OF e SKIP LOCKED);
    ELSE
        picked := ARRAY(
            SELECT e.position FROM eventstore.subscription_events e
            WHERE e.subscription = sub.name
              AND (e.lease_until IS NULL OR e.lease_until <= now_ts)
              AND e.available_at <= now_ts
            ORDER BY e.seq LIMIT n
            FOR UPDATE SKIP LOCKED);
    END IF;
    IF cardinality(picked) = 0 THEN
        RETURN '{}';
    END IF;
    WITH u AS (
        UPDATE eventstore.subscription_events e
        SET consumer = es_subscription_claim.consumer,
            lease_until = now_ts + sub.lease_ms * interval '1 millisecond',
            tries = e.tries + 1
        WHERE e.subscription = sub.name AND e.position = ANY (picked)
        RETURNING e.position, e.seq)
    SELECT array_agg(u.position ORDER BY u.seq) INTO claimed FROM u;
    RETURN coalesce(claimed, '{}');
END
$$;
COMMENT ON FUNCTION eventstore.es_subscription_claim(eventstore.subscriptions, text, integer) IS
    'Internal (es_fetch): lease up to max_count waiting events of the pool to a consumer; park those out of tries.';

-- Pull the next matching events from the feed into the pool.  Reads first
-- without writing; only when it found events does it lock the subscription
-- row (one puller at a time; SKIP LOCKED: a fetch never waits for another's
-- transaction), read again from the locked cursor and insert; its commit
-- wakes the fetches that skipped.
-- The page stops at the feed's safe position (es_load_feed), so no event can
-- commit later below the new cursor.  Returns whether it wrote; *seen is
-- how far the feed holds no matching event (to wait after it).
CREATE FUNCTION eventstore.es_subscription_pull(sub eventstore.subscriptions, page integer,
                                                INOUT seen bigint, OUT wrote boolean)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head     bigint;
    cur      bigint;
    seq0     bigint;
    n        integer;
    last_pos bigint;
BEGIN
    wrote := false;
    -- Too much in the pool already (blocked pinned streams, a full
    -- subscription): pull no more until some of it is done.
    SELECT count(*) INTO n FROM (SELECT 1 FROM eventstore.subscription_events e
                                 WHERE e.subscription = sub.name
                                 LIMIT sub.max_in_flight + page) x;
    IF n >= sub.max_in_flight + page THEN
        RETURN;
    END IF;
    head := eventstore.es_feed_head();
    IF head <= seen THEN
        RETURN;
    END IF;
    SELECT count(*) INTO n FROM eventstore.es_load_feed(seen, 1::bigint, NULL::bigint, false,
                                                        sub.category, sub.types);
    IF n = 0 THEN
        seen := head;           -- nothing matching up to head
        RETURN;
    END IF;

    -- Another fetch is pulling (its transaction holds the row): it wakes
    -- the waiters when it commits; we claim what is there and may wait.
    SELECT s.cursor_position, s.next_seq INTO cur, seq0 FROM eventstore.subscriptions s
    WHERE s.name = sub.name FOR NO KEY UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    head := eventstore.es_feed_head();
    WITH ins AS (
        INSERT INTO eventstore.subscription_events (subscription, position, seq, stream, event_id)
        SELECT sub.name, f.position, seq0 + pg_catalog.row_number() OVER (ORDER BY f.position) - 1,
               f.stream, f.event_id
        FROM eventstore.es_load_feed(cur, page::bigint, NULL::bigint, false, sub.category, sub.types) f
        RETURNING position)
    SELECT count(*), max(ins.position) INTO n, last_pos FROM ins;
    -- A page that was not full returned every matching event up to the head
    -- read before it.
    cur := CASE WHEN n < page THEN greatest(head, coalesce(last_pos, cur)) ELSE last_pos END;
    UPDATE eventstore.subscriptions s SET cursor_position = greatest(s.cursor_position, cur),
                                          next_seq = seq0 + n
    WHERE s.name = sub.name;
    seen := greatest(seen, cur);
    wrote := true;
    IF n > 0 THEN
        PERFORM eventstore.es_subscription_wake();
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_subscription_pull(eventstore.subscriptions, integer, bigint) IS
    'Internal (es_fetch): move the next matching events of the feed, up to its safe position, into the pool.';

CREATE FUNCTION eventstore.es_fetch(subscription text, consumer text,
                                    max_count integer DEFAULT 100, wait_ms integer DEFAULT 0)
RETURNS TABLE ("position" bigint, stream text, version bigint, event_id uuid, type text,
               data jsonb, data_bin bytea, metadata jsonb, created_at timestamptz,
               delivery integer, lease_until timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    sub       eventstore.subscriptions;
    who       text := es_fetch.consumer;
    deadline  timestamptz;
    page      integer;
    seen      bigint;
    pulled    boolean;
    claimed   bigint[];
    waiting   boolean;
    next_at   timestamptz;
    sleep_ms  bigint;
    n         integer;
BEGIN
    sub := eventstore.es_subscription_for_call(subscription);
    IF sub.handler IS NOT NULL THEN
        RAISE EXCEPTION 'subscription "%" is run by the server', sub.name USING ERRCODE = 'ES028',
            DETAIL = format('Its handler %s runs in the projection worker (es_run_projection).', sub.handler);
    END IF;
    PERFORM eventstore.es_subscription_check_name('consumer name', who);
    PERFORM eventstore.es_subscription_check_range('max_count', max_count, 1, 10000);
    PERFORM eventstore.es_subscription_check_range('wait_ms', wait_ms, 0, 3600000);
    deadline := clock_timestamp() + wait_ms * interval '1 millisecond';
    -- Each round needs a fresh snapshot: no waiting in REPEATABLE READ.
    waiting := wait_ms > 0 AND current_setting('transaction_isolation') = 'read committed';
    -- Pull several batches at a time: a pull costs more than a claim.
    page := least(greatest(max_count * 4, 400), 10000);
    seen := sub.cursor_position;
    LOOP
        IF waiting THEN
            PERFORM eventstore.es_subscription_wait_prepare();
        END IF;
        pulled := false;
        claimed := eventstore.es_subscription_claim(sub, who, max_count);
        IF cardinality(claimed) = 0 THEN
            SELECT p.seen, p.wrote INTO seen, pulled FROM eventstore.es_subscription_pull(sub, page, seen) p;
            IF pulled THEN
                claimed := eventstore.es_subscription_claim(sub, who, max_count);
            END IF;
        END IF;
        EXIT WHEN cardinality(claimed) > 0 OR pulled OR NOT waiting OR clock_timestamp() >= deadline;
        -- Sleep until a wake-up, the earliest lease or retry time, or the deadline.
        SELECT least(min(e.lease_until) FILTER (WHERE e.lease_until > clock_timestamp()),
                     min(e.available_at) FILTER (WHERE e.available_at > clock_timestamp()))
        INTO next_at FROM eventstore.subscription_events e WHERE e.subscription = sub.name;
        sleep_ms := ceil(extract(epoch FROM least(deadline, coalesce(next_at, deadline)) - clock_timestamp()) * 1000);
        PERFORM eventstore.es_subscription_sleep(greatest(least(sleep_ms, 3600000), 1)::integer);
    END LOOP;
    IF waiting THEN
        PERFORM eventstore.es_subscription_wait_cancel();
    END IF;

    INSERT INTO eventstore.subscription_consumers AS c (subscription, consumer, last_fetch_at)
    VALUES (sub.name, who, clock_timestamp())
    ON CONFLICT ON CONSTRAINT subscription_consumers_pkey
    DO UPDATE SET last_fetch_at = excluded.last_fetch_at;

    IF cardinality(claimed) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT ev.position, ev.stream, ev.version, ev.event_id, ev.type, ev.data, ev.data_bin,
               ev.metadata, ev.created_at, e.tries, e.lease_until
        FROM unnest(claimed) WITH ORDINALITY AS c(pos, ord)
        JOIN eventstore.subscription_events e ON e.subscription = sub.name AND e.position = c.pos
        JOIN eventstore.events ev ON ev.position = c.pos
        ORDER BY c.ord;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n < cardinality(claimed) THEN
        -- Deleted from the store meanwhile (stream deletion, erasure,
        -- retention): nothing left to deliver.
        DELETE FROM eventstore.subscription_events e
        WHERE e.subscription = sub.name AND e.position = ANY (claimed)
          AND NOT EXISTS (SELECT 1 FROM eventstore.events ev WHERE ev.position = e.position);
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_fetch(text, text, integer, integer) IS
    'Lease up to max_count events of a subscription to a consumer, waiting up to wait_ms (without polling, holding no locks) when there are none; delivery counts the deliveries of each event. Ack or nack them before lease_until (docs/subscriptions.md).';

-- Settle positions leased to a consumer: ack, or nack with retry, park or
-- skip.  All or nothing: a position not leased to the consumer now fails
-- the call (ES024, ES025) before anything changes.  Rows are locked in
-- position order (no deadlock between two calls).  Internal.
CREATE FUNCTION eventstore.es_subscription_settle(sub eventstore.subscriptions, consumer text,
                                                  positions bigint[], action text, reason text,
                                                  retry_after_ms integer)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    who     text := es_subscription_settle.consumer;
    now_ts  timestamptz;
    n       integer := cardinality(positions);
    bad     record;
    done    integer;
    parked  integer := 0;
BEGIN
    PERFORM eventstore.es_subscription_check_name('consumer name', who);
    IF positions IS NULL THEN
        RAISE EXCEPTION 'positions must not be null' USING ERRCODE = '22004';
    END IF;
    IF n > 10000 THEN
        RAISE EXCEPTION 'too many positions in one call' USING ERRCODE = '54000',
            DETAIL = format('There are %s; the limit is 10000.', n);
    END IF;
    IF array_ndims(positions) > 1 THEN
        RAISE EXCEPTION 'positions must be a one-dimensional array' USING ERRCODE = '22023';
    END IF;
    IF array_position(positions, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'positions must not contain null elements' USING ERRCODE = '22004';
    END IF;
    IF (SELECT count(DISTINCT p) FROM unnest(positions) p) <> n THEN
        RAISE EXCEPTION 'positions must not repeat' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM eventstore.subscription_consumers c
                   WHERE c.subscription = sub.name AND c.consumer = who) THEN
        RAISE EXCEPTION 'consumer "%" has never fetched from subscription "%"', who, sub.name
            USING ERRCODE = 'ES023';
    END IF;
    IF n = 0 THEN
        RETURN 0;
    END IF;

    PERFORM 1 FROM eventstore.subscription_events e
    WHERE e.subscription = sub.name AND e.position = ANY (positions)
    ORDER BY e.position FOR UPDATE;
    now_ts := clock_timestamp();
    SELECT p.pos, e.consumer, e.lease_until INTO bad
    FROM unnest(positions) p(pos)
    LEFT JOIN eventstore.subscription_events e ON e.subscription = sub.name AND e.position = p.pos
    WHERE e.position IS NULL OR e.consumer IS DISTINCT FROM who OR e.lease_until IS NULL
       OR e.lease_until <= now_ts
    ORDER BY (e.consumer IS NOT DISTINCT FROM who) DESC, p.pos LIMIT 1;
    IF FOUND THEN
        IF bad.consumer IS NOT DISTINCT FROM who AND bad.lease_until IS NOT NULL THEN
            RAISE EXCEPTION 'the lease of consumer "%" on position % ran out', who, bad.pos
                USING ERRCODE = 'ES025',
                      DETAIL = format('It ran out at %s; the event is waiting again, or another consumer has it.', bad.lease_until),
                      HINT = 'Nothing of this call was settled. Fetch again; raise lease_ms if handling takes longer.';
        END IF;
        RAISE EXCEPTION 'position % of subscription "%" is not leased to consumer "%"', bad.pos, sub.name, who
            USING ERRCODE = 'ES024',
                  DETAIL = 'It was never delivered to this consumer, is already acked, skipped or parked, or is leased to another consumer.',
                  HINT = 'Nothing of this call was settled.';
    END IF;

    IF action IN ('ack', 'skip') THEN
        DELETE FROM eventstore.subscription_events e
        WHERE e.subscription = sub.name AND e.position = ANY (positions);
    ELSIF action = 'park' THEN
        WITH gone AS (
            DELETE FROM eventstore.subscription_events e
            WHERE e.subscription = sub.name AND e.position = ANY (positions)
            RETURNING e.position, e.stream, e.event_id, e.tries)
        INSERT INTO eventstore.subscription_parked (subscription, position, stream, event_id, tries, reason, consumer)
        SELECT sub.name, g.position, g.stream, g.event_id, g.tries, reason, who FROM gone g;
        parked := n;
    ELSE
        -- retry: out of tries -> parked
        WITH gone AS (
            DELETE FROM eventstore.subscription_events e
            WHERE e.subscription = sub.name AND e.position = ANY (positions)
              AND e.tries > sub.max_retries
            RETURNING e.position, e.stream, e.event_id, e.tries)
        INSERT INTO eventstore.subscription_parked (subscription, position, stream, event_id, tries, reason, consumer)
        SELECT sub.name, g.position, g.stream, g.event_id, g.tries,
               'max retries reached: ' || coalesce(reason, 'no reason given'), who FROM gone g;
        GET DIAGNOSTICS parked = ROW_COUNT;
        UPDATE eventstore.subscription_events e
        SET consumer = NULL, lease_until = NULL, reason = es_subscription_settle.reason,
            available_at = now_ts + retry_after_ms * interval '1 millisecond'
        WHERE e.subscription = sub.name AND e.position = ANY (positions);
    END IF;
    GET DIAGNOSTICS done = ROW_COUNT;

    UPDATE eventstore.subscription_consumers c
    SET acked = c.acked + CASE WHEN action = 'ack' THEN n ELSE 0 END,
        skipped = c.skipped + CASE WHEN action = 'skip' THEN n ELSE 0 END,
        nacked = c.nacked + CASE WHEN action <> 'ack' THEN n ELSE 0 END,
        parked = c.parked + parked,
        last_ack_at = CASE WHEN action = 'ack' THEN now_ts ELSE c.last_ack_at END
    WHERE c.subscription = sub.name AND c.consumer = who;

    -- Wake waiting fetches at commit when this frees something for them: the
    -- next event of a pinned stream, a retry, room under max_in_flight.
    IF sub.strategy = 'pinned' OR action = 'retry'
       OR (SELECT count(*) FROM eventstore.subscription_events e
           WHERE e.subscription = sub.name AND e.lease_until > now_ts) + n >= sub.max_in_flight THEN
        PERFORM eventstore.es_subscription_wake();
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION eventstore.es_subscription_settle(eventstore.subscriptions, text, bigint[], text, text, integer) IS
    'Internal (es_ack, es_nack): settle events leased to a consumer, all or nothing.';

CREATE FUNCTION eventstore.es_ack(subscription text, consumer text, positions bigint[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN eventstore.es_subscription_settle(eventstore.es_subscription_for_call(subscription),
                                             consumer, positions, 'ack', NULL, 0);
END
$$;
COMMENT ON FUNCTION eventstore.es_ack(text, text, bigint[]) IS
    'Acknowledge events leased to the consumer, by position; all or nothing (ES024 not leased to it, ES025 its lease ran out). In the transaction of a projection''s writes, it makes the projection exactly-once. Returns how many.';

CREATE FUNCTION eventstore.es_ack_ids(subscription text, consumer text, event_ids uuid[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sub       eventstore.subscriptions := eventstore.es_subscription_for_call(subscription);
    positions bigint[];
    missing   uuid;
BEGIN
    IF event_ids IS NULL THEN
        RAISE EXCEPTION 'event_ids must not be null' USING ERRCODE = '22004';
    END IF;
    IF cardinality(event_ids) > 10000 THEN
        RAISE EXCEPTION 'too many event ids in one call' USING ERRCODE = '54000',
            DETAIL = format('There are %s; the limit is 10000.', cardinality(event_ids));
    END IF;
    IF array_ndims(event_ids) > 1 THEN
        RAISE EXCEPTION 'event_ids must be a one-dimensional array' USING ERRCODE = '22023';
    END IF;
    IF array_position(event_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'event_ids must not contain null elements' USING ERRCODE = '22004';
    END IF;
    SELECT i INTO missing FROM unnest(event_ids) i
    WHERE NOT EXISTS (SELECT 1 FROM eventstore.subscription_events e
                      WHERE e.subscription = sub.name AND e.event_id = i)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'event % of subscription "%" is not leased to consumer "%"', missing, sub.name, consumer
            USING ERRCODE = 'ES024',
                  DETAIL = 'It is not waiting for an ack in this subscription: never delivered, or already acked, skipped or parked.',
                  HINT = 'Nothing of this call was settled.';
    END IF;
    SELECT array_agg(e.position) INTO positions FROM eventstore.subscription_events e
    WHERE e.subscription = sub.name AND e.event_id = ANY (event_ids);
    IF cardinality(positions) <> cardinality(event_ids) THEN
        RAISE EXCEPTION 'event_ids must not repeat' USING ERRCODE = '22023';
    END IF;
    RETURN eventstore.es_subscription_settle(sub, consumer, coalesce(positions, '{}'), 'ack', NULL, 0);
END
$$;
COMMENT ON FUNCTION eventstore.es_ack_ids(text, text, uuid[]) IS
    'es_ack by event ids instead of positions.';

CREATE FUNCTION eventstore.es_nack(subscription text, consumer text, positions bigint[],
                                   action text DEFAULT 'retry', reason text DEFAULT NULL,
                                   retry_after_ms integer DEFAULT 0)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sub eventstore.subscriptions := eventstore.es_subscription_for_call(subscription);
BEGIN
    IF action IS NULL THEN
        RAISE EXCEPTION 'action must not be null' USING ERRCODE = '22004';
    END IF;
    IF action NOT IN ('retry', 'park', 'skip') THEN
        RAISE EXCEPTION 'unrecognized nack action: "%"', action USING ERRCODE = '22023',
            HINT = 'An action is retry, park or skip.';
    END IF;
    PERFORM eventstore.es_subscription_check_range('retry_after_ms', retry_after_ms, 0, 86400000);
    IF octet_length(reason) > 10000 THEN
        RAISE EXCEPTION 'reason is too long' USING ERRCODE = '22023',
            DETAIL = format('It is %s bytes; the limit is 10000.', octet_length(reason));
    END IF;
    RETURN eventstore.es_subscription_settle(sub, consumer, positions, action, reason, retry_after_ms);
END
$$;
COMMENT ON FUNCTION eventstore.es_nack(text, text, bigint[], text, text, integer) IS
    'Give events leased to the consumer back: retry (now, or after retry_after_ms; parked when out of tries), park, or skip, with a reason; all or nothing. Returns how many.';

CREATE FUNCTION eventstore.es_subscription_checkpoint(subscription text) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sub eventstore.subscriptions := eventstore.es_subscription_for_call(subscription);
BEGIN
    RETURN least(sub.cursor_position,
                 (SELECT min(e.position) - 1 FROM eventstore.subscription_events e
                  WHERE e.subscription = sub.name));
END
$$;
COMMENT ON FUNCTION eventstore.es_subscription_checkpoint(text) IS
    'The highest position below which every matching event of the subscription was acked, skipped or parked: never beyond a leased or waiting event.';
