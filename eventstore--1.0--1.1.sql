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

-- Issue 16: scale out by stream (src/sql/50_shard.sql).

-- The shard identity: at most one row, written by es_set_shard only.  A
-- row rather than a setting so that it travels with the data in pg_dump.
-- No constraints of its own: es_set_shard checks the values.
CREATE TABLE eventstore.shard_config (
    shard       integer     NOT NULL,
    shard_count integer     NOT NULL,
    shard_by    text        NOT NULL,
    set_at      timestamptz NOT NULL
);
COMMENT ON TABLE eventstore.shard_config IS
    'This store''s place in a sharded store: empty when it is not a shard. Written by es_set_shard and es_unset_shard only.';
COMMENT ON COLUMN eventstore.shard_config.shard IS 'This store''s shard number, 0 to shard_count - 1.';
COMMENT ON COLUMN eventstore.shard_config.shard_count IS 'How many shards the store has.';
COMMENT ON COLUMN eventstore.shard_config.shard_by IS 'stream or category: what es_shard_of hashes.';
COMMENT ON COLUMN eventstore.shard_config.set_at IS 'When es_set_shard last set it.';
SELECT pg_catalog.pg_extension_config_dump('eventstore.shard_config', '');
REVOKE ALL ON TABLE eventstore.shard_config FROM PUBLIC;

CREATE FUNCTION eventstore.es_shard_of(stream text, shard_count integer, shard_by text DEFAULT 'stream')
RETURNS integer
AS 'MODULE_PATHNAME', 'es_shard_of'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventstore.es_shard_of(text, integer, text) IS
    'The shard (0 to shard_count - 1) that owns a stream: FNV-1a 64 of the UTF-8 bytes of the stream name (shard_by ''stream'') or of its category (shard_by ''category''), mixed by MurmurHash3''s 64-bit finalizer, modulo shard_count. Stable across platforms and PostgreSQL versions.';

CREATE FUNCTION eventstore.es_shard_of_batch(batch jsonb, shard_count integer, shard_by text DEFAULT 'stream')
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    shards integer[];
    streams text[];
BEGIN
    SELECT pg_catalog.array_agg(DISTINCT eventstore.es_shard_of(e.value OPERATOR(pg_catalog.->>) 'stream', shard_count, shard_by)),
           pg_catalog.array_agg(e.value OPERATOR(pg_catalog.->>) 'stream')
      INTO shards, streams
      FROM pg_catalog.jsonb_array_elements(
               CASE pg_catalog.jsonb_typeof(batch) WHEN 'array' THEN batch
                    ELSE pg_catalog.jsonb_build_array(batch) END) e;
    IF shards IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'no events to append',
            DETAIL = 'The batch is an empty array.';
    END IF;
    IF pg_catalog.cardinality(shards) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'ES021',
            MESSAGE = 'append spans several shards',
            DETAIL = pg_catalog.format('Streams %s belong to shards %s (%s shards by %s).',
                                       streams, shards, shard_count, shard_by),
            HINT = 'One call appends within one shard; shard by category to keep a category''s streams together.';
    END IF;
    RETURN shards[1];
END
$$;
COMMENT ON FUNCTION eventstore.es_shard_of_batch(jsonb, integer, text) IS
    'For a router: the shard of every stream of an es_append batch, or SQLSTATE ES021 when its streams belong to several shards.';

CREATE FUNCTION eventstore.es_set_shard(shard integer, shard_count integer, shard_by text DEFAULT 'stream')
RETURNS void
AS 'MODULE_PATHNAME', 'es_set_shard'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_set_shard(integer, integer, text) IS
    'Make this store shard number shard (0 to shard_count - 1) of shard_count, by stream or by category: es_append then refuses streams of other shards (SQLSTATE ES020, ES021). Refused when the store already holds a stream of another shard.';

CREATE FUNCTION eventstore.es_unset_shard()
RETURNS void
AS 'MODULE_PATHNAME', 'es_unset_shard'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_unset_shard() IS
    'Make this store no shard: es_append accepts every stream again.';

CREATE FUNCTION eventstore.es_shard_info(
    OUT shard integer, OUT shard_count integer, OUT shard_by text, OUT set_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.shard, c.shard_count, c.shard_by, c.set_at FROM eventstore.shard_config c
$$;
COMMENT ON FUNCTION eventstore.es_shard_info() IS
    'This store''s shard number, shard count and shard_by, as es_set_shard set them; no row when it is not a shard.';
REVOKE ALL ON FUNCTION eventstore.es_shard_of(text, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_shard_of_batch(jsonb, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_set_shard(integer, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_unset_shard() FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_shard_info() FROM PUBLIC;
