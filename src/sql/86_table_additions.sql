-- What users add to the store's tables survives pg_dump / pg_restore
-- (docs/operations.md, "What users add to the store's tables").  New in 1.1.
--
-- pg_dump writes the store's tables as part of CREATE EXTENSION, so it
-- leaves out what users add to them: indexes, constraints, triggers and
-- membership in FOR TABLE publications.  The store records each addition
-- here, as the statement that recreates it, when it is made (event triggers
-- below); the table is dumped with the data, and when a restore loads its
-- rows, a trigger runs each statement.  pg_dump orders the data of the
-- store's tables by name, so table_additions is loaded after the events and
-- a restored trigger does not fire for restored events (with pg_restore -j
-- the two loads can overlap: docs/operations.md).  A membership in a
-- publication waits until the restore creates the publication.

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
               ('events_correlation_id_idx'), ('events_causation_id_idx'),
               ('snapshots_pkey'), ('snapshots_version_check'), ('snapshots_one_payload_check'),
               ('checkpoints_pkey'), ('checkpoints_position_check'),
               ('grants_pkey'), ('grants_kind_check'),
               ('stream_state_pkey'), ('stream_state_last_version_check'),
               ('stream_state_retention_check'), ('stream_state_last_position_idx'),
               ('deleted_events_pkey'),
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
