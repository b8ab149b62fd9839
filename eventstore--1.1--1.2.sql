-- eventstore 1.1 -> 1.2.
-- Every change to the SQL surface since 1.1, in the order the issues land.
-- src/sql/NN_*.sql holds the same objects as a fresh 1.2 install creates
-- them; test/suites/15_upgrade.sh checks that both roads end in the same
-- schema (docs/releasing.md).
\echo Use "ALTER EXTENSION eventstore UPDATE TO '1.2'" to load this file. \quit

-- The schema is the store's before anything else runs (src/sql/00_claim_schema.sql).
SELECT eventstore.es_claim_schema();

-- Issue 26: the store's own constraints include event_tags' key (below), so
-- that creating it records no table addition.
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
               ('restore_window_must_close')
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



-- The claim again, last (src/sql/99_claim_check.sql).
SELECT eventstore.es_claim_schema();
