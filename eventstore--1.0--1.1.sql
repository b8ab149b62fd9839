-- eventstore 1.0 -> 1.1.
-- Every change to the SQL surface between the two releases, in the order
-- the issues landed.  src/sql/NN_*.sql holds the same objects as a fresh
-- 1.1 install creates them; test/suites/15_upgrade.sh checks that both
-- roads end in the same schema.
\echo Use "ALTER EXTENSION eventstore UPDATE TO '1.1'" to load this file. \quit

-- Issue 9: no silent loss by DDL (src/sql/85_ddl_guard.sql).
CREATE FUNCTION eventstore.es_forbid_truncate() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_forbid_truncate' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_forbid_truncate() IS
    'Trigger: refuses TRUNCATE of a store table unless a superuser set eventstore.allow_destroy (SQLSTATE ES005).';
REVOKE ALL ON FUNCTION eventstore.es_forbid_truncate() FROM PUBLIC;

CREATE TRIGGER snapshots_no_truncate BEFORE TRUNCATE ON eventstore.snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON eventstore.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
ALTER TABLE eventstore.snapshots ENABLE ALWAYS TRIGGER snapshots_no_truncate;
ALTER TABLE eventstore.checkpoints ENABLE ALWAYS TRIGGER checkpoints_no_truncate;

CREATE FUNCTION eventstore.es_guard_ddl() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'es_guard_ddl' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_guard_ddl() IS
    'Event trigger: refuses DDL that would destroy a store holding data unless a superuser set eventstore.allow_destroy (SQLSTATE ES005).';
REVOKE ALL ON FUNCTION eventstore.es_guard_ddl() FROM PUBLIC;

CREATE EVENT TRIGGER eventstore_guard_ddl ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP TABLE', 'DROP OWNED', 'ALTER TABLE')
    EXECUTE FUNCTION eventstore.es_guard_ddl();
ALTER EVENT TRIGGER eventstore_guard_ddl ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER eventstore_guard_ddl IS
    'Refuses DROP EXTENSION eventstore, DROP SCHEMA eventstore, DROP TABLE of a store table and DROP OWNED BY its owner while the store holds data, and switching the store''s triggers off; SET eventstore.allow_destroy = on (superuser) to mean it.';

-- Issue 9: what users add to the store's tables survives pg_dump / pg_restore
-- (src/sql/86_table_additions.sql; the same objects, then what a 1.0 store
-- already has is recorded).
CREATE TABLE eventstore.table_additions (
    kind        text        NOT NULL,
    table_name  text        NOT NULL,
    name        text        NOT NULL,
    definition  text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT table_additions_pkey PRIMARY KEY (kind, table_name, name),
    CONSTRAINT table_additions_kind_check
        CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['index', 'constraint', 'trigger', 'publication']))
);

COMMENT ON TABLE eventstore.table_additions IS
    'Indexes, constraints, triggers and publication memberships that users added to the store''s tables, recorded automatically so that pg_restore recreates them.';
COMMENT ON COLUMN eventstore.table_additions.kind IS 'index, constraint, trigger or publication (membership of the table in a FOR TABLE publication).';
COMMENT ON COLUMN eventstore.table_additions.table_name IS 'The store table it belongs to (events, snapshots, checkpoints).';
COMMENT ON COLUMN eventstore.table_additions.name IS 'Name of the index, constraint or trigger; name of the publication.';
COMMENT ON COLUMN eventstore.table_additions.definition IS 'The statement that recreates it.';
COMMENT ON COLUMN eventstore.table_additions.recorded_at IS 'When it was recorded or last changed.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.table_additions', '');

REVOKE ALL ON TABLE eventstore.table_additions FROM PUBLIC;

-- Everything that is on the store's tables now and not the store's own.
-- The store's own objects are listed by name: an upgrade that adds one adds
-- its name here (test/suites/15_upgrade.sh checks that a fresh store
-- records nothing).
CREATE FUNCTION eventstore.es_current_table_additions(
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
               ('snapshots_pkey'), ('snapshots_version_check'), ('snapshots_one_payload_check'),
               ('checkpoints_pkey'), ('checkpoints_position_check')
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

COMMENT ON FUNCTION eventstore.es_current_table_additions() IS
    'Indexes, constraints, triggers and publication memberships on the store''s tables that the store did not create itself, each with the statement that recreates it.';

-- Bring eventstore.table_additions up to date with the catalog.  Memberships
-- are removed only when pg_event_trigger_dropped_objects names them
-- (dropped_memberships: "table in publication" pairs): a recorded membership
-- whose publication exists but does not hold the table is one that a
-- restore loaded before it created the publication, and it is applied now.
CREATE FUNCTION eventstore.es_sync_table_additions(dropped_memberships text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    pending record;
BEGIN
    DELETE FROM eventstore.table_additions a
    WHERE a.kind = 'publication'
      AND (a.table_name || ' in ' || a.name) = ANY (dropped_memberships)
      AND NOT EXISTS (SELECT FROM eventstore.es_current_table_additions() c
                      WHERE c.kind = a.kind AND c.table_name = a.table_name AND c.name = a.name);

    FOR pending IN
        SELECT a.table_name, a.name, a.definition FROM eventstore.table_additions a
        JOIN pg_publication p ON p.pubname = a.name AND NOT p.puballtables
        WHERE a.kind = 'publication'
    LOOP
        -- Checked one by one: each ALTER PUBLICATION fires this again.
        IF NOT EXISTS (SELECT FROM eventstore.es_current_table_additions() c
                       WHERE c.kind = 'publication' AND c.table_name = pending.table_name
                         AND c.name = pending.name) THEN
            EXECUTE pending.definition;
        END IF;
    END LOOP;

    DELETE FROM eventstore.table_additions a
    WHERE a.kind <> 'publication'
      AND NOT EXISTS (SELECT FROM eventstore.es_current_table_additions() c
                      WHERE c.kind = a.kind AND c.table_name = a.table_name AND c.name = a.name);

    INSERT INTO eventstore.table_additions AS a (kind, table_name, name, definition)
    SELECT c.kind, c.table_name, c.name, c.definition FROM eventstore.es_current_table_additions() c
    ON CONFLICT (kind, table_name, name) DO UPDATE
        SET definition = excluded.definition, recorded_at = excluded.recorded_at
        WHERE a.definition IS DISTINCT FROM excluded.definition;
END
$$;

COMMENT ON FUNCTION eventstore.es_sync_table_additions(text[]) IS
    'Record what users added to the store''s tables in eventstore.table_additions (called by the store''s event triggers; safe to call at any time).';

-- Event trigger: after DDL that can add, change or drop such an object.
-- SECURITY DEFINER: it fires for every role's DDL in the database, and
-- those roles have no rights on the store's schema.
CREATE FUNCTION eventstore.es_track_table_additions() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- DDL run by the restore trigger below (it is inside a trigger), or by
    -- the extension's own scripts, is not a user's addition.
    IF pg_trigger_depth() > 0 THEN
        RETURN;
    END IF;
    IF TG_EVENT = 'sql_drop' THEN
        PERFORM eventstore.es_sync_table_additions(ARRAY(
            SELECT d.address_names[2] || ' in ' || d.address_args[1]
            FROM pg_event_trigger_dropped_objects() d
            WHERE d.object_type = 'publication relation'
              AND d.address_names[1] = 'eventstore'));
    ELSIF NOT EXISTS (SELECT FROM pg_event_trigger_ddl_commands() c WHERE c.in_extension) THEN
        PERFORM eventstore.es_sync_table_additions();
    END IF;
END
$$;

COMMENT ON FUNCTION eventstore.es_track_table_additions() IS
    'Event trigger: keeps eventstore.table_additions up to date after DDL.';

-- Row trigger: a restore loads a recorded addition; recreate it unless it
-- exists (a membership whose publication is not restored yet waits for the
-- CREATE PUBLICATION; es_sync_table_additions applies it then).
CREATE FUNCTION eventstore.es_restore_table_addition() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.kind = 'publication'
       AND NOT EXISTS (SELECT FROM pg_publication p WHERE p.pubname = NEW.name AND NOT p.puballtables) THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT FROM eventstore.es_current_table_additions() c
                   WHERE c.kind = NEW.kind AND c.table_name = NEW.table_name AND c.name = NEW.name) THEN
        EXECUTE NEW.definition;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION eventstore.es_restore_table_addition() IS
    'Trigger: when a restore loads a row of eventstore.table_additions, recreate that index, constraint, trigger or publication membership.';

CREATE TRIGGER table_additions_restore AFTER INSERT ON eventstore.table_additions
    FOR EACH ROW EXECUTE FUNCTION eventstore.es_restore_table_addition();
ALTER TABLE eventstore.table_additions ENABLE ALWAYS TRIGGER table_additions_restore;

CREATE EVENT TRIGGER eventstore_track_additions ON ddl_command_end
    WHEN TAG IN ('CREATE INDEX', 'ALTER INDEX', 'DROP INDEX', 'ALTER TABLE',
                 'CREATE TRIGGER', 'ALTER TRIGGER', 'DROP TRIGGER',
                 'CREATE PUBLICATION', 'ALTER PUBLICATION', 'DROP PUBLICATION')
    EXECUTE FUNCTION eventstore.es_track_table_additions();
ALTER EVENT TRIGGER eventstore_track_additions ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER eventstore_track_additions IS
    'Records what users add to the store''s tables (eventstore.table_additions) so that pg_restore recreates it.';

CREATE EVENT TRIGGER eventstore_track_dropped_memberships ON sql_drop
    WHEN TAG IN ('ALTER PUBLICATION', 'DROP PUBLICATION')
    EXECUTE FUNCTION eventstore.es_track_table_additions();
ALTER EVENT TRIGGER eventstore_track_dropped_memberships ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER eventstore_track_dropped_memberships IS
    'Forgets a recorded publication membership of a store table when it is dropped.';

REVOKE ALL ON FUNCTION eventstore.es_current_table_additions() FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_sync_table_additions(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_track_table_additions() FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_restore_table_addition() FROM PUBLIC;

-- Record what users added to the tables of the 1.0 store.
SELECT eventstore.es_sync_table_additions();

-- Issue 9: installing without a superuser (src/sql/90_privileges.sql,
-- docs/security.md).
ALTER FUNCTION eventstore.es_grant_writer(name) SECURITY DEFINER;
ALTER FUNCTION eventstore.es_grant_reader(name) SECURITY DEFINER;
ALTER SCHEMA eventstore OWNER TO CURRENT_USER;
GRANT EXECUTE ON FUNCTION eventstore.es_grant_writer(name), eventstore.es_grant_reader(name) TO @extowner@;
SELECT eventstore.es_grant_writer('@extowner@');
-- Issue 10: the C symbols of the snapshot functions now mirror their SQL
-- names.  The 1.0 symbols stay in the library (src/snapshot.c), so this
-- only rebinds; signatures, defaults and attributes are those of 1.0.
CREATE OR REPLACE FUNCTION eventstore.es_snapshot(
    stream   text,
    version  bigint,
    data     jsonb DEFAULT NULL,
    kind     text  DEFAULT 'default',
    data_bin bytea DEFAULT NULL,
    OUT version bigint,
    OUT saved   boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'es_snapshot'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION eventstore.es_load_snapshot(
    stream text,
    kind   text DEFAULT 'default')
RETURNS TABLE (stream text, kind text, version bigint, data jsonb, data_bin bytea,
               created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_load_snapshot'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 1;

CREATE OR REPLACE FUNCTION eventstore.es_load_with_snapshot(
    stream    text,
    kind      text    DEFAULT 'default',
    max_count integer DEFAULT 1000)
RETURNS TABLE (is_snapshot boolean, "position" bigint, stream text, version bigint,
               event_id uuid, type text, data jsonb, data_bin bytea, metadata jsonb,
               created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_load_with_snapshot'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;

-- Issue 13: a query surface (docs/queries.md).
-- Whole streams: max_count NULL reads every event (src/sql/11_load.sql,
-- src/sql/30_snapshots.sql); only the comments change.
COMMENT ON FUNCTION eventstore.es_load(text, bigint, integer, boolean) IS
    'Read a stream: forward from from_version (default 1), or backward from from_version (default: the end), at most max_count events; max_count NULL reads the whole stream.';
COMMENT ON FUNCTION eventstore.es_load_with_snapshot(text, text, integer) IS
    'Rebuild an aggregate in one query: the newest snapshot of the kind (is_snapshot, type = kind, position NULL), if any, then at most max_count events after its version (all of them when max_count is NULL), in version order, all from one database snapshot.';

-- Issue 13: events by id (src/sql/12_events_by_id.sql).
CREATE FUNCTION eventstore.es_load_event(event_id uuid)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_event'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 1;
COMMENT ON FUNCTION eventstore.es_load_event(uuid) IS
    'The event with this id: one row, or none when no event has it.';
REVOKE ALL ON FUNCTION eventstore.es_load_event(uuid) FROM PUBLIC;

CREATE FUNCTION eventstore.es_load_events(event_ids uuid[])
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_events'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 10;
COMMENT ON FUNCTION eventstore.es_load_events(uuid[]) IS
    'The events with these ids (at most 100000), in position order, each once; ids that no event has are skipped.';
REVOKE ALL ON FUNCTION eventstore.es_load_events(uuid[]) FROM PUBLIC;

-- Issue 13: richer append answers (src/sql/10_append.sql).  The new field
-- comes last, as in a fresh install; the library fills it only when the
-- type has it, so 1.0's four fields keep working until this update.
ALTER TYPE eventstore.append_result ADD ATTRIBUTE replayed boolean;
COMMENT ON TYPE eventstore.append_result IS
    'One appended event: its stream, version, global position and id; replayed is true when an idempotent retry found it stored already and wrote nothing.';
COMMENT ON FUNCTION eventstore.es_append(jsonb) IS
    'Append a batch: {"stream", "expected_version", "events": [{"type", "data", "data_bin", "metadata", "id", "occurred_at"}]} for one stream, or an array of such objects for several streams, all or nothing; an entry with "events": [] and an expected version only checks that stream. Returns one row per event.';

-- Issue 13: correlation and causation (src/sql/13_correlation.sql).  The
-- indexes are built here, in the update's transaction: appends wait for the
-- build (docs/releasing.md).  Then the store's own list of objects learns
-- their names (src/sql/86_table_additions.sql, the same definition).
CREATE INDEX events_correlation_id_idx ON eventstore.events
    (pg_catalog.substr(metadata OPERATOR(pg_catalog.->>) 'correlation_id', 1, 200), position)
    WHERE (metadata OPERATOR(pg_catalog.->>) 'correlation_id') IS NOT NULL;
COMMENT ON INDEX eventstore.events_correlation_id_idx IS
    'Events by metadata correlation_id (its first 200 characters), in position order (es_load_correlated).';
CREATE INDEX events_causation_id_idx ON eventstore.events
    (pg_catalog.substr(metadata OPERATOR(pg_catalog.->>) 'causation_id', 1, 200))
    WHERE (metadata OPERATOR(pg_catalog.->>) 'causation_id') IS NOT NULL;
COMMENT ON INDEX eventstore.events_causation_id_idx IS
    'Events by metadata causation_id, the id of the event that caused them (es_load_effects).';

CREATE FUNCTION eventstore.es_load_correlated(
    correlation_id text,
    after_position bigint  DEFAULT 0,
    max_count      integer DEFAULT 1000)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_correlated'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;
COMMENT ON FUNCTION eventstore.es_load_correlated(text, bigint, integer) IS
    'The events whose metadata correlation_id is this one, after after_position, in position order, at most max_count (NULL: all).';

CREATE FUNCTION eventstore.es_load_causes(
    event_id  uuid,
    max_count integer DEFAULT 1000)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_causes'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 10;
COMMENT ON FUNCTION eventstore.es_load_causes(uuid, integer) IS
    'The chain of causes of an event: the event its metadata causation_id names, that event''s cause, and so on, in position order, at most max_count (NULL: all).';

CREATE FUNCTION eventstore.es_load_effects(
    event_id  uuid,
    max_count integer DEFAULT 1000)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_effects'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 10;
COMMENT ON FUNCTION eventstore.es_load_effects(uuid, integer) IS
    'The effects of an event: the events whose metadata causation_id is its id, their effects, and so on, in position order, at most max_count (NULL: all).';
REVOKE ALL ON FUNCTION eventstore.es_load_correlated(text, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_load_causes(uuid, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_load_effects(uuid, integer) FROM PUBLIC;

-- Issue 13: time (src/sql/00_schema.sql, src/sql/14_time.sql).  The new
-- column goes last, as in a fresh install; adding a nullable column
-- without a default rewrites nothing.
ALTER TABLE eventstore.events ADD COLUMN occurred_at timestamptz;
COMMENT ON COLUMN eventstore.events.occurred_at IS 'When the event happened, as its writer says (the batch key "occurred_at"); NULL when not given. The store records its own time in created_at.';
CREATE FUNCTION eventstore.es_load_until(
    stream        text,
    until         timestamptz,
    by_occurrence boolean DEFAULT false,
    max_count     integer DEFAULT NULL)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_until'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;
COMMENT ON FUNCTION eventstore.es_load_until(text, timestamptz, boolean, integer) IS
    'Read a stream as of a time: its events recorded (created_at) at or before until, or with by_occurrence those that occurred (occurred_at, else created_at) at or before it, in version order; max_count NULL (the default): all.';

CREATE FUNCTION eventstore.es_feed_position_at(at timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_feed_position_at'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_feed_position_at(timestamptz) IS
    'The position of the first event recorded at or after a time (the head + 1 when there is none yet): replay from it with es_load(after_position => es_feed_position_at(t) - 1). Not on a hot standby.';
REVOKE ALL ON FUNCTION eventstore.es_load_until(text, timestamptz, boolean, integer) FROM PUBLIC;
CREATE FUNCTION eventstore.es_enable_time_index() RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM pg_class c
               WHERE c.relname = 'events_created_at_brin_idx'
                 AND c.relnamespace = 'eventstore'::regnamespace) THEN
        RETURN false;
    END IF;
    CREATE INDEX events_created_at_brin_idx ON eventstore.events USING brin (created_at);
    COMMENT ON INDEX eventstore.events_created_at_brin_idx IS
        'Block ranges of events by recording time (es_feed_position_at); created by es_enable_time_index.';
    RETURN true;
END
$$;
COMMENT ON FUNCTION eventstore.es_enable_time_index() IS
    'Create the BRIN index on events.created_at that makes es_feed_position_at read only what was recorded since its time (costs about 11,000 instructions per append); false when it exists already. Superuser only.';
REVOKE ALL ON FUNCTION eventstore.es_feed_position_at(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_enable_time_index() FROM PUBLIC;

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
               ('checkpoints_pkey'), ('checkpoints_position_check')
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

-- Issue 13: the streams catalogue (src/sql/15_catalogue.sql, the same
-- objects; its LIFECYCLE HOOKs are where deleted streams will be left out).
CREATE TYPE eventstore.stream_info AS (
    stream           text,
    category         text,
    version          bigint,
    first_position   bigint,
    last_position    bigint,
    created_at       timestamptz,
    last_appended_at timestamptz
);
COMMENT ON TYPE eventstore.stream_info IS
    'A stream in the catalogue: its category, version, the positions of its first and last events, and when they were recorded.';

CREATE FUNCTION eventstore.es_streams(
    category     text    DEFAULT NULL,
    prefix       text    DEFAULT NULL,
    after_stream text    DEFAULT NULL,
    max_count    integer DEFAULT 1000)
RETURNS SETOF eventstore.stream_info
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp ROWS 100 AS $$
BEGIN
    IF es_streams.category = '' OR strpos(es_streams.category, '-') > 0 THEN
        RAISE EXCEPTION 'invalid category: "%"', es_streams.category
            USING ERRCODE = '22023', HINT = 'A category is the part of a stream name before its first "-"; pass NULL for all.';
    END IF;
    IF es_streams.prefix = '' THEN
        RAISE EXCEPTION 'prefix must not be empty' USING ERRCODE = '22023', HINT = 'Pass NULL for every stream.';
    END IF;
    IF es_streams.after_stream = '' THEN
        RAISE EXCEPTION 'after_stream must not be empty' USING ERRCODE = '22023', HINT = 'Pass NULL to start at the first stream.';
    END IF;
    IF es_streams.max_count IS NULL THEN
        RAISE EXCEPTION 'max_count must not be null' USING ERRCODE = '22004';
    END IF;
    IF es_streams.max_count < 1 OR es_streams.max_count > 100000 THEN
        RAISE EXCEPTION 'max_count must be between 1 and 100000'
            USING ERRCODE = '22023', DETAIL = format('It is %s.', es_streams.max_count);
    END IF;

    RETURN QUERY
    WITH RECURSIVE walk(name, shown, matched) AS (
        SELECT w.name, w.shown, w.shown::int
        FROM (SELECT s.name,
                     -- LIFECYCLE HOOK: AND NOT <the stream is deleted>
                     (es_streams.prefix IS NULL OR starts_with(s.name, es_streams.prefix))
                     AND (es_streams.category IS NULL OR split_part(s.name, '-', 1) = es_streams.category) AS shown
              FROM (SELECT min(e.stream) AS name FROM eventstore.events e
                    WHERE es_streams.after_stream IS NULL OR e.stream > es_streams.after_stream) s) w
        WHERE w.name IS NOT NULL
      UNION ALL
        SELECT n.name, n.shown, w.matched + n.shown::int
        FROM walk w,
             LATERAL (SELECT s.name,
                             -- LIFECYCLE HOOK (the same test as above)
                             (es_streams.prefix IS NULL OR starts_with(s.name, es_streams.prefix))
                             AND (es_streams.category IS NULL OR split_part(s.name, '-', 1) = es_streams.category) AS shown
                      FROM (SELECT min(e.stream) AS name FROM eventstore.events e
                            WHERE e.stream > w.name) s) n
        WHERE n.name IS NOT NULL AND w.matched < es_streams.max_count
    )
    SELECT w.name, l.category, l.version, f.position, l.position, f.created_at, l.created_at
    FROM walk w,
         LATERAL (SELECT e.position, e.created_at FROM eventstore.events e
                  WHERE e.stream = w.name ORDER BY e.version LIMIT 1) f,
         LATERAL (SELECT e.position, e.created_at, e.version, e.category FROM eventstore.events e
                  WHERE e.stream = w.name ORDER BY e.version DESC LIMIT 1) l
    WHERE w.shown
    ORDER BY w.name
    LIMIT es_streams.max_count;
END
$$;
COMMENT ON FUNCTION eventstore.es_streams(text, text, text, integer) IS
    'The streams catalogue, in stream name order, paged: at most max_count streams after after_stream, optionally of one category and/or with a name prefix; each with its version, first and last positions and times. Derived from the events'' (stream, version) index on every call.';

CREATE FUNCTION eventstore.es_stream_versions(streams text[])
RETURNS TABLE (stream text, version bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp ROWS 10 AS $$
BEGIN
    IF streams IS NULL THEN
        RAISE EXCEPTION 'stream names must not be null' USING ERRCODE = '22004';
    END IF;
    IF array_ndims(streams) > 1 THEN
        RAISE EXCEPTION 'stream names must be a one-dimensional array' USING ERRCODE = '22023';
    END IF;
    IF cardinality(streams) > 100000 THEN
        RAISE EXCEPTION 'too many stream names in one call'
            USING ERRCODE = '54000', DETAIL = format('There are %s; the limit is 100000.', cardinality(streams));
    END IF;
    IF array_position(streams, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'stream names must not contain nulls' USING ERRCODE = '22004';
    END IF;
    IF EXISTS (SELECT FROM unnest(streams) s(name) WHERE s.name = '' OR octet_length(s.name) > 255) THEN
        RAISE EXCEPTION 'stream names must not be empty or longer than 255 bytes' USING ERRCODE = '22023';
    END IF;

    RETURN QUERY
    SELECT s.name,
           -- LIFECYCLE HOOK: a deleted stream's version (0, or as documented there)
           coalesce((SELECT e.version FROM eventstore.events e
                     WHERE e.stream = s.name ORDER BY e.version DESC LIMIT 1), 0)
    FROM unnest(streams) WITH ORDINALITY s(name, n)
    ORDER BY s.n;
END
$$;
COMMENT ON FUNCTION eventstore.es_stream_versions(text[]) IS
    'Existence and version of many streams in one call: one row per name, in the order given, version 0 for a stream that does not exist.';

CREATE FUNCTION eventstore.es_categories()
RETURNS TABLE (category text, streams bigint, events bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp ROWS 10 AS $$
    WITH RECURSIVE walk(name) AS (
        SELECT min(e.stream) FROM eventstore.events e
      UNION ALL
        SELECT (SELECT min(e.stream) FROM eventstore.events e WHERE e.stream > w.name)
        FROM walk w WHERE w.name IS NOT NULL
    )
    SELECT split_part(w.name, '-', 1), count(*),
           sum((SELECT e.version FROM eventstore.events e WHERE e.stream = w.name ORDER BY e.version DESC LIMIT 1)
               - (SELECT e.version FROM eventstore.events e WHERE e.stream = w.name ORDER BY e.version LIMIT 1) + 1)::bigint
    FROM walk w
    WHERE w.name IS NOT NULL
      -- LIFECYCLE HOOK: AND NOT <the stream is deleted>
    GROUP BY 1
    ORDER BY 1
$$;
COMMENT ON FUNCTION eventstore.es_categories() IS
    'Every category with its number of streams and events (exact: a stream''s events counted as last version - first version + 1). Visits every stream (one index descent each): for monitoring, not for every request.';
REVOKE ALL ON FUNCTION eventstore.es_streams(text, text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_stream_versions(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_categories() FROM PUBLIC;

-- Issue 13: es_grant_reader grants the new reads (src/sql/90_privileges.sql,
-- the same definition); the extension's owner gets them as on a fresh install.
CREATE OR REPLACE FUNCTION eventstore.es_grant_reader(role_name name) RETURNS void
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
SELECT eventstore.es_grant_reader('@extowner@');

-- Issue 13: read-only grants for operators, BI tools and CDC connectors
-- (src/sql/91_monitor_grants.sql, the same objects).
CREATE FUNCTION eventstore.es_grant_monitor(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
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
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    EXECUTE format('GRANT SELECT ON eventstore.events TO %I', role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_cdc(name) IS
    'Let a CDC connector''s role (e.g. Debezium) take its initial snapshot of the events table: USAGE on the schema and SELECT on events. The REPLICATION attribute and the publication are the operator''s (docs/operations.md).';

REVOKE ALL ON FUNCTION eventstore.es_grant_monitor(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_grant_cdc(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventstore.es_grant_monitor(name), eventstore.es_grant_cdc(name) TO @extowner@;
