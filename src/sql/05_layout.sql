-- The partitioned layout (docs/partitioning.md), chosen when the store is
-- created: SET eventstore.partition_size = N before CREATE EXTENSION makes
-- eventstore.events a table partitioned by RANGE (position), N positions
-- per partition.  Without the setting (the default) nothing here happens
-- and the store keeps the one plain table of 00_schema.sql.
--
-- Why at creation: the functions declared after this file return rows of
-- eventstore.events, and a plain table cannot become a partitioned one in
-- place; a store that holds events converts by dump and restore
-- (docs/partitioning.md, "Converting a store").
--
-- What the partitioned layout is made of:
--   events            the parent: columns and CHECK constraints, no index
--                     (an index on the parent would be re-created by every
--                     ATTACH of a restore and clash with the dumped copy);
--   events_template   the plain table of 00_schema.sql, renamed, never
--                     holding rows: the store's indexes and constraints,
--                     copied into every partition (CREATE TABLE ... LIKE);
--   event_ids         event id -> position, one row per stored event: ids
--                     stay unique across partitions (a unique index on a
--                     partitioned table must hold the partition key);
--   stream_starts     stream -> a position at or below its first event, one
--                     row per stream ever appended to: es_append tells a new
--                     stream with one probe here instead of one descent per
--                     partition, and walks an old stream's partitions from
--                     its first one only;
--   partitioning      the partition size;
--   archives          the partitions archived (es_archive_events);
--   eventstore_archive the schema they are moved to (a member, so never
--                     one that someone else created first: ES013).
-- Partitions are made by the store as positions reach them (es_append,
-- src/partitions.c) and are not members of the extension, so pg_dump
-- dumps them as ordinary tables and DROP EXTENSION cannot drop them unseen.
DO $layout$
DECLARE
    size bigint := nullif(current_setting('eventstore.partition_size', true), '')::bigint;
BEGIN
    IF coalesce(size, 0) <= 0 THEN
        RETURN;
    END IF;
    ALTER TABLE eventstore.events RENAME TO events_template;
    ALTER TABLE eventstore.events_template RENAME CONSTRAINT events_pkey TO events_template_pkey;
    ALTER TABLE eventstore.events_template RENAME CONSTRAINT events_stream_version_key TO events_template_stream_version_key;
    ALTER TABLE eventstore.events_template RENAME CONSTRAINT events_event_id_key TO events_template_event_id_key;
    ALTER INDEX eventstore.events_category_position_idx RENAME TO events_template_category_position_idx;
    COMMENT ON TABLE eventstore.events_template IS
        'Partitioned layout: the indexes and constraints every partition of eventstore.events is created with. Holds no rows.';

    CREATE TABLE eventstore.events (
        LIKE eventstore.events_template INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS
    ) PARTITION BY RANGE (position);
    COMMENT ON TABLE eventstore.events IS
        'Every event of the store, in global position order; append with es_append, read with es_load. Immutable. Partitioned by position.';
    REVOKE ALL ON TABLE eventstore.events FROM PUBLIC;
    -- Logical replication through the root (publish_via_partition_root)
    -- describes rows by the root's replica identity, and the parent has no
    -- key to name.  FULL lets a subscriber accept the deletes of the
    -- lifecycle functions: the old row arrives with its position (the
    -- partition's primary key, what the WAL holds), by which the subscriber
    -- finds the row through its own partition's key.  Partitions keep their
    -- primary key as identity, so deletes log no more WAL than before.
    ALTER TABLE eventstore.events REPLICA IDENTITY FULL;

    CREATE TABLE eventstore.event_ids (
        event_id uuid   NOT NULL,
        position bigint NOT NULL,
        CONSTRAINT event_ids_pkey PRIMARY KEY (event_id)
    );
    COMMENT ON TABLE eventstore.event_ids IS
        'Partitioned layout: the position of every stored event id, so that an id is unique across partitions.';
    PERFORM pg_catalog.pg_extension_config_dump('eventstore.event_ids', '');
    REVOKE ALL ON TABLE eventstore.event_ids FROM PUBLIC;

    -- The invariant es_append's version read relies on (src/events_read.c):
    -- every stream with a row in eventstore.events has a row here whose
    -- position is at or below that stream's lowest position.  A row may
    -- outlive its stream's events (deletion, retention and archival leave
    -- it: a stale row only makes a walk longer), never the reverse.
    CREATE TABLE eventstore.stream_starts (
        stream   text   NOT NULL,
        position bigint NOT NULL,
        CONSTRAINT stream_starts_pkey PRIMARY KEY (stream)
    );
    COMMENT ON TABLE eventstore.stream_starts IS
        'Partitioned layout: for every stream appended to, a position at or below its first event, so that es_append finds a stream''s partitions (and tells a new stream) without reading every partition.';
    PERFORM pg_catalog.pg_extension_config_dump('eventstore.stream_starts', '');
    REVOKE ALL ON TABLE eventstore.stream_starts FROM PUBLIC;

    -- Rows that leave the events table (a lifecycle delete, retention) free
    -- their ids, as in the plain layout; rows that come in by another path
    -- than es_append (a data-only restore into the parent, a conversion)
    -- record theirs, and their streams' starts.  A DELETE leaves
    -- stream_starts alone: a stale row only makes a version read walk
    -- further, and finding out whether a stream still has events would cost
    -- every delete a read.  In replica mode neither fires (below).  es_append records its own (src/event_insert.c) and
    -- fires no statement trigger; a restore of a partitioned store's dump
    -- writes the partitions and event_ids directly and fires neither.
    CREATE FUNCTION eventstore.es_event_ids_forget() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
    BEGIN
        DELETE FROM eventstore.event_ids i USING gone g WHERE i.event_id = g.event_id;
        RETURN NULL;
    END
    $f$;
    CREATE FUNCTION eventstore.es_event_ids_record() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
    BEGIN
        INSERT INTO eventstore.event_ids (event_id, position)
        SELECT n.event_id, n.position FROM came n;
        -- Rows may come in any order (a conversion's COPY): keep the lowest.
        INSERT INTO eventstore.stream_starts AS s (stream, position)
        SELECT n.stream, min(n.position) FROM came n GROUP BY n.stream
        ON CONFLICT (stream) DO UPDATE SET position = excluded.position
            WHERE excluded.position < s.position;
        RETURN NULL;
    END
    $f$;
    COMMENT ON FUNCTION eventstore.es_event_ids_forget() IS
        'Trigger (partitioned layout): the ids of events deleted from eventstore.events leave eventstore.event_ids.';
    COMMENT ON FUNCTION eventstore.es_event_ids_record() IS
        'Trigger (partitioned layout): rows inserted into eventstore.events by another path than es_append record their ids in eventstore.event_ids and their streams'' starts in eventstore.stream_starts.';
    REVOKE ALL ON FUNCTION eventstore.es_event_ids_forget() FROM PUBLIC;
    REVOKE ALL ON FUNCTION eventstore.es_event_ids_record() FROM PUBLIC;
    CREATE TRIGGER events_forget_ids AFTER DELETE ON eventstore.events
        REFERENCING OLD TABLE AS gone
        FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_event_ids_forget();
    CREATE TRIGGER events_record_ids AFTER INSERT ON eventstore.events
        REFERENCING NEW TABLE AS came
        FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_event_ids_record();
    -- Not ALWAYS, unlike the guards: a logical-replication subscriber
    -- (session_replication_role = replica) receives event_ids by the same
    -- publication as the events; firing there too would record each id twice.

    CREATE TABLE eventstore.partitioning (
        partition_size bigint NOT NULL CHECK (partition_size > 0),
        one_row        boolean NOT NULL DEFAULT true PRIMARY KEY CHECK (one_row)
    );
    COMMENT ON TABLE eventstore.partitioning IS
        'Partitioned layout: positions per partition of eventstore.events (from eventstore.partition_size at CREATE EXTENSION).';
    INSERT INTO eventstore.partitioning (partition_size) VALUES (size);
    REVOKE ALL ON TABLE eventstore.partitioning FROM PUBLIC;

    -- One row per partition that es_archive_events took out of the store
    -- (17_partitions.sql).  Dumped: a restored store knows what it archived.
    CREATE TABLE eventstore.archives (
        table_name    text        NOT NULL,
        from_position bigint      NOT NULL,
        to_position   bigint      NOT NULL,
        events        bigint      NOT NULL,
        archived_at   timestamptz NOT NULL,
        CONSTRAINT archives_pkey PRIMARY KEY (from_position)
    );
    COMMENT ON TABLE eventstore.archives IS
        'Partitioned layout: the partitions archived by es_archive_events, now tables of schema eventstore_archive; positions from_position to to_position - 1.';
    PERFORM pg_catalog.pg_extension_config_dump('eventstore.archives', '');
    REVOKE ALL ON TABLE eventstore.archives FROM PUBLIC;

    -- Where archived partitions go (17_partitions.sql): created here, so it
    -- is a member of the extension, owned by the superuser running this
    -- script, and nobody else can create in it or drop it.  One that exists
    -- already was made by someone else, who could drop what lands in it.
    IF pg_catalog.to_regnamespace('eventstore_archive') IS NOT NULL THEN
        RAISE EXCEPTION 'schema "eventstore_archive" already exists'
            USING ERRCODE = 'ES013',
                  DETAIL = 'A partitioned store keeps its archived partitions in a schema of its own, created with the extension; its owner could drop them.',
                  HINT = 'Drop or rename that schema, then create the extension.';
    END IF;
    CREATE SCHEMA eventstore_archive;
    REVOKE ALL ON SCHEMA eventstore_archive FROM PUBLIC;
    -- The store's owner may look in (pg_dump of its store: 89_owner_backup.sql).
    GRANT USAGE ON SCHEMA eventstore_archive TO @extowner@;
    COMMENT ON SCHEMA eventstore_archive IS
        'Partitioned layout: the partitions es_archive_events moved out of eventstore.events, one table each (eventstore.archives lists them). Part of the extension; dropping an archive that holds events is refused (ES005) unless a superuser sets eventstore.allow_destroy.';
END
$layout$;
