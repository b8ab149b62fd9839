-- Partitions of the partitioned layout (05_layout.sql, docs/partitioning.md).
-- es_append has es_make_partitions run (src/partitions.c) when the
-- positions it hands out come near the upper bound of the last partition,
-- or fall where no partition is, under a lock that keeps two appenders from
-- making the same partition; an administrator calls it to make partitions
-- ahead of a bulk load or a restore into the partitioned layout.
--
-- The invariant (issue 21, item 12): partitions cover every position from
-- the first partition's lower bound to the last one's upper bound, without a
-- gap; a position in a gap would fail every append that reaches it (23514,
-- "no partition of relation"), and the partition maker, which looks at the
-- last bound only, would never see it.  So es_make_partitions fills every
-- gap it finds before it extends the partitions upwards, and it only ever
-- extends from the last upper bound.  from_position places the first
-- partition of a store that has none (1 by default), so that a store whose
-- position counter starts high (after a reinstall, a load) does not get
-- empty partitions for the positions below.
--
-- Settings: every function here pins the settings its body relies on
-- (search_path; standard_conforming_strings, which decides what a
-- backslash in a literal means), so that ALTER DATABASE ... SET by the
-- database's owner cannot change what they do.

-- The partitions of eventstore.events with their bounds, oldest first (none
-- in the plain layout).  Also for monitoring: how many partitions are hot.
CREATE FUNCTION eventstore.es_partitions(
    OUT partition regclass, OUT from_position bigint, OUT to_position bigint)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET standard_conforming_strings = on AS $$
    SELECT c.oid::regclass,
           substring(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''?(-?[0-9]+)''?\)')::bigint,
           substring(pg_get_expr(c.relpartbound, c.oid), 'TO \(''?(-?[0-9]+)''?\)')::bigint
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'eventstore.events'::regclass
    ORDER BY 2
$$;
COMMENT ON FUNCTION eventstore.es_partitions() IS
    'Partitioned layout: the partitions of eventstore.events, oldest first, each holding positions from_position to to_position - 1 (none for a plain store).';
REVOKE ALL ON FUNCTION eventstore.es_partitions() FROM PUBLIC;

-- 55000 unless the store is in the partitioned layout.
CREATE FUNCTION eventstore.es_require_partitioned() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET standard_conforming_strings = on AS $$
BEGIN
    IF to_regclass('eventstore.partitioning') IS NULL THEN
        RAISE EXCEPTION 'the store is not partitioned'
            USING ERRCODE = '55000',
                  HINT = 'Set eventstore.partition_size before CREATE EXTENSION eventstore to create a partitioned store (docs/partitioning.md).';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION eventstore.es_require_partitioned() FROM PUBLIC;
COMMENT ON FUNCTION eventstore.es_require_partitioned() IS
    'Partitioned layout: raises 55000 unless the store was created partitioned (the check of es_make_partitions and es_archive_events).';

-- Refuses (22023) a call of es_make_partitions that would make more than
-- ES_MAX_PARTITIONS_PER_CALL partitions (src/partitions.c); never the
-- partitions an append needs.
CREATE FUNCTION eventstore.es_check_partition_count(partitions bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'es_check_partition_count'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION eventstore.es_check_partition_count(bigint) FROM PUBLIC;
COMMENT ON FUNCTION eventstore.es_check_partition_count(bigint) IS
    'Partitioned layout (internal, for es_make_partitions): raises 22023 when one call would make more than 100 partitions, unless it makes them for an append.';

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

CREATE FUNCTION eventstore.es_make_partitions(up_to_position bigint, from_position bigint DEFAULT 1)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET standard_conforming_strings = on AS $$
DECLARE
    size  bigint;
    count bigint := 0;          -- partitions to make
    part  record;
    top   bigint;               -- upper bound of the partitions seen so far
    above boolean := false;     -- a partition ends at MAXVALUE: nothing above to make
    todo  pg_catalog.int8range[] := ARRAY[]::pg_catalog.int8range[];
    r     pg_catalog.int8range;
    lo    bigint;
    hi    bigint;
    name  text;
    made_as integer := 0;
    made  integer := 0;
BEGIN
    PERFORM eventstore.es_require_partitioned();
    IF up_to_position IS NULL OR up_to_position < 1 THEN
        RAISE EXCEPTION 'up_to_position must be a position (at least 1)' USING ERRCODE = '22023';
    END IF;
    IF from_position IS NULL OR from_position < 1 OR from_position > up_to_position THEN
        RAISE EXCEPTION 'from_position must be a position from 1 to up_to_position' USING ERRCODE = '22023';
    END IF;
    EXECUTE 'SELECT partition_size FROM eventstore.partitioning' INTO size;
    -- The gaps between the partitions there are (a NULL bound is MINVALUE
    -- or MAXVALUE, of a partition attached by hand).
    FOR part IN
        SELECT p.from_position AS lo, p.to_position AS hi
        FROM eventstore.es_partitions() p ORDER BY p.from_position NULLS FIRST
    LOOP
        IF top IS NOT NULL AND part.lo IS NOT NULL AND part.lo > top THEN
            todo := todo || pg_catalog.int8range(top, part.lo);
            count := count + (part.lo - 2) / size - (top - 1) / size + 1;
        END IF;
        IF part.hi IS NULL THEN
            above := true;
        ELSIF top IS NULL OR part.hi > top THEN
            top := part.hi;
        END IF;
    END LOOP;
    -- Then upwards: from the last bound, or for a store without partitions
    -- from the partition that holds from_position, to the partition that
    -- holds up_to_position.
    IF NOT above THEN
        lo := coalesce(top, (from_position - 1) / size * size + 1);
        IF lo <= up_to_position THEN
            count := count + (up_to_position - 1) / size - (lo - 1) / size + 1;
        END IF;
    END IF;
    -- Refused before anything is made (es_make_partitions(9223372036854775807)
    -- made partitions until statement_timeout): about 18 locks a partition.
    PERFORM eventstore.es_check_partition_count(count);
    IF NOT above AND lo <= up_to_position THEN
        todo := todo || pg_catalog.int8range(lo, (up_to_position - 1) / size * size + 1 + size);
    END IF;
    FOREACH r IN ARRAY todo LOOP
        lo := pg_catalog.lower(r);
        WHILE lo < pg_catalog.upper(r) LOOP
            -- Bounds on the grid of partition_size, except where a gap's
            -- edge (a partition attached by hand) is off it.
            hi := least(pg_catalog.upper(r), (lo - 1) / size * size + 1 + size);
            IF hi <= lo THEN
                hi := pg_catalog.upper(r);
            END IF;
            name := 'events_' || pg_catalog.lpad(lo::text, 19, '0');
            -- A partition detached by hand (empty: the DDL guard refuses
            -- others) keeps its name; the one filling its place takes another.
            WHILE EXISTS (SELECT FROM pg_catalog.pg_class c
                          WHERE c.relnamespace OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.regnamespace
                            AND c.relname OPERATOR(pg_catalog.=) name) LOOP
                made_as := made_as + 1;
                name := 'events_' || pg_catalog.lpad(lo::text, 19, '0') || '_' || made_as;
            END LOOP;
            -- Made outside the partitioned table and attached: ATTACH takes SHARE
            -- UPDATE EXCLUSIVE on the parent, which appenders and readers do not
            -- wait for (CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE).
            EXECUTE format('CREATE TABLE eventstore.%I (LIKE eventstore.events_template INCLUDING ALL)', name);
            -- Statement-level guards fire only for the table a statement names:
            -- each partition carries its own.
            EXECUTE format('CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON eventstore.%I'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_change()', name);
            EXECUTE format('CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON eventstore.%I'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_change()', name);
            EXECUTE format('CREATE TRIGGER events_note_insert BEFORE INSERT ON eventstore.%I'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_note_insert()', name);
            EXECUTE format('ALTER TABLE eventstore.%I ENABLE ALWAYS TRIGGER events_immutable,'
                           ' ENABLE ALWAYS TRIGGER events_no_truncate, ENABLE ALWAYS TRIGGER events_note_insert', name);
            EXECUTE format('REVOKE ALL ON TABLE eventstore.%I FROM PUBLIC', name);
            -- The store's owner reads every table of the store, so that it
            -- can pg_dump it (89_owner_backup.sql): partitions too.
            EXECUTE format('GRANT SELECT ON TABLE eventstore.%I TO %I', name,
                           (SELECT pg_catalog.pg_get_userbyid(e.extowner) FROM pg_catalog.pg_extension e
                            WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name));
            EXECUTE format('COMMENT ON TABLE eventstore.%I IS %L', name,
                           format('Events at positions %s to %s (a partition of eventstore.events, made by the store).',
                                  lo, hi - 1));
            EXECUTE format('ALTER TABLE eventstore.events ATTACH PARTITION eventstore.%I FOR VALUES FROM (%s) TO (%s)',
                           name, lo, hi);
            lo := hi;
            made := made + 1;
        END LOOP;
    END LOOP;
    RETURN made;
END
$$;
COMMENT ON FUNCTION eventstore.es_make_partitions(bigint, bigint) IS
    'Partitioned layout: fill every gap between the partitions of eventstore.events, then make them up to and including the one that holds up_to_position (the first one, if there is none yet, at from_position); returns how many were made. Refuses (22023) to make more than 100 partitions in one call. es_append has it run as positions come near the last partition''s bound or fall in a gap; call it before loading events by INSERT or COPY. Superuser only.';
REVOKE ALL ON FUNCTION eventstore.es_make_partitions(bigint, bigint) FROM PUBLIC;

-- The archive schema (issue 21, item 3): eventstore_archive, created with a
-- partitioned store (05_layout.sql), so a member of the extension owned by
-- the superuser who ran its script.  Archived events go nowhere else: a
-- schema of that name that is not the store's (made by whoever had CREATE
-- on the database, or handed to another owner) could be dropped with the
-- archives in it by its owner.  The DDL guard refuses to drop archives
-- (ES005, src/archive_schema.c) and erasures reach them
-- (src/archive_erase.c).  ES013 when the schema is missing or not the
-- store's.
CREATE FUNCTION eventstore.es_require_archive_schema() RETURNS void
AS 'MODULE_PATHNAME', 'es_require_archive_schema'
LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION eventstore.es_require_archive_schema() FROM PUBLIC;
COMMENT ON FUNCTION eventstore.es_require_archive_schema() IS
    'Partitioned layout: raises ES013 unless schema eventstore_archive exists, is a member of the extension and is owned by a superuser (the check of es_archive_events).';

-- Archival (docs/partitioning.md, "Archival"): the oldest partitions leave
-- the store for schema eventstore_archive, where each stays a table of its
-- own (immutable, dumpable with pg_dump -t).  Before they go:
--   - every stream whose last event is in them gets a stream_state row with
--     its version and last position, so that its numbering continues (the
--     row a soft delete leaves, 50_lifecycle.sql): never a second version 1;
--   - their event ids stay in event_ids, so an archived id is still used.
-- The detach takes ACCESS EXCLUSIVE on eventstore.events for an instant, at
-- the end (DETACH ... CONCURRENTLY cannot run inside a function); the
-- lock_timeout below bounds the wait behind long readers, and appenders
-- wait behind the detach only that long.  Retry on 55P03.
CREATE FUNCTION eventstore.es_archive_events(before_position bigint, reason text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET standard_conforming_strings = on SET lock_timeout = '5s' AS $$
DECLARE
    part      record;
    n         bigint;
    done      integer := 0;
    last_from bigint;
    head      bigint;
    parts     oid[] := '{}';
    counts    bigint[] := '{}';
BEGIN
    PERFORM eventstore.es_require_partitioned();
    IF before_position IS NULL OR before_position < 1 THEN
        RAISE EXCEPTION 'before_position must be a position (at least 1)' USING ERRCODE = '22023';
    END IF;
    -- Created with the store, superuser-owned, a member of the extension
    -- (05_layout.sql): never a schema someone else made (ES013).
    PERFORM eventstore.es_require_archive_schema();
    SELECT max(p.from_position) INTO last_from FROM eventstore.es_partitions() p;
    -- Partitions above the feed's head hold positions not handed out yet:
    -- archived, they would leave no partition for them (a made-ahead
    -- partition is not the last one).
    head := eventstore.es_feed_head();
    -- First the streams archived whole, for every partition, under locks
    -- appends and reads do not wait for; then the detaches, whose ACCESS
    -- EXCLUSIVE lock on eventstore.events lasts until the end of the
    -- transaction: taking it in the first round would stop appends and
    -- readers for the remaining partitions' reads.  An append meanwhile only
    -- adds events at higher positions: a stream it revives keeps a
    -- stream_state row that the version read no longer needs.
    FOR part IN
        SELECT p.partition AS rel, c.relname, p.from_position AS lo, p.to_position AS hi
        FROM eventstore.es_partitions() p JOIN pg_catalog.pg_class c ON c.oid = p.partition
    LOOP
        -- Wholly below the bound and the head, and never the last partition
        -- (appends go there).
        EXIT WHEN part.hi IS NULL OR part.hi > before_position OR part.lo >= last_from
               OR part.hi - 1 > head;
        parts := parts || part.rel::oid;
        EXECUTE format(
            'INSERT INTO eventstore.stream_state AS s (stream, last_version, last_position, updated_at)
             SELECT p.stream, max(p.version), max(p.position), pg_catalog.clock_timestamp()
             FROM %s p
             WHERE NOT EXISTS (SELECT FROM eventstore.events e
                               WHERE e.stream = p.stream AND e.position >= %s)
             GROUP BY p.stream
             ON CONFLICT (stream) DO UPDATE
             SET last_version = greatest(s.last_version, excluded.last_version),
                 last_position = greatest(s.last_position, excluded.last_position),
                 updated_at = excluded.updated_at', part.rel, part.hi);
        EXECUTE format('SELECT count(*) FROM %s', part.rel) INTO n;
        counts := counts || n;
    END LOOP;
    FOR part IN
        SELECT p.partition AS rel, c.relname, p.from_position AS lo, p.to_position AS hi
        FROM eventstore.es_partitions() p JOIN pg_catalog.pg_class c ON c.oid = p.partition
        WHERE p.partition::oid = ANY (parts)
        ORDER BY p.from_position
    LOOP
        n := counts[pg_catalog.array_position(parts, part.rel::oid)];
        -- The DDL guard refuses to detach a partition that holds events;
        -- this is the audited way to.
        PERFORM pg_catalog.set_config('eventstore.allow_destroy', 'on', true);
        EXECUTE format('ALTER TABLE eventstore.events DETACH PARTITION %s', part.rel);
        EXECUTE format('ALTER TABLE %s SET SCHEMA eventstore_archive', part.rel);
        PERFORM pg_catalog.set_config('eventstore.allow_destroy', 'off', true);
        EXECUTE format('COMMENT ON TABLE eventstore_archive.%I IS %L', part.relname,
                       format('Archived events at positions %s to %s, detached from eventstore.events by es_archive_events on %s UTC.',
                              part.lo, part.hi - 1,
                              pg_catalog.to_char(pg_catalog.clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')));
        INSERT INTO eventstore.archives (table_name, from_position, to_position, events, archived_at)
        VALUES ('eventstore_archive.' || part.relname, part.lo, part.hi, n, pg_catalog.clock_timestamp());
        INSERT INTO eventstore.lifecycle_log (logged_at, action, stream, handler, kind, detail, reason, session_role, calling_role)
        VALUES (pg_catalog.clock_timestamp(), 'archive', NULL, NULL, NULL,
                pg_catalog.jsonb_build_object('table', 'eventstore_archive.' || part.relname,
                                              'from_position', part.lo, 'to_position', part.hi - 1, 'events', n),
                reason, session_user,
                CASE pg_catalog.current_setting('role') WHEN 'none' THEN session_user ELSE pg_catalog.current_setting('role')::name END);
        done := done + 1;
    END LOOP;
    RETURN done;
END
$$;
COMMENT ON FUNCTION eventstore.es_archive_events(bigint, text) IS
    'Partitioned layout (admin): move every partition of eventstore.events wholly below before_position, oldest first, never the last one nor one above the feed''s head, into schema eventstore_archive (ES013 unless it is the store''s); streams continue their numbering, archived ids stay used, feed reads before the archived positions fail (ES010). Returns how many partitions were archived. Audited.';
REVOKE ALL ON FUNCTION eventstore.es_archive_events(bigint, text) FROM PUBLIC;

-- The first position still in the store: the feed below it was archived
-- (1 when nothing was).
CREATE FUNCTION eventstore.es_archive_horizon() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET standard_conforming_strings = on AS $$
DECLARE
    horizon bigint;
BEGIN
    IF to_regclass('eventstore.archives') IS NULL THEN
        RETURN 1;
    END IF;
    EXECUTE 'SELECT coalesce(max(to_position), 1) FROM eventstore.archives' INTO horizon;
    RETURN horizon;
END
$$;
REVOKE ALL ON FUNCTION eventstore.es_archive_horizon() FROM PUBLIC;
COMMENT ON FUNCTION eventstore.es_archive_horizon() IS
    'The first position still in the store: events below it were archived by es_archive_events (1 when none were). A subscriber that starts from scratch reads the feed after es_archive_horizon() - 1.';
