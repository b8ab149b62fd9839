-- Time (docs/queries.md): the writer's occurrence time is the column
-- events.occurred_at (00_schema.sql, batch key "occurred_at"); reads of a
-- stream up to a time (src/load.c) and the feed position at a time
-- (src/feed.c).  The latter reads every event recorded since that time;
-- without an index on created_at it reads the whole table.  That index is
-- opt-in (es_enable_time_index): even a BRIN index costs an append about
-- 11,000 instructions (5 %, docs/benchmarks.md), for a question asked when
-- a consumer is set up, not on every read.

CREATE FUNCTION eventstore.es_load_until(
    stream        text,
    until         timestamptz,
    by_occurrence boolean DEFAULT false,
    max_count     integer DEFAULT NULL)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_until'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;
COMMENT ON FUNCTION eventstore.es_load_until(text, timestamptz, boolean, integer) IS
    'Read a stream as of a time: its events recorded (created_at) at or before until, or with by_occurrence those that occurred (occurred_at, else created_at) at or before it, in version order; max_count NULL (the default): all. ES012 when retention or archival removed the stream''s first versions.';

CREATE FUNCTION eventstore.es_feed_position_at(at timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_feed_position_at'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_feed_position_at(timestamptz) IS
    'The position of the first event recorded at or after a time (the head + 1 when there is none yet): replay from it with es_load(after_position => es_feed_position_at(t) - 1). Not on a hot standby.';

-- Opt-in: the index is created on request, so it is a user's addition to
-- the table (recorded in table_additions, kept by pg_dump / pg_restore).
CREATE FUNCTION eventstore.es_enable_time_index() RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part regclass;
BEGIN
    IF EXISTS (SELECT FROM pg_class c
               WHERE c.relname IN ('events_created_at_brin_idx', 'events_template_created_at_brin_idx')
                 AND c.relnamespace = 'eventstore'::regnamespace) THEN
        RETURN false;
    END IF;
    IF (SELECT relkind FROM pg_class WHERE oid = 'eventstore.events'::regclass) = 'p' THEN
        -- Partitioned layout (05_layout.sql): on the template, for the
        -- partitions to come, and on each partition there is; not on the
        -- parent, whose indexes a restore would build twice.
        CREATE INDEX events_template_created_at_brin_idx ON eventstore.events_template USING brin (created_at);
        FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'eventstore.events'::regclass LOOP
            EXECUTE format('CREATE INDEX ON %s USING brin (created_at)', part);
        END LOOP;
        RETURN true;
    END IF;
    CREATE INDEX events_created_at_brin_idx ON eventstore.events USING brin (created_at);
    COMMENT ON INDEX eventstore.events_created_at_brin_idx IS
        'Block ranges of events by recording time (es_feed_position_at); created by es_enable_time_index.';
    RETURN true;
END
$$;
COMMENT ON FUNCTION eventstore.es_enable_time_index() IS
    'Create the BRIN index on events.created_at that makes es_feed_position_at read only what was recorded since its time (costs about 11,000 instructions per append); false when it exists already. Superuser only.';
