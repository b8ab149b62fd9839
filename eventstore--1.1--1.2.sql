-- eventstore 1.1 -> 1.2.
-- Every change to the SQL surface since 1.1, in the order the issues land.
-- src/sql/NN_*.sql holds the same objects as a fresh 1.2 install creates
-- them; test/suites/15_upgrade.sh checks that both roads end in the same
-- schema (docs/releasing.md).
\echo Use "ALTER EXTENSION eventstore UPDATE TO '1.2'" to load this file. \quit

-- The schema is the store's before anything else runs (src/sql/00_claim_schema.sql).
SELECT eventstore.es_claim_schema();

-- The store's own objects on its tables (src/sql/86_table_additions.sql)
-- include event_tags' key and the subscription tables' (below), so that
-- creating them records no table addition.
CREATE OR REPLACE FUNCTION eventstore.es_current_table_additions(
    OUT kind text, OUT table_name text, OUT name text, OUT definition text)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH store AS (
        SELECT c.oid, c.relname
        FROM pg_class c
        WHERE c.relnamespace = 'eventstore'::regnamespace
          AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND c.relname <> 'table_additions'
    ), own(name) AS (
        VALUES ('events_pkey'), ('events_stream_version_key'), ('events_event_id_key'),
               ('events_version_check'), ('events_one_payload_check'),
               ('events_category_position_idx'),
               ('events_correlation_id_idx'), ('events_causation_id_idx'),
               ('snapshots_pkey'), ('snapshots_version_check'), ('snapshots_one_payload_check'),
               ('checkpoints_pkey'), ('checkpoints_position_check'),
               ('grants_pkey'), ('grants_kind_check'),
               ('stream_state_pkey'), ('stream_state_last_version_check'),
               ('stream_state_retention_check'), ('stream_state_last_position_idx'),
               ('deleted_events_pkey'),
               -- dynamic consistency boundaries (60_dcb.sql)
               ('event_tags_pkey'),
               -- the partitioned layout (05_layout.sql)
               ('events_template_pkey'), ('events_template_stream_version_key'),
               ('events_template_event_id_key'), ('events_template_category_position_idx'),
               ('event_ids_pkey'), ('stream_starts_pkey'), ('partitioning_pkey'),
               ('partitioning_partition_size_check'), ('partitioning_one_row_check'),
               ('archives_pkey'),
               -- the owner's restore (89_owner_backup.sql)
               ('restore_window_must_close'),
               -- managed subscriptions (60_subscriptions.sql)
               ('subscriptions_pkey'), ('subscriptions_strategy_check'),
               ('subscription_events_pkey'), ('subscription_events_seq_idx'),
               ('subscription_events_stream_idx'), ('subscription_parked_pkey'),
               ('subscription_consumers_pkey'), ('subscription_grants_pkey')
    )
    SELECT 'index', s.relname, i.relname, pg_get_indexdef(i.oid)
    FROM store s
    JOIN pg_index x ON x.indrelid = s.oid
    JOIN pg_class i ON i.oid = x.indexrelid
    WHERE i.relname NOT IN (SELECT name FROM own)
      AND NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.oid AND k.conrelid = s.oid)
    UNION ALL
    SELECT 'constraint', s.relname, k.conname,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', s.oid::regclass, k.conname, pg_get_constraintdef(k.oid))
    FROM store s
    JOIN pg_constraint k ON k.conrelid = s.oid
    WHERE k.conname NOT IN (SELECT name FROM own)
      -- PostgreSQL 18 records NOT NULL as constraints: the columns' own
      AND k.contype <> 'n'
    UNION ALL
    SELECT 'trigger', s.relname, t.tgname,
           pg_get_triggerdef(t.oid)
           || CASE t.tgenabled
                  WHEN 'O' THEN ''
                  ELSE format('; ALTER TABLE %s %s TRIGGER %I', s.oid::regclass,
                              CASE t.tgenabled WHEN 'D' THEN 'DISABLE'
                                               WHEN 'R' THEN 'ENABLE REPLICA'
                                               ELSE 'ENABLE ALWAYS' END, t.tgname)
              END
    FROM store s
    JOIN pg_trigger t ON t.tgrelid = s.oid
    JOIN pg_proc f ON f.oid = t.tgfoid
    WHERE NOT t.tgisinternal
      AND f.pronamespace <> 'eventstore'::regnamespace	-- the store's own triggers
    UNION ALL
    SELECT 'publication', s.relname, p.pubname,
           format('ALTER PUBLICATION %I ADD TABLE ONLY %s%s%s', p.pubname, s.oid::regclass,
                  CASE WHEN r.prattrs IS NULL THEN ''
                       ELSE ' (' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                                     FROM pg_attribute a
                                     WHERE a.attrelid = s.oid AND a.attnum = ANY (r.prattrs)) || ')'
                  END,
                  CASE WHEN r.prqual IS NULL THEN ''
                       ELSE ' WHERE (' || pg_get_expr(r.prqual, s.oid) || ')'
                  END)
    FROM store s
    JOIN pg_publication_rel r ON r.prrelid = s.oid
    JOIN pg_publication p ON p.oid = r.prpubid
$$;

-- Issue 26: dynamic consistency boundaries (docs/dcb.md; src/sql/00_schema.sql,
-- src/sql/10_append.sql, src/sql/60_dcb.sql).  The tags column goes last, as
-- in a fresh install; a nullable column without a default rewrites nothing.
-- In the partitioned layout the template gains it too, since new partitions
-- are made LIKE the template and must match the parent.
ALTER TABLE eventstore.events ADD COLUMN tags text[];
COMMENT ON COLUMN eventstore.events.tags IS 'Tags of the event (dynamic consistency boundaries, docs/dcb.md), e.g. {student:42,course:7}; NULL when it has none.';
DO $$
BEGIN
    IF pg_catalog.to_regclass('eventstore.events_template') IS NOT NULL THEN
        ALTER TABLE eventstore.events_template ADD COLUMN tags text[];
        COMMENT ON COLUMN eventstore.events_template.tags IS 'Tags of the event (dynamic consistency boundaries, docs/dcb.md), e.g. {student:42,course:7}; NULL when it has none.';
    END IF;
END
$$;

-- A soft delete keeps the tags of the events it sets aside (50_lifecycle.sql).
ALTER TABLE eventstore.deleted_events ADD COLUMN tags text[];
COMMENT ON COLUMN eventstore.deleted_events.tags IS 'Tags of the event (kept by a restore; docs/dcb.md).';

-- es_append's one-event form gains tags as its last parameter.  A second
-- overload would make every call that leaves the last arguments out
-- ambiguous, so the 1.1 function is replaced; the roles that could call it
-- can call the new one (its grants are copied before it is dropped).
ALTER FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea) RENAME TO es_append_1_1;
CREATE FUNCTION eventstore.es_append(
    stream           text,
    type             text,
    data             jsonb  DEFAULT NULL,
    expected_version bigint DEFAULT NULL,
    metadata         jsonb  DEFAULT NULL,
    event_id         uuid   DEFAULT NULL,
    data_bin         bytea  DEFAULT NULL,
    tags             text[] DEFAULT NULL)
RETURNS SETOF eventstore.append_result
AS 'MODULE_PATHNAME', 'es_append_event'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 1;
COMMENT ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea, text[]) IS
    'Append one event to a stream. expected_version: es_expected_version(''any'') (NULL), es_expected_version(''no_stream'') (0), es_expected_version(''stream_exists'') (-1), or exactly n. tags: the event''s tags (docs/dcb.md). Returns the event''s stream, version, global position and id.';
REVOKE ALL ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea, text[]) FROM PUBLIC;
COMMENT ON FUNCTION eventstore.es_append(jsonb) IS
    'Append a batch: {"stream", "expected_version", "events": [{"type", "data", "data_bin", "metadata", "id", "occurred_at", "tags"}]} for one stream, or an array of such objects for several streams, all or nothing; an entry with "events": [] and an expected version only checks that stream. Returns one row per event.';
-- One row per tag of each tagged event, written by the append that stores
-- the event.  A separate table, so that an untagged append touches no index
-- for tags.  Rows of events that left eventstore.events may stay: every
-- read and check joins the events table by position.
CREATE TABLE eventstore.event_tags (
    tag        text   NOT NULL,
    type       text   NOT NULL,
    "position" bigint NOT NULL,
    CONSTRAINT event_tags_pkey PRIMARY KEY (tag, type, "position")
);
COMMENT ON TABLE eventstore.event_tags IS
    'Index of tagged events for reads by query and append conditions: one row per tag of each tagged event (docs/dcb.md). Rows of deleted events may remain and are ignored.';
COMMENT ON COLUMN eventstore.event_tags.tag IS 'A tag of the event.';
COMMENT ON COLUMN eventstore.event_tags.type IS 'The event''s type.';
COMMENT ON COLUMN eventstore.event_tags."position" IS 'The event''s global position.';
SELECT pg_catalog.pg_extension_config_dump('eventstore.event_tags', '');
REVOKE ALL ON TABLE eventstore.event_tags FROM PUBLIC;

CREATE FUNCTION eventstore.es_load_query(
    query          jsonb,
    after_position bigint DEFAULT 0,
    max_count      bigint DEFAULT 1000,
    to_position    bigint DEFAULT NULL)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 100;
COMMENT ON FUNCTION eventstore.es_load_query(jsonb, bigint, bigint, bigint) IS
    'Events matching a DCB query ({"items": [{"types": [...], "tags": [...]}, ...]} or {"all": true}) after after_position, in position order, at most max_count, never above the feed''s safe position (nor to_position). The condition''s after for a decision made from a complete answer: the last position returned, or after_position when none (docs/dcb.md).';

CREATE FUNCTION eventstore.es_append_if(
    batch                jsonb,
    fail_if_events_match jsonb,
    after_position       bigint DEFAULT NULL)
RETURNS SETOF eventstore.append_result
AS 'MODULE_PATHNAME', 'es_append_if'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 10;
COMMENT ON FUNCTION eventstore.es_append_if(jsonb, jsonb, bigint) IS
    'Append a batch (as es_append; an entry may leave out the stream: each of its events gets a stream of its own) unless an event matching the query fail_if_events_match is stored after after_position (NULL: at any position), SQLSTATE ES016; checked and stored atomically, exact at READ COMMITTED (docs/dcb.md).';

-- Rows that leave the events table (a lifecycle delete, an erasure,
-- retention) take their event_tags rows with them: a tag may name a person
-- ("email:..."), and an erasure must not leave it behind.  Reads ignore
-- stale rows anyway.  Not ALWAYS, like events_forget_ids (05_layout.sql): a
-- logical-replication subscriber receives event_tags' deletes by the same
-- publication as the events, if it is published.
CREATE FUNCTION eventstore.es_event_tags_forget() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
    DELETE FROM eventstore.event_tags t
    USING (SELECT g.position, g.type, pg_catalog.unnest(g.tags) AS tag
           FROM gone g WHERE g.tags IS NOT NULL) d
    WHERE t.tag = d.tag AND t.type = d.type AND t.position = d.position;
    RETURN NULL;
END
$f$;
COMMENT ON FUNCTION eventstore.es_event_tags_forget() IS
    'Trigger: the event_tags rows of events deleted from eventstore.events are deleted with them (docs/dcb.md).';
REVOKE ALL ON FUNCTION eventstore.es_event_tags_forget() FROM PUBLIC;
CREATE TRIGGER events_forget_tags AFTER DELETE ON eventstore.events
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_event_tags_forget();
REVOKE ALL ON FUNCTION eventstore.es_load_query(jsonb, bigint, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_append_if(jsonb, jsonb, bigint) FROM PUBLIC;

-- Who could call the 1.1 es_append can call the new one; who could append a
-- batch can append with a condition; who could read the feed can read by
-- query.  Role names are taken from the catalog and quoted as identifiers.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT p.proname, x.grantee FROM pg_catalog.pg_proc p
        CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) x
        WHERE p.oid IN ('eventstore.es_append_1_1(text, text, jsonb, bigint, jsonb, uuid, bytea)'::pg_catalog.regprocedure,
                        'eventstore.es_append(jsonb)'::pg_catalog.regprocedure,
                        'eventstore.es_feed_head()'::pg_catalog.regprocedure)
          AND x.privilege_type = 'EXECUTE'
          AND x.grantee <> p.proowner
          AND x.grantee <> 0   -- never PUBLIC (docs/security.md)
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s',
            CASE r.proname
                WHEN 'es_append_1_1' THEN 'eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea, text[])'
                WHEN 'es_append' THEN 'eventstore.es_append_if(jsonb, jsonb, bigint)'
                ELSE 'eventstore.es_load_query(jsonb, bigint, bigint, bigint)' END,
            pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee)));
    END LOOP;
END
$$;
DROP FUNCTION eventstore.es_append_1_1(text, text, jsonb, bigint, jsonb, uuid, bytea);

-- The owner reads every table of the store for its pg_dump (89_owner_backup.sql);
-- a role that reads the events table reads their tags' index too (the tags
-- are in the rows it reads already), and es_grant_cdc grants it from now on.
GRANT SELECT ON TABLE eventstore.event_tags TO @extowner@;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT x.grantee FROM pg_catalog.pg_class c
        CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) x
        WHERE c.oid = 'eventstore.events'::pg_catalog.regclass
          AND x.privilege_type = 'SELECT'
          AND x.grantee <> c.relowner
          AND x.grantee <> 0
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON TABLE eventstore.event_tags TO %s',
                                  pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r.grantee)));
    END LOOP;
END
$$;
CREATE OR REPLACE FUNCTION eventstore.es_grant_cdc(role_name name) RETURNS void
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

CREATE OR REPLACE FUNCTION eventstore.es_grant_writer_functions(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea, text[]), eventstore.es_append(jsonb), eventstore.es_append_if(jsonb, jsonb, bigint) TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_snapshot(text, bigint, jsonb, text, bytea), eventstore.es_advance_position(text, bigint, text), eventstore.es_lock_handler(text, text, boolean) TO %I', role_name);
    PERFORM eventstore.es_grant_reader(role_name);
END
$$;

CREATE OR REPLACE FUNCTION eventstore.es_grant_reader(role_name name) RETURNS void
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



-- >>> issue 25: managed subscriptions, as src/sql/60_subscriptions.sql,
-- 61_subscription_consume.sql, 62_subscription_views.sql and 63_projections.sql
-- create them.

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
-- <<< issue 25

-- Issue 27: fill factor 100 on the indexes of eventstore.events that grow
-- at the right end of their key ranges (src/sql/00_schema.sql).  In the
-- partitioned layout they are the template's and each partition's (the
-- parent has none; a partition's copy of the correlation index is named
-- <partition>_substr_position_idx); pages already split keep their space,
-- new splits fill their pages.
DO $fillfactor$
DECLARE
    idx pg_catalog.regclass;
BEGIN
    FOR idx IN
        SELECT i.indexrelid::pg_catalog.regclass
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) i.indrelid
        JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid
        WHERE t.relnamespace OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.regnamespace
          AND (t.relname OPERATOR(pg_catalog.=) ANY (ARRAY['events', 'events_template']::pg_catalog.name[])
               OR t.oid OPERATOR(pg_catalog.=) ANY (
                   SELECT h.inhrelid FROM pg_catalog.pg_inherits h
                   WHERE h.inhparent OPERATOR(pg_catalog.=) 'eventstore.events'::pg_catalog.regclass))
          AND c.relname OPERATOR(pg_catalog.~)
              '(_pkey|_stream_version_key|_event_id_key|_category_position_idx|_correlation_id_idx|_substr_position_idx)$'
    LOOP
        EXECUTE pg_catalog.format('ALTER INDEX %s SET (fillfactor = 100)', idx);
    END LOOP;
END
$fillfactor$;

-- >>> the store's own partitions are made without its event triggers'
-- catalog scans (17_partitions.sql, 86_table_additions.sql): an append
-- waited ~25 times longer for each partition than making it costs.

-- True while this backend makes partitions for an append (src/partitions.c):
-- the store's event triggers (86_table_additions.sql) then skip their
-- catalog scans, which made each partition ~25 times slower to make.
CREATE FUNCTION eventstore.es_making_own_partitions()
RETURNS boolean
AS 'MODULE_PATHNAME', 'es_making_own_partitions'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION eventstore.es_making_own_partitions() FROM PUBLIC;
COMMENT ON FUNCTION eventstore.es_making_own_partitions() IS
    'Partitioned layout (internal, for the store''s event triggers): true while this backend makes partitions for an append.';

CREATE OR REPLACE FUNCTION eventstore.es_track_table_additions() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- DDL run by the restore trigger below (it is inside a trigger), or by
    -- the extension's own scripts, is not a user's addition.
    IF pg_trigger_depth() > 0 THEN
        RETURN;
    END IF;
    -- Nor are the partitions the store makes for an append: an attached
    -- partition has no additions of its own, and the appenders wait.
    IF eventstore.es_making_own_partitions() THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_event_trigger_ddl_commands() c WHERE c.in_extension) THEN
        PERFORM eventstore.es_sync_table_additions();
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION eventstore.es_guard_table_additions() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tables oid[];
    used boolean;
    bad record;
BEGIN
    -- A partition the store makes for an append gets only the store's own
    -- objects, copies of events_template's and of the parent's, which this
    -- guard checked when they were put there (src/partitions.c,
    -- es_making_own_partitions); the appenders wait for it.
    IF eventstore.es_making_own_partitions() THEN
        RETURN;
    END IF;
    -- The tables the command named or put an object on (only store tables
    -- count below), so that DDL on one table (a partition being made) looks
    -- at that table only.
    SELECT array_agg(t.oid) INTO tables
    FROM pg_event_trigger_ddl_commands() c
    CROSS JOIN LATERAL (
        SELECT CASE c.classid
            WHEN 'pg_class'::regclass THEN coalesce((SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = c.objid), c.objid)
            WHEN 'pg_trigger'::regclass THEN (SELECT x.tgrelid FROM pg_trigger x WHERE x.oid = c.objid)
            WHEN 'pg_constraint'::regclass THEN (SELECT x.conrelid FROM pg_constraint x WHERE x.oid = c.objid)
            WHEN 'pg_attrdef'::regclass THEN (SELECT x.adrelid FROM pg_attrdef x WHERE x.oid = c.objid)
            WHEN 'pg_policy'::regclass THEN (SELECT x.polrelid FROM pg_policy x WHERE x.oid = c.objid)
            WHEN 'pg_rewrite'::regclass THEN (SELECT x.ev_class FROM pg_rewrite x WHERE x.oid = c.objid)
            WHEN 'pg_statistic_ext'::regclass THEN (SELECT x.stxrelid FROM pg_statistic_ext x WHERE x.oid = c.objid)
        END AS oid
    ) t
    WHERE NOT c.in_extension AND t.oid IS NOT NULL;
    -- A function, type, operator or operator class the command made or
    -- changed that some object uses: any store table may use it.
    used := EXISTS (SELECT FROM pg_event_trigger_ddl_commands() c
                    JOIN pg_depend d ON d.refclassid = c.classid AND d.refobjid = c.objid
                    WHERE NOT c.in_extension
                      AND c.classid IN ('pg_proc'::regclass, 'pg_type'::regclass,
                                        'pg_operator'::regclass, 'pg_opclass'::regclass));
    IF tables IS NULL AND NOT used THEN
        RETURN;
    END IF;
    SELECT p.object, p.problem INTO bad
    FROM eventstore.es_store_dependency_problems(CASE WHEN used THEN NULL ELSE tables END) p
    JOIN pg_event_trigger_ddl_commands() c ON NOT c.in_extension
     AND ((c.classid = 'pg_class'::regclass AND c.objid = p.table_oid)
          OR (c.classid = p.classid AND c.objid = p.objid)
          OR (c.classid = p.refclassid AND c.objid = p.refobjid))
    ORDER BY p.object, p.problem
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = format('%s would run code that a non-superuser controls with superuser rights', bad.object),
            DETAIL = upper(left(bad.problem, 1)) || substr(bad.problem, 2)
                     || '. The store''s functions run as a superuser, and so do triggers, index expressions and constraints on its tables.',
            HINT = 'Let a superuser own the function and give it SET search_path (ALTER FUNCTION ... OWNER TO ..., ALTER FUNCTION ... SET search_path = ...).';
    END IF;
END
$$;
-- <<< own partitions

-- The claim again, last (src/sql/99_claim_check.sql).
SELECT eventstore.es_claim_schema();
