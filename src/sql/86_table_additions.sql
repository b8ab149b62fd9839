-- What users add to the store's tables survives pg_dump / pg_restore
-- (docs/operations.md, "What users add to the store's tables").  New in 1.1.
--
-- pg_dump writes the store's tables as part of CREATE EXTENSION, so it
-- leaves out what users add to them: indexes, constraints, triggers and
-- membership in FOR TABLE publications.  The store records each addition
-- here, as the statement that recreates it, when it is made (event triggers
-- below); the table is dumped with the data, and when a restore loads its
-- rows, a trigger recreates each addition.  pg_dump orders the data of the
-- store's tables by name, so table_additions is loaded after the events and
-- a restored trigger does not fire for restored events (with pg_restore -j
-- the two loads can overlap: docs/operations.md).  A membership in a
-- publication waits until the restore creates the publication.
--
-- A dump is data, written by whoever controlled the dumped database, and
-- the role that restores it is usually a superuser.  So a loaded
-- definition is never run as it comes: src/table_additions.c parses it and
-- accepts only the one statement its kind implies, on that table, naming
-- that object, calling nothing a non-superuser could have chosen.  A row it
-- refuses is kept with state 'refused' and a WARNING (ES014) says so.
--
-- The same concern, live: the store's writing functions are SECURITY
-- DEFINER, owned by the superuser that installed the store, and a trigger,
-- an index expression or a constraint on its tables runs inside them with
-- those rights.  The event trigger eventstore_guard_additions refuses
-- (42501) any such object that would run a function a non-superuser owns or
-- whose body the caller's search_path could redirect.

CREATE TABLE eventstore.table_additions (
    kind        text        NOT NULL,
    table_name  text        NOT NULL,
    name        text        NOT NULL,
    definition  text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    state       text        NOT NULL DEFAULT 'present',
    CONSTRAINT table_additions_pkey PRIMARY KEY (kind, table_name, name),
    CONSTRAINT table_additions_kind_check
        CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['index', 'constraint', 'trigger', 'publication'])),
    CONSTRAINT table_additions_state_check
        CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['present', 'pending', 'refused']))
);

COMMENT ON TABLE eventstore.table_additions IS
    'Indexes, constraints, triggers and publication memberships that users added to the store''s tables, recorded automatically so that pg_restore recreates them.';
COMMENT ON COLUMN eventstore.table_additions.kind IS 'index, constraint, trigger or publication (membership of the table in a FOR TABLE publication).';
COMMENT ON COLUMN eventstore.table_additions.table_name IS 'The store table it belongs to (events, snapshots, checkpoints).';
COMMENT ON COLUMN eventstore.table_additions.name IS 'Name of the index, constraint or trigger; name of the publication.';
COMMENT ON COLUMN eventstore.table_additions.definition IS 'The statement that recreates it.';
COMMENT ON COLUMN eventstore.table_additions.recorded_at IS 'When it was recorded or last changed.';
COMMENT ON COLUMN eventstore.table_additions.state IS 'present: on the table; pending: a restored membership waiting for its publication; refused: restored, but not recreated (the restore''s WARNING said why).';

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

COMMENT ON FUNCTION eventstore.es_current_table_additions() IS
    'Indexes, constraints, triggers and publication memberships on the store''s tables that the store did not create itself, each with the statement that recreates it.';

-- Why a recorded addition must not be recreated, or NULL (src/table_additions.c).
CREATE FUNCTION eventstore.es_table_addition_problem(
    kind text, table_name text, name text, definition text) RETURNS text
AS 'MODULE_PATHNAME', 'es_table_addition_problem'
LANGUAGE C STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION eventstore.es_table_addition_problem(text, text, text, text) IS
    'Internal: why a restore must not run this recorded definition (not exactly the statement its kind implies, or calling what a non-superuser could have chosen), or NULL.';

-- Why a function must not run with the store's superuser rights, or NULL
-- (src/table_additions.c).
CREATE FUNCTION eventstore.es_function_problem(function oid) RETURNS text
AS 'MODULE_PATHNAME', 'es_function_problem'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION eventstore.es_function_problem(oid) IS
    'Internal: why this function must not run as a trigger, in an index or in a constraint of a store table (not owned by a superuser, or its search_path not set), or NULL.';

-- Recreate one recorded addition, if the store may: its state afterwards.
-- A membership waits ('pending') until its publication exists, and is added
-- only to a publication that a superuser owns (adding a store table to a
-- publication takes ownership of both, so a legitimate one is a
-- superuser's).  refuse: raise ES014 instead of warning.
CREATE FUNCTION eventstore.es_replay_table_addition(addition eventstore.table_additions, refuse boolean)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    problem text;
BEGIN
    IF EXISTS (SELECT FROM eventstore.es_current_table_additions() c
               WHERE c.kind = addition.kind AND c.table_name = addition.table_name
                 AND c.name = addition.name) THEN
        RETURN 'present';
    END IF;
    IF addition.kind = 'publication' THEN
        SELECT CASE WHEN NOT r.rolsuper
                    THEN format('publication %I is owned by role %I, which is not a superuser', p.pubname, r.rolname)
                    WHEN p.puballtables
                    THEN format('publication %I publishes all tables', p.pubname)
               END
        INTO problem
        FROM pg_publication p JOIN pg_roles r ON r.oid = p.pubowner
        WHERE p.pubname = addition.name;
        IF NOT FOUND THEN
            RETURN 'pending';
        END IF;
    END IF;
    IF problem IS NULL THEN
        BEGIN
            problem := eventstore.es_table_addition_problem(
                addition.kind, addition.table_name, addition.name, addition.definition);
        EXCEPTION WHEN OTHERS THEN
            -- Not even valid SQL, or names that do not resolve.
            problem := SQLERRM;
        END;
    END IF;
    IF problem IS NOT NULL THEN
        problem := upper(left(problem, 1)) || substr(problem, 2) || '.';
        IF refuse THEN
            RAISE EXCEPTION USING ERRCODE = 'ES014',
                MESSAGE = format('cannot recreate %s %s of table eventstore.%s', addition.kind, quote_ident(addition.name), addition.table_name),
                DETAIL = problem,
                HINT = 'Read its definition in eventstore.table_additions; a superuser who trusts it can run it by hand.';
        END IF;
        RAISE WARNING USING ERRCODE = 'ES014',
            MESSAGE = format('recorded %s %s of table eventstore.%s is not recreated', addition.kind, quote_ident(addition.name), addition.table_name),
            DETAIL = problem,
            HINT = 'It stays in eventstore.table_additions with state ''refused''. Read its definition there; a superuser who trusts it can run it by hand.';
        RETURN 'refused';
    END IF;
    -- Exactly the text that was checked, parsed with the same settings.
    -- A restore goes on when it fails (rows that break a restored CHECK, a
    -- name already taken): the row is kept, refused, and the warning says why.
    BEGIN
        EXECUTE addition.definition;
    EXCEPTION WHEN OTHERS THEN
        IF refuse THEN
            RAISE;
        END IF;
        RAISE WARNING USING ERRCODE = SQLSTATE,
            MESSAGE = format('recorded %s %s of table eventstore.%s is not recreated', addition.kind, quote_ident(addition.name), addition.table_name),
            DETAIL = format('Its statement failed: %s', SQLERRM),
            HINT = 'It stays in eventstore.table_additions with state ''refused''; eventstore.es_apply_table_addition tries it again.';
        RETURN 'refused';
    END;
    RETURN 'present';
END
$$;

COMMENT ON FUNCTION eventstore.es_replay_table_addition(eventstore.table_additions, boolean) IS
    'Internal: recreate a recorded addition unless it exists, if es_table_addition_problem finds nothing against it; returns its new state (present, pending or refused).';

-- Bring eventstore.table_additions up to date with the catalog: what is on
-- the tables now is recorded as it is, and a recorded addition that is gone
-- (dropped, renamed, removed from its publication) is forgotten.  Rows a
-- restore loaded that are not on the tables (pending memberships, refused
-- rows) stay; a pending membership whose publication now exists is applied.
CREATE FUNCTION eventstore.es_sync_table_additions()
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    waiting eventstore.table_additions;
    new_state text;
BEGIN
    FOR waiting IN
        SELECT a.* FROM eventstore.table_additions a
        WHERE a.state = 'pending'
          AND EXISTS (SELECT FROM pg_publication p WHERE p.pubname = a.name)
    LOOP
        -- Its ALTER PUBLICATION runs this function again, nested: the state
        -- is computed first, then written.
        new_state := eventstore.es_replay_table_addition(waiting, false);
        UPDATE eventstore.table_additions a SET state = new_state
        WHERE a.kind = waiting.kind AND a.table_name = waiting.table_name AND a.name = waiting.name;
    END LOOP;

    DELETE FROM eventstore.table_additions a
    WHERE a.state = 'present'
      AND NOT EXISTS (SELECT FROM eventstore.es_current_table_additions() c
                      WHERE c.kind = a.kind AND c.table_name = a.table_name AND c.name = a.name);

    INSERT INTO eventstore.table_additions AS a (kind, table_name, name, definition)
    SELECT c.kind, c.table_name, c.name, c.definition FROM eventstore.es_current_table_additions() c
    ON CONFLICT (kind, table_name, name) DO UPDATE
        SET definition = excluded.definition, recorded_at = excluded.recorded_at, state = 'present'
        WHERE a.definition IS DISTINCT FROM excluded.definition OR a.state <> 'present';
END
$$;

COMMENT ON FUNCTION eventstore.es_sync_table_additions() IS
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
    IF NOT EXISTS (SELECT FROM pg_event_trigger_ddl_commands() c WHERE c.in_extension) THEN
        PERFORM eventstore.es_sync_table_additions();
    END IF;
END
$$;

COMMENT ON FUNCTION eventstore.es_track_table_additions() IS
    'Event trigger: keeps eventstore.table_additions up to date after DDL.';

-- Row trigger: a restore loads a recorded addition; recreate it unless it
-- exists, if the store may (es_replay_table_addition), and keep the row
-- with its state.  BEFORE: the state is the row's own.
CREATE FUNCTION eventstore.es_restore_table_addition() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Only the tables' owner, a superuser, can add to them: a restore by
    -- another role (the owner of a trusted install) keeps the rows for a
    -- superuser to apply.
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = current_user AND r.rolsuper) THEN
        RAISE WARNING USING ERRCODE = 'ES014',
            MESSAGE = format('recorded %s %s of table eventstore.%s is not recreated', NEW.kind, quote_ident(NEW.name), NEW.table_name),
            DETAIL = format('Role %I, which restores it, is not a superuser; only a superuser can add to the store''s tables.', current_user),
            HINT = 'A superuser can recreate it with eventstore.es_apply_table_addition.';
        NEW.state := 'refused';
        RETURN NEW;
    END IF;
    NEW.state := eventstore.es_replay_table_addition(NEW, false);
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION eventstore.es_restore_table_addition() IS
    'Trigger: when a restore loads a row of eventstore.table_additions, recreate that index, constraint, trigger or publication membership if the store may, and record its state.';

CREATE TRIGGER table_additions_restore BEFORE INSERT ON eventstore.table_additions
    FOR EACH ROW EXECUTE FUNCTION eventstore.es_restore_table_addition();
ALTER TABLE eventstore.table_additions ENABLE ALWAYS TRIGGER table_additions_restore;

-- A superuser's explicit replay of a refused or pending row: the same
-- checks, refused with ES014.
CREATE FUNCTION eventstore.es_apply_table_addition(kind text, table_name text, name text)
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    addition eventstore.table_additions;
    new_state text;
BEGIN
    SELECT a.* INTO addition FROM eventstore.table_additions a
    WHERE a.kind = $1 AND a.table_name = $2 AND a.name = $3;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '42704',
            MESSAGE = format('no %s %s of table eventstore.%s is recorded', $1, quote_ident($3), $2);
    END IF;
    new_state := eventstore.es_replay_table_addition(addition, true);
    UPDATE eventstore.table_additions a SET state = new_state
    WHERE a.kind = $1 AND a.table_name = $2 AND a.name = $3;
    RETURN new_state;
END
$$;

COMMENT ON FUNCTION eventstore.es_apply_table_addition(text, text, text) IS
    'Recreate a recorded addition (one a restore refused or left pending) with the checks of a restore; refused with ES014. Returns its state: present, or pending while its publication does not exist.';

CREATE EVENT TRIGGER eventstore_track_additions ON ddl_command_end
    WHEN TAG IN ('CREATE INDEX', 'ALTER INDEX', 'DROP INDEX', 'ALTER TABLE',
                 'CREATE TRIGGER', 'ALTER TRIGGER', 'DROP TRIGGER', 'DROP FUNCTION',
                 'CREATE PUBLICATION', 'ALTER PUBLICATION', 'DROP PUBLICATION')
    EXECUTE FUNCTION eventstore.es_track_table_additions();
ALTER EVENT TRIGGER eventstore_track_additions ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER eventstore_track_additions IS
    'Records what users add to the store''s tables (eventstore.table_additions) so that pg_restore recreates it.';

-- Every function, operator, type or operator class that an object on a
-- store table makes the store run, and why it must not.  The store's tables
-- are those of schema eventstore and the archive tables (es_archive_events;
-- the lifecycle functions reach them too): the tables themselves (column
-- types), their indexes, constraints, triggers, column
-- defaults, policies, rules and statistics objects, and what each depends
-- on (pg_depend; pinned built-ins have no rows there).
-- only_tables: look at these tables only (NULL: at every store table).
CREATE FUNCTION eventstore.es_store_dependency_problems(
    only_tables oid[] DEFAULT NULL,
    OUT table_oid oid, OUT classid oid, OUT objid oid, OUT refclassid oid, OUT refobjid oid,
    OUT object text, OUT problem text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- PL/pgSQL keeps the plan: the guard runs this after much DDL.
    RETURN QUERY
    WITH store AS (
        SELECT c.oid FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('eventstore', 'eventstore_archive') AND c.relkind IN ('r', 'p')
          AND (es_store_dependency_problems.only_tables IS NULL OR c.oid = ANY (es_store_dependency_problems.only_tables))
    ), attached(table_oid, classid, objid) AS (
        SELECT s.oid, 'pg_class'::regclass::oid, s.oid FROM store s
        UNION ALL
        SELECT x.indrelid, 'pg_class'::regclass, x.indexrelid FROM pg_index x JOIN store s ON s.oid = x.indrelid
        UNION ALL
        SELECT k.conrelid, 'pg_constraint'::regclass, k.oid FROM pg_constraint k JOIN store s ON s.oid = k.conrelid
        UNION ALL
        SELECT t.tgrelid, 'pg_trigger'::regclass, t.oid FROM pg_trigger t JOIN store s ON s.oid = t.tgrelid
        UNION ALL
        SELECT d.adrelid, 'pg_attrdef'::regclass, d.oid FROM pg_attrdef d JOIN store s ON s.oid = d.adrelid
        UNION ALL
        SELECT p.polrelid, 'pg_policy'::regclass, p.oid FROM pg_policy p JOIN store s ON s.oid = p.polrelid
        UNION ALL
        SELECT r.ev_class, 'pg_rewrite'::regclass, r.oid FROM pg_rewrite r JOIN store s ON s.oid = r.ev_class
        UNION ALL
        SELECT x.stxrelid, 'pg_statistic_ext'::regclass, x.oid FROM pg_statistic_ext x JOIN store s ON s.oid = x.stxrelid
    ), used AS (
        SELECT DISTINCT a.table_oid, a.classid, a.objid, d.refclassid, d.refobjid
        FROM attached a
        JOIN pg_depend d ON d.classid = a.classid AND d.objid = a.objid
        WHERE d.refclassid IN ('pg_proc'::regclass, 'pg_operator'::regclass,
                               'pg_type'::regclass, 'pg_opclass'::regclass)
    )
    SELECT u.table_oid, u.classid, u.objid, u.refclassid, u.refobjid,
           pg_describe_object(u.classid, u.objid, 0), p.problem
    FROM used u
    CROSS JOIN LATERAL (
        SELECT CASE u.refclassid
            WHEN 'pg_proc'::regclass THEN eventstore.es_function_problem(u.refobjid)
            WHEN 'pg_operator'::regclass THEN (
                SELECT CASE WHEN NOT r.rolsuper
                            THEN format('operator %s is owned by role %I, which is not a superuser', o.oid::regoperator, r.rolname)
                            ELSE eventstore.es_function_problem(o.oprcode)
                       END
                FROM pg_operator o JOIN pg_roles r ON r.oid = o.oprowner WHERE o.oid = u.refobjid)
            WHEN 'pg_type'::regclass THEN (
                SELECT format('type %s is owned by role %I, which is not a superuser', t.oid::regtype, r.rolname)
                FROM pg_type t JOIN pg_roles r ON r.oid = t.typowner
                WHERE t.oid = u.refobjid AND NOT r.rolsuper)
            WHEN 'pg_opclass'::regclass THEN (
                SELECT format('operator class %s is owned by role %I, which is not a superuser', c.opcname, r.rolname)
                FROM pg_opclass c JOIN pg_roles r ON r.oid = c.opcowner
                WHERE c.oid = u.refobjid AND NOT r.rolsuper)
        END AS problem
    ) p
    WHERE p.problem IS NOT NULL;
END
$$;

COMMENT ON FUNCTION eventstore.es_store_dependency_problems(oid[]) IS
    'Objects on the store''s tables (triggers, indexes, constraints, defaults, policies, rules, statistics) that would run, with the store''s superuser rights, a function, operator, type or operator class that a non-superuser owns or whose search_path the caller chooses; empty when there is none.';

-- Event trigger: refuse DDL that leaves such an object, for the objects the
-- command touched: a store table and what is on it, or a function, type,
-- operator or operator class that one of them uses (ALTER FUNCTION ... OWNER
-- TO, CREATE OR REPLACE FUNCTION without SET search_path).  SECURITY
-- DEFINER for the same reason as es_track_table_additions; it reads the
-- catalog and runs nothing a user chose.
CREATE FUNCTION eventstore.es_guard_table_additions() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tables oid[];
    used boolean;
    bad record;
BEGIN
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

COMMENT ON FUNCTION eventstore.es_guard_table_additions() IS
    'Event trigger: refuses (42501) a trigger, index, constraint or other object on a store table that would run a non-superuser''s function, operator, type or operator class, or a function without SET search_path, with the store''s superuser rights.';

CREATE EVENT TRIGGER eventstore_guard_additions ON ddl_command_end
    WHEN TAG IN ('CREATE INDEX', 'ALTER INDEX', 'ALTER TABLE', 'CREATE TRIGGER', 'ALTER TRIGGER',
                 'CREATE STATISTICS', 'ALTER STATISTICS', 'CREATE POLICY', 'ALTER POLICY',
                 'CREATE RULE', 'CREATE FUNCTION', 'ALTER FUNCTION', 'ALTER ROUTINE',
                 'ALTER TYPE', 'ALTER DOMAIN', 'ALTER OPERATOR', 'ALTER OPERATOR CLASS')
    EXECUTE FUNCTION eventstore.es_guard_table_additions();
ALTER EVENT TRIGGER eventstore_guard_additions ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER eventstore_guard_additions IS
    'Refuses (42501) triggers, indexes and constraints on the store''s tables that would run a non-superuser''s code with superuser rights.';
