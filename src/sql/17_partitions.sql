-- Partitions of the partitioned layout (05_layout.sql, docs/partitioning.md).
-- es_append has es_make_partitions run (src/partitions.c) when the
-- positions it hands out come near the upper bound of the last partition,
-- under a lock that keeps two appenders from making the same partition; an
-- administrator calls it to make partitions ahead of a bulk load or a
-- restore into the partitioned layout.  Partitions start after the last one,
-- or at the partition that holds from_position if that is higher (1 by
-- default), so a store whose position counter starts high (after a
-- reinstall, a load) does not get empty partitions for the positions below.

CREATE FUNCTION eventstore.es_make_partitions(up_to_position bigint, from_position bigint DEFAULT 1)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    size  bigint;
    lo    bigint;
    name  text;
    made  integer := 0;
BEGIN
    IF to_regclass('eventstore.partitioning') IS NULL THEN
        RAISE EXCEPTION 'the store is not partitioned'
            USING ERRCODE = '55000',
                  HINT = 'Set eventstore.partition_size before CREATE EXTENSION eventstore to create a partitioned store.';
    END IF;
    IF up_to_position IS NULL OR up_to_position < 1 THEN
        RAISE EXCEPTION 'up_to_position must be a position (at least 1)' USING ERRCODE = '22023';
    END IF;
    IF from_position IS NULL OR from_position < 1 OR from_position > up_to_position THEN
        RAISE EXCEPTION 'from_position must be a position from 1 to up_to_position' USING ERRCODE = '22023';
    END IF;
    EXECUTE 'SELECT partition_size FROM eventstore.partitioning' INTO size;
    -- The upper bound of the last partition; partitions are contiguous from 1.
    SELECT max(pg_catalog.substring(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                    'TO \(''?(-?[0-9]+)''?\)')::bigint)
      INTO lo
      FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'eventstore.events'::regclass;
    -- Positions between the last partition and from_position get none: they
    -- are below the position counter and never handed out (a gap).
    lo := greatest(coalesce(lo, 1), (from_position - 1) / size * size + 1);
    WHILE lo <= up_to_position LOOP
        name := 'events_' || pg_catalog.lpad(lo::text, 19, '0');
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
        EXECUTE format('COMMENT ON TABLE eventstore.%I IS %L', name,
                       format('Events at positions %s to %s (a partition of eventstore.events, made by the store).',
                              lo, lo + size - 1));
        EXECUTE format('ALTER TABLE eventstore.events ATTACH PARTITION eventstore.%I FOR VALUES FROM (%s) TO (%s)',
                       name, lo, lo + size);
        lo := lo + size;
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;
COMMENT ON FUNCTION eventstore.es_make_partitions(bigint, bigint) IS
    'Partitioned layout: make the partitions of eventstore.events up to and including the one that holds up_to_position (the first one, if there is none yet, at from_position); returns how many were made. es_append has it run as positions come near the last partition''s bound; call it before loading events by INSERT or COPY. Superuser only.';
REVOKE ALL ON FUNCTION eventstore.es_make_partitions(bigint, bigint) FROM PUBLIC;
