-- Partitioned layout (05_layout.sql): the indexes the files above created
-- on eventstore.events move to events_template, from which every partition
-- takes its own copy.  The parent keeps no index: pg_dump dumps each
-- partition's indexes with the partition, and a parent index would make
-- ATTACH build a second one at restore.  Nothing happens in the plain layout.
DO $move$
DECLARE
    idx record;
BEGIN
    IF (SELECT relkind FROM pg_catalog.pg_class
        WHERE oid = 'eventstore.events'::pg_catalog.regclass) <> 'p' THEN
        RETURN;
    END IF;
    FOR idx IN
        SELECT i.indexrelid::pg_catalog.regclass::text AS name,
               pg_catalog.pg_get_indexdef(i.indexrelid) AS def,
               pg_catalog.obj_description(i.indexrelid, 'pg_class') AS comment
        FROM pg_catalog.pg_index i
        WHERE i.indrelid = 'eventstore.events'::pg_catalog.regclass
        ORDER BY i.indexrelid
    LOOP
        EXECUTE format('DROP INDEX %s', idx.name);
        EXECUTE replace(idx.def, ' ON ONLY eventstore.events ', ' ON eventstore.events_template ');
        IF idx.comment IS NOT NULL THEN
            EXECUTE format('COMMENT ON INDEX %s IS %L', idx.name, idx.comment);
        END IF;
    END LOOP;
END
$move$;
