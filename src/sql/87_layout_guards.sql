-- Partitioned layout (05_layout.sql): TRUNCATE of event_ids or
-- stream_starts is refused like that of the other store tables
-- (85_ddl_guard.sql).  Emptying either would not lose an event, but would
-- silently end two guarantees: event_ids keeps ids unique across partitions,
-- and stream_starts tells es_append which streams exist, so without its rows
-- appends would number existing streams from 1 again.  Nothing happens in
-- the plain layout, and so nothing here is in the upgrade script: a store
-- updated from 1.0 is plain.
DO $guards$
BEGIN
    IF pg_catalog.to_regclass('eventstore.stream_starts') IS NULL THEN
        RETURN;
    END IF;
    CREATE TRIGGER event_ids_no_truncate BEFORE TRUNCATE ON eventstore.event_ids
        FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
    CREATE TRIGGER stream_starts_no_truncate BEFORE TRUNCATE ON eventstore.stream_starts
        FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
    ALTER TABLE eventstore.event_ids ENABLE ALWAYS TRIGGER event_ids_no_truncate;
    ALTER TABLE eventstore.stream_starts ENABLE ALWAYS TRIGGER stream_starts_no_truncate;
    COMMENT ON TRIGGER event_ids_no_truncate ON eventstore.event_ids IS
        'Refuses TRUNCATE (ES005): the table keeps event ids unique across partitions.';
    COMMENT ON TRIGGER stream_starts_no_truncate ON eventstore.stream_starts IS
        'Refuses TRUNCATE (ES005): es_append reads which streams exist from this table.';
END
$guards$;
