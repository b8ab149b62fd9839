-- eventstore (head version): the schema is the store's before anything else
-- is created in it.  Assembled with the other src/sql/NN_*.sql files into
-- eventstore--<head>.sql; the same claim opens and closes every upgrade
-- script (docs/security.md, "The schema is the store's").
\echo Use "CREATE EXTENSION eventstore" to load this file. \quit

-- Why: this script runs as a superuser, also when a database owner installs
-- (the extension is trusted), and CREATE EXTENSION accepts a schema
-- "eventstore" that already exists.  Whoever created it first could have
-- left functions, operators or types in it that this script, or a superuser
-- calling the store's functions later, would pick instead of the store's
-- own.  A dump restores the schema before the extension, so an existing
-- schema cannot simply be refused: it is taken over (owned by the
-- superuser running the script, CREATE revoked from every other role) and
-- must hold nothing but the store's own objects and objects that
-- superusers own (partitions, a superuser's own additions).
ALTER SCHEMA eventstore OWNER TO CURRENT_USER;

CREATE FUNCTION eventstore.es_claim_schema() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    nsp      oid := 'eventstore'::pg_catalog.regnamespace;
    ext      oid;
    grantee  oid;
    intruders text;
BEGIN
    SELECT e.oid INTO STRICT ext FROM pg_catalog.pg_extension e
    WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name;

    -- Nobody but the owner may create objects in the schema.  The owner's
    -- own grants were handed to the new owner by ALTER SCHEMA ... OWNER.
    FOR grantee IN
        SELECT DISTINCT a.grantee
        FROM pg_catalog.pg_namespace n CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
        WHERE n.oid OPERATOR(pg_catalog.=) nsp
          AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'::pg_catalog.text
          AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
    LOOP
        IF grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN
            EXECUTE 'REVOKE CREATE ON SCHEMA eventstore FROM PUBLIC CASCADE';
        ELSE
            EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA eventstore FROM %I CASCADE',
                                      pg_catalog.pg_get_userbyid(grantee));
        END IF;
    END LOOP;

    -- Every object in the schema: which catalog, which object, who owns it.
    WITH objects(classid, objid, owner) AS (
        SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, c.oid, c.relowner
        FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, p.oid, p.proowner
        FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, t.oid, t.typowner
        FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.oprowner
        FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.opcowner
        FROM pg_catalog.pg_opclass o WHERE o.opcnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.opfowner
        FROM pg_catalog.pg_opfamily o WHERE o.opfnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.collowner
        FROM pg_catalog.pg_collation o WHERE o.collnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.conowner
        FROM pg_catalog.pg_conversion o WHERE o.connamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.cfgowner
        FROM pg_catalog.pg_ts_config o WHERE o.cfgnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.dictowner
        FROM pg_catalog.pg_ts_dict o WHERE o.dictnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass::pg_catalog.oid, o.oid, o.stxowner
        FROM pg_catalog.pg_statistic_ext o WHERE o.stxnamespace OPERATOR(pg_catalog.=) nsp
        UNION ALL
        -- another extension in the store's schema, whoever owns it: a
        -- trusted extension's objects belong to a superuser although a
        -- database owner chose to put them here
        SELECT 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid, e.oid, 0::pg_catalog.oid
        FROM pg_catalog.pg_extension e
        WHERE e.extnamespace OPERATOR(pg_catalog.=) nsp AND e.oid OPERATOR(pg_catalog.<>) ext
        UNION ALL
        SELECT 'pg_catalog.pg_publication_namespace'::pg_catalog.regclass::pg_catalog.oid, pn.oid, p.pubowner
        FROM pg_catalog.pg_publication_namespace pn
        JOIN pg_catalog.pg_publication p ON p.oid OPERATOR(pg_catalog.=) pn.pnpubid
        WHERE pn.pnnspid OPERATOR(pg_catalog.=) nsp
    ), membership AS (
        SELECT o.classid, o.objid, o.owner,
               (SELECT d.refobjid FROM pg_catalog.pg_depend d
                WHERE d.classid OPERATOR(pg_catalog.=) o.classid AND d.objid OPERATOR(pg_catalog.=) o.objid
                  AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
                  AND d.deptype OPERATOR(pg_catalog.=) 'e'::"char"
                LIMIT 1) AS member_of
        FROM objects o
    )
    SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(m.classid, m.objid, 0), ', '
                                 ORDER BY pg_catalog.pg_describe_object(m.classid, m.objid, 0))
    INTO intruders
    FROM membership m
    WHERE m.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
       OR (m.member_of IS NOT NULL AND m.member_of OPERATOR(pg_catalog.<>) ext)
       OR (m.member_of IS NULL
           AND NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_authid r
                             WHERE r.oid OPERATOR(pg_catalog.=) m.owner), false));

    IF intruders IS NOT NULL THEN
        RAISE EXCEPTION 'schema "eventstore" holds objects that are not part of eventstore'
            USING ERRCODE = 'ES011',
                  DETAIL = pg_catalog.format('Objects not created by eventstore or a superuser: %s.', intruders),
                  HINT = 'Drop them (or the schema, if it holds nothing else), then run the command again. Only a superuser''s objects may live beside the store''s.';
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_claim_schema() IS
    'Run by the install and upgrade scripts: takes CREATE on schema eventstore from every role but its owner and refuses (ES011) a schema that holds objects neither eventstore nor a superuser created.';
REVOKE ALL ON FUNCTION eventstore.es_claim_schema() FROM PUBLIC;

SELECT eventstore.es_claim_schema();
-- eventstore (head version): schema, tables and indexes.
-- Assembled with the other src/sql/NN_*.sql files into eventstore--<head>.sql.

-- Every stored event.  Rows are only ever inserted, by es_append (or by a
-- restore); triggers in 20_guards.sql refuse UPDATE, DELETE and TRUNCATE.
CREATE TABLE eventstore.events (
    position    bigint      NOT NULL,
    stream      text        NOT NULL,
    version     bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    type        text        NOT NULL,
    category    text        NOT NULL,
    data        jsonb,
    data_bin    bytea,
    metadata    jsonb,
    created_at  timestamptz NOT NULL,
    occurred_at timestamptz,
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_version_check CHECK (version > 0),
    CONSTRAINT events_one_payload_check CHECK (data IS NULL OR data_bin IS NULL)
);
-- A category page of the feed is as cheap as an all-events page.
CREATE INDEX events_category_position_idx ON eventstore.events (category, position);

COMMENT ON TABLE eventstore.events IS
    'Every event of the store, in global position order; append with es_append, read with es_load. Immutable.';
COMMENT ON COLUMN eventstore.events.position IS 'Global position: unique, increasing in feed order; gaps come from aborted appends.';
COMMENT ON COLUMN eventstore.events.stream IS 'Stream name, e.g. order-42.';
COMMENT ON COLUMN eventstore.events.version IS 'Version of the event within its stream: 1, 2, 3, ... without gaps.';
COMMENT ON COLUMN eventstore.events.event_id IS 'Event id (UUID), unique in the store; generated when the writer gives none.';
COMMENT ON COLUMN eventstore.events.type IS 'Event type, e.g. OrderPlaced.';
COMMENT ON COLUMN eventstore.events.category IS 'The part of the stream name before its first "-".';
COMMENT ON COLUMN eventstore.events.data IS 'JSON payload (NULL for a binary or empty event).';
COMMENT ON COLUMN eventstore.events.data_bin IS 'Binary payload (NULL for a JSON or empty event).';
COMMENT ON COLUMN eventstore.events.metadata IS 'Metadata: correlation and causation ids and whatever the writer adds.';
COMMENT ON COLUMN eventstore.events.created_at IS 'Start time of the appending transaction.';
COMMENT ON COLUMN eventstore.events.occurred_at IS 'When the event happened, as its writer says (the batch key "occurred_at"); NULL when not given. The store records its own time in created_at.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.events', '');

REVOKE ALL ON TABLE eventstore.events FROM PUBLIC;
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
-- es_append: the write path (src/append.c, src/append_exec.c).

-- The row es_append returns per event.  A named type rather than RETURNS
-- TABLE: the executor then takes the row type from the type cache instead of
-- rebuilding it from pg_proc on every call (docs/benchmarks.md).
CREATE TYPE eventstore.append_result AS (
    stream     text,
    version    bigint,
    "position" bigint,
    event_id   uuid,
    replayed   boolean
);
COMMENT ON TYPE eventstore.append_result IS
    'One appended event: its stream, version, global position and id; replayed is true when an idempotent retry found it stored already and wrote nothing.';

CREATE FUNCTION eventstore.es_append(
    stream           text,
    type             text,
    data             jsonb  DEFAULT NULL,
    expected_version bigint DEFAULT NULL,
    metadata         jsonb  DEFAULT NULL,
    event_id         uuid   DEFAULT NULL,
    data_bin         bytea  DEFAULT NULL)
RETURNS SETOF eventstore.append_result
AS 'MODULE_PATHNAME', 'es_append_event'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 1;

COMMENT ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea) IS
    'Append one event to a stream. expected_version: es_expected_version(''any'') (NULL), es_expected_version(''no_stream'') (0), es_expected_version(''stream_exists'') (-1), or exactly n. Returns the event''s stream, version, global position and id.';

-- The symbolic expected versions (KurrentDB's names) for the single-event
-- form, whose parameter stays bigint: a text overload of es_append would
-- change the parameter types that drivers preparing statements (pgx,
-- tokio-postgres) infer for calls written for 1.0, and make untyped calls
-- resolve differently.  Executable by everyone: it reads nothing.
CREATE FUNCTION eventstore.es_expected_version(version text) RETURNS bigint
AS 'MODULE_PATHNAME', 'es_expected_version'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION eventstore.es_expected_version(text) IS
    'The expected_version of es_append''s single-event form for ''any'' (NULL), ''no_stream'' (0), ''stream_exists'' (-1) or a version number given as text; anything else is an error (22023).';

CREATE FUNCTION eventstore.es_append(batch jsonb)
RETURNS SETOF eventstore.append_result
AS 'MODULE_PATHNAME', 'es_append_batch'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 10;

COMMENT ON FUNCTION eventstore.es_append(jsonb) IS
    'Append a batch: {"stream", "expected_version", "events": [{"type", "data", "data_bin", "metadata", "id", "occurred_at"}]} for one stream, or an array of such objects for several streams, all or nothing; an entry with "events": [] and an expected version only checks that stream. Returns one row per event.';
-- es_load for streams, and the stream version (src/load.c).
-- Both forms of es_load return rows of eventstore.events as stored: the
-- stored tuples are handed on without being taken apart and rebuilt, which
-- keeps a page of 1,000 events close to the cost of a plain SELECT
-- (docs/benchmarks.md).

CREATE FUNCTION eventstore.es_load(
    stream       text,
    from_version bigint  DEFAULT NULL,
    max_count    integer DEFAULT 1000,
    backward     boolean DEFAULT false)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_stream'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;

COMMENT ON FUNCTION eventstore.es_load(text, bigint, integer, boolean) IS
    'Read a stream: forward from from_version (default: the first version the stream keeps), or backward from from_version (default: the end), at most max_count events; max_count NULL reads the whole stream. A from_version that retention or archival removed is an error (ES012), never a silent start past it.';

CREATE FUNCTION eventstore.es_stream_version(stream text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_stream_version'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_stream_version(text) IS
    'The current version of a stream: the version of its last event, 0 if it has none.';
-- Events by id (src/events_by_id.c, docs/queries.md).  Both return rows of
-- eventstore.events as stored, like es_load.

CREATE FUNCTION eventstore.es_load_event(event_id uuid)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_event'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 1;

COMMENT ON FUNCTION eventstore.es_load_event(uuid) IS
    'The event with this id: one row, or none when no event has it.';

CREATE FUNCTION eventstore.es_load_events(event_ids uuid[])
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_events'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 10;

COMMENT ON FUNCTION eventstore.es_load_events(uuid[]) IS
    'The events with these ids (at most 100000), in position order, each once; ids that no event has are skipped.';
-- Correlation and causation (src/correlation.c, docs/queries.md).  The
-- documented metadata keys "correlation_id" and "causation_id" are indexed
-- by the store itself, in partial B-tree indexes: partial, so an event
-- without the key costs the test of the predicate and no entry; on the
-- first 200 characters of the value, so that an entry stays far below the
-- B-tree's size limit whatever a writer puts there (the reads compare the
-- whole value as well).  A B-tree, not a hash index: every event of a long
-- conversation has the same correlation id, and a hash index keeps equal
-- keys in one bucket whose overflow chain every insert walks (measured:
-- appends six times slower, docs/benchmarks.md).  Their names are in the
-- store's own list (86_table_additions.sql).
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
-- The streams catalogue (docs/queries.md): which streams exist, their
-- versions and positions, categories with their counts.  Derived from the
-- events table's (stream, version) index on every call rather than kept in
-- a table that every append would have to update (the append budget,
-- docs/benchmarks.md): distinct stream names are found by a skip scan, one
-- index descent per stream, and a stream's first and last events by one
-- descent each.
--
-- Deleted streams need no filter here: a soft delete moves a stream's
-- events out of eventstore.events (into deleted_events), a tombstone or an
-- erasure removes them (docs/lifecycle.md), so a deleted stream has no row
-- in the index the catalogue walks (sql/queries.sql pins it).

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
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET standard_conforming_strings = on ROWS 100 AS $$
DECLARE
    -- Where the walk starts and the byte prefix every name it keeps shares
    -- ('' : none).  Only when the stream column sorts by bytes ("C",
    -- "POSIX", C.UTF-8) are the names with a prefix contiguous in the index:
    -- then the walk starts at the prefix and stops at the first name past
    -- it (issue 21, item 11).  In a linguistic collation they need not be
    -- (docs/queries.md), and the walk visits every name after after_stream.
    range_prefix text := '';
    after_name   text := coalesce(es_streams.after_stream, '');
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

    IF (SELECT CASE a.attcollation
                   WHEN 'pg_catalog."C"'::regcollation THEN true
                   WHEN 'pg_catalog."POSIX"'::regcollation THEN true
                   WHEN 'pg_catalog."default"'::regcollation THEN
                       -- The regular expression's backslash is why standard_conforming_strings is pinned.
                       d.datlocprovider = 'c' AND (d.datcollate IN ('C', 'POSIX') OR d.datcollate ~* '^c\.utf-?8$')
                   ELSE false END
        FROM pg_attribute a, pg_database d
        WHERE a.attrelid = 'eventstore.events'::regclass AND a.attname = 'stream'
          AND d.datname = current_database()) THEN
        range_prefix := coalesce(es_streams.prefix, es_streams.category, '');
    END IF;

    RETURN QUERY
    WITH RECURSIVE walk(name, shown, matched) AS (
        SELECT w.name, w.shown, w.shown::int
        FROM (SELECT s.name,
                     (es_streams.prefix IS NULL OR starts_with(s.name, es_streams.prefix))
                     AND (es_streams.category IS NULL OR split_part(s.name, '-', 1) = es_streams.category) AS shown
              FROM (SELECT min(e.stream) AS name FROM eventstore.events e
                    WHERE e.stream > after_name AND e.stream >= range_prefix) s) w
        WHERE w.name IS NOT NULL
      UNION ALL
        SELECT n.name, n.shown, w.matched + n.shown::int
        FROM walk w,
             LATERAL (SELECT s.name,
                             (es_streams.prefix IS NULL OR starts_with(s.name, es_streams.prefix))
                             AND (es_streams.category IS NULL OR split_part(s.name, '-', 1) = es_streams.category) AS shown
                      FROM (SELECT min(e.stream) AS name FROM eventstore.events e
                            WHERE e.stream > w.name) s) n
        WHERE n.name IS NOT NULL AND w.matched < es_streams.max_count
          AND starts_with(w.name, range_prefix)
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
           -- a deleted stream has no events here: 0, as es_stream_version says
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
    GROUP BY 1
    ORDER BY 1
$$;
COMMENT ON FUNCTION eventstore.es_categories() IS
    'Every category with its number of streams and events (exact: a stream''s events counted as last version - first version + 1). Visits every stream (one index descent each): for monitoring, not for every request.';
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
-- Immutability of stored events, and the restore guard (src/guards.c).

CREATE FUNCTION eventstore.es_forbid_change() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_forbid_change' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_forbid_change() IS
    'Trigger: refuses UPDATE, DELETE and TRUNCATE of stored events (SQLSTATE ES003).';

CREATE FUNCTION eventstore.es_note_insert() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_note_insert' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_note_insert() IS
    'Trigger: when rows are inserted by another path than es_append (a restore), the position counter is reread.';

CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON eventstore.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON eventstore.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_change();
CREATE TRIGGER events_note_insert BEFORE INSERT ON eventstore.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_note_insert();
-- Fire in every session_replication_role, so "replica" mode cannot bypass them.
ALTER TABLE eventstore.events ENABLE ALWAYS TRIGGER events_immutable;
ALTER TABLE eventstore.events ENABLE ALWAYS TRIGGER events_no_truncate;
ALTER TABLE eventstore.events ENABLE ALWAYS TRIGGER events_note_insert;
-- Snapshots: the latest saved state of a stream's aggregate (src/snapshot.c).

-- One row per (stream, kind): the newest snapshot of each kind.  The kind
-- names the snapshot's schema ("cart:v3"), so code that changed the shape of
-- its state saves and loads its own kind while older code, still running,
-- keeps its own; a stale snapshot is never mistaken for a current one.
CREATE TABLE eventstore.snapshots (
    stream      text        NOT NULL,
    kind        text        NOT NULL,
    version     bigint      NOT NULL,
    data        jsonb,
    data_bin    bytea,
    created_at  timestamptz NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (stream, kind),
    CONSTRAINT snapshots_version_check CHECK (version > 0),
    CONSTRAINT snapshots_one_payload_check CHECK (pg_catalog.num_nonnulls(data, data_bin) OPERATOR(pg_catalog.=) 1)
) WITH (fillfactor = 80);	-- room for HOT updates when a snapshot is replaced

COMMENT ON TABLE eventstore.snapshots IS
    'The newest snapshot of each (stream, kind): save with es_snapshot, read with es_load_snapshot or es_load_with_snapshot.';
COMMENT ON COLUMN eventstore.snapshots.stream IS 'Stream whose aggregate state this is.';
COMMENT ON COLUMN eventstore.snapshots.kind IS 'Snapshot schema, e.g. cart:v3: code loads only the kind it understands.';
COMMENT ON COLUMN eventstore.snapshots.version IS 'Stream version the state includes: events up to and including this version.';
COMMENT ON COLUMN eventstore.snapshots.data IS 'JSON state (NULL for a binary snapshot).';
COMMENT ON COLUMN eventstore.snapshots.data_bin IS 'Binary state (NULL for a JSON snapshot).';
COMMENT ON COLUMN eventstore.snapshots.created_at IS 'Start time of the saving transaction.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.snapshots', '');

REVOKE ALL ON TABLE eventstore.snapshots FROM PUBLIC;

CREATE FUNCTION eventstore.es_snapshot(
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

COMMENT ON FUNCTION eventstore.es_snapshot(text, bigint, jsonb, text, bytea) IS
    'Save the state of a stream''s aggregate at a version the stream has reached, as JSON (data) or binary (data_bin), under a kind. An older snapshot never replaces a newer one of the same kind: returns the version kept and whether this one was saved.';

CREATE FUNCTION eventstore.es_load_snapshot(
    stream text,
    kind   text DEFAULT 'default')
RETURNS TABLE (stream text, kind text, version bigint, data jsonb, data_bin bytea,
               created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_load_snapshot'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 1;

COMMENT ON FUNCTION eventstore.es_load_snapshot(text, text) IS
    'The newest snapshot of a stream of one kind: one row, or none when there is no snapshot of that kind.';

CREATE FUNCTION eventstore.es_load_with_snapshot(
    stream    text,
    kind      text    DEFAULT 'default',
    max_count integer DEFAULT 1000)
RETURNS TABLE (is_snapshot boolean, "position" bigint, stream text, version bigint,
               event_id uuid, type text, data jsonb, data_bin bytea, metadata jsonb,
               created_at timestamptz)
AS 'MODULE_PATHNAME', 'es_load_with_snapshot'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER ROWS 100;

COMMENT ON FUNCTION eventstore.es_load_with_snapshot(text, text, integer) IS
    'Rebuild an aggregate in one query: the newest snapshot of the kind (is_snapshot, type = kind, position NULL), if any, then at most max_count events after its version (all of them when max_count is NULL), in version order, all from one database snapshot. ES012 when retention or archival removed events between the snapshot (or the stream''s start) and the first event kept.';
-- Checkpoints: how far each handler has processed (src/checkpoint.c).

-- A feed handler (stream = '') records a global position; a per-stream
-- handler records a stream version.  Rows only move forward.
CREATE TABLE eventstore.checkpoints (
    handler     text        NOT NULL,
    stream      text        NOT NULL DEFAULT '',
    "position"  bigint      NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT checkpoints_pkey PRIMARY KEY (handler, stream),
    CONSTRAINT checkpoints_position_check CHECK ("position" >= 0)
) WITH (fillfactor = 50);	-- rewritten after every batch: keep the updates HOT

COMMENT ON TABLE eventstore.checkpoints IS
    'How far each handler has processed: write with es_advance_position (forward only), read with es_handler_position.';
COMMENT ON COLUMN eventstore.checkpoints.handler IS 'Handler (projection, subscriber) name.';
COMMENT ON COLUMN eventstore.checkpoints.stream IS 'Empty for a feed handler; the stream name for a per-stream handler.';
COMMENT ON COLUMN eventstore.checkpoints."position" IS 'Last processed global position (feed handler) or stream version (per-stream handler).';
COMMENT ON COLUMN eventstore.checkpoints.updated_at IS 'Start time of the transaction that last advanced the checkpoint.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.checkpoints', '');

REVOKE ALL ON TABLE eventstore.checkpoints FROM PUBLIC;

CREATE FUNCTION eventstore.es_advance_position(
    handler    text,
    "position" bigint,
    stream     text DEFAULT NULL,
    OUT "position" bigint,
    OUT advanced   boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'es_advance_position'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_advance_position(text, bigint, text) IS
    'Record that a handler has processed up to a global position (stream NULL) or up to a version of a stream. Forward only: returns the position kept and whether it advanced. Commits or rolls back with the caller''s transaction.';

CREATE FUNCTION eventstore.es_handler_position(
    handler text,
    stream  text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_handler_position'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_handler_position(text, text) IS
    'A handler''s checkpoint (global position, or stream version when stream is given); 0 when it has none.';

CREATE FUNCTION eventstore.es_lock_handler(
    handler text,
    stream  text    DEFAULT NULL,
    wait    boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_lock_handler'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_lock_handler(text, text, boolean) IS
    'Take a handler''s lock until the end of the transaction, then return its checkpoint read after the lock was granted (0 when none), so that two instances of one projection never process the same events. With wait => false, returns NULL at once when another transaction holds the lock.';

-- The global feed: es_load(after_position, ...), es_feed_head, es_wait and
-- the consumer-group hash (src/feed.c; design in docs/global-feed.md).

-- The stable hash of a stream name that splits streams across consumer groups.
CREATE FUNCTION eventstore.es_stream_hash(stream text) RETURNS bigint
AS 'MODULE_PATHNAME', 'es_stream_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION eventstore.es_stream_hash(text) IS
    'FNV-1a 64 hash of the UTF-8 bytes of a stream name, made non-negative; member i of a consumer group of n gets the streams with es_stream_hash(stream) % n = i. Stable across platforms and versions.';

-- The feed form of es_load.  Its first parameter is bigint, the stream form's
-- is text: an untyped first argument reads a stream, so drivers that send
-- untyped parameters use named notation (after_position => $1) or $1::bigint.
-- Parameters 2 to 4 have the type categories of the stream form's
-- (es_load(stream text, from_version bigint, max_count integer, backward
-- boolean)), so that calls of the stream form with untyped or literal
-- arguments still resolve to it: PostgreSQL cannot choose between two
-- candidates whose types at an unknown-typed argument are of different
-- non-string categories ("function is not unique"), and an integer second
-- parameter here would be an exact match for es_load('order-1', 5).  The
-- filters come after them and are passed by name.
-- VOLATILE and PARALLEL UNSAFE: it reads with a fresh snapshot taken after
-- the safe position, not with the statement's snapshot.
CREATE FUNCTION eventstore.es_load(
    after_position bigint,
    max_count      bigint  DEFAULT 1000,
    to_position    bigint  DEFAULT NULL,
    with_payload   boolean DEFAULT true,
    category       text    DEFAULT NULL,
    types          text[]  DEFAULT NULL,
    group_member   integer DEFAULT NULL,
    group_size     integer DEFAULT NULL)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_feed'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 100;

COMMENT ON FUNCTION eventstore.es_load(bigint, bigint, bigint, boolean, text, text[], integer, integer) IS
    'Read a page of the global feed: events with after_position < position <= to_position (default: the head) in position order, at most max_count, optionally of one category, of some event types, and of one consumer-group member (group_member of group_size); with_payload => false leaves data, data_bin and metadata NULL. Never skips an event: it stops before any position still being appended. Not on a hot standby.';

-- The same read under a name of its own, for drivers that send parameters
-- untyped (node-postgres, lib/pq): es_load($1) with an untyped $1 resolves
-- to the stream form, es_load_feed($1) can only mean the feed
-- (docs/clients.md).  New in 1.1.
CREATE FUNCTION eventstore.es_load_feed(
    after_position bigint,
    max_count      bigint  DEFAULT 1000,
    to_position    bigint  DEFAULT NULL,
    with_payload   boolean DEFAULT true,
    category       text    DEFAULT NULL,
    types          text[]  DEFAULT NULL,
    group_member   integer DEFAULT NULL,
    group_size     integer DEFAULT NULL)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_feed'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 100;

COMMENT ON FUNCTION eventstore.es_load_feed(bigint, bigint, bigint, boolean, text, text[], integer, integer) IS
    'The feed form of es_load under a name no driver can mistake for the stream form: a page of the global feed after after_position, with the same arguments, filters and never-skip rule.';

CREATE FUNCTION eventstore.es_feed_head() RETURNS bigint
AS 'MODULE_PATHNAME', 'es_feed_head'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_feed_head() IS
    'The highest position a feed reader may read now: every event at or below it is committed or will never exist. For lag views: head minus a handler''s position.';

CREATE FUNCTION eventstore.es_wait(after_position bigint, timeout_ms integer DEFAULT 10000)
RETURNS boolean
AS 'MODULE_PATHNAME', 'es_wait'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;

COMMENT ON FUNCTION eventstore.es_wait(bigint, integer) IS
    'Wait until the global feed has an event after after_position (true) or timeout_ms passed (false). Sleeps on a condition variable when eventstore is preloaded, polls every 100 ms otherwise. Honours statement_timeout and cancellation.';
-- The handler_lag view (checkpoints: src/sql/31_checkpoints.sql; feed head: 40_feed.sql).

-- Lag of every handler (after 40_feed.sql: it needs es_feed_head).  The head
-- of the feed is the highest position a feed reader may return now; on a hot
-- standby, where the feed cannot be read, it is max(position).
CREATE VIEW eventstore.handler_lag AS
WITH feed AS (
    SELECT CASE WHEN pg_catalog.pg_is_in_recovery()
                THEN (SELECT COALESCE(pg_catalog.max(e."position"), 0) FROM eventstore.events e)
                ELSE eventstore.es_feed_head()
           END AS head
)
SELECT c.handler,
       c.stream,
       c."position",
       h.head,
       GREATEST(h.head OPERATOR(pg_catalog.-) c."position", 0) AS lag,
       c.updated_at
FROM eventstore.checkpoints c
CROSS JOIN feed
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.stream OPERATOR(pg_catalog.=) '' THEN feed.head
                ELSE (SELECT COALESCE(pg_catalog.max(e.version), 0)
                      FROM eventstore.events e
                      WHERE e.stream OPERATOR(pg_catalog.=) c.stream)
           END AS head
) h;

COMMENT ON VIEW eventstore.handler_lag IS
    'Every checkpoint with its head (feed head for a feed handler, stream version for a per-stream handler) and lag = head - position. A feed lag counts positions, which can have gaps: it is an upper bound of the events left.';
COMMENT ON COLUMN eventstore.handler_lag.handler IS 'Handler name.';
COMMENT ON COLUMN eventstore.handler_lag.stream IS 'Empty for a feed handler; the stream for a per-stream handler.';
COMMENT ON COLUMN eventstore.handler_lag."position" IS 'The handler''s checkpoint.';
COMMENT ON COLUMN eventstore.handler_lag.head IS 'Feed head (feed handler) or stream version (per-stream handler).';
COMMENT ON COLUMN eventstore.handler_lag.lag IS 'head - position, never below 0.';
COMMENT ON COLUMN eventstore.handler_lag.updated_at IS 'When the checkpoint last advanced.';

REVOKE ALL ON TABLE eventstore.handler_lag FROM PUBLIC;
-- Stream lifecycle: soft delete, restore, tombstone, erasure, deleting
-- snapshots, resetting checkpoints (src/lifecycle.c, src/stream_state.c;
-- semantics in docs/lifecycle.md).  New in 1.1 (issue 12).

-- A row only for a stream that has lifecycle state.
CREATE TABLE eventstore.stream_state (
    stream          text        NOT NULL,
    last_version    bigint      NOT NULL DEFAULT 0,
    last_position   bigint,
    deleted_at      timestamptz,
    tombstoned_at   timestamptz,
    truncate_before bigint,
    max_count       bigint,
    max_age         interval,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT stream_state_pkey PRIMARY KEY (stream),
    CONSTRAINT stream_state_last_version_check CHECK (last_version >= 0),
    CONSTRAINT stream_state_retention_check
        CHECK (truncate_before >= 1 AND max_count >= 1 AND max_age > '0'::interval)
);

-- The highest position of any deleted event: never handed out again.
CREATE INDEX stream_state_last_position_idx ON eventstore.stream_state (last_position);
COMMENT ON INDEX eventstore.stream_state_last_position_idx IS
    'Finds the highest position of any deleted event, which the position counter starts above.';

COMMENT ON TABLE eventstore.stream_state IS
    'Lifecycle state of the streams that have any (soft-deleted, tombstoned, retention settings); other streams have no row. Written only by the lifecycle functions and es_append.';
COMMENT ON COLUMN eventstore.stream_state.stream IS 'Stream name.';
COMMENT ON COLUMN eventstore.stream_state.last_version IS 'Highest version the stream had when its events were last deleted: version numbers continue after it.';
COMMENT ON COLUMN eventstore.stream_state.last_position IS 'Highest global position of the stream''s deleted events: positions up to it are never handed out again (the feed never reuses a position a reader may have passed).';
COMMENT ON COLUMN eventstore.stream_state.deleted_at IS 'When the stream was soft-deleted (NULL when it is not): its events are in eventstore.deleted_events.';
COMMENT ON COLUMN eventstore.stream_state.tombstoned_at IS 'When the stream was hard-deleted or erased: the name can never be written again.';
COMMENT ON COLUMN eventstore.stream_state.truncate_before IS 'Retention: events of lower versions are removed (es_set_retention).';
COMMENT ON COLUMN eventstore.stream_state.max_count IS 'Retention: at most this many newest events are kept.';
COMMENT ON COLUMN eventstore.stream_state.max_age IS 'Retention: events older than this are removed by es_apply_retention (the last event is always kept).';
COMMENT ON COLUMN eventstore.stream_state.updated_at IS 'When the row last changed.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.stream_state', '');
REVOKE ALL ON TABLE eventstore.stream_state FROM PUBLIC;

-- The events of soft-deleted streams, kept until restored or tombstoned.
CREATE TABLE eventstore.deleted_events (
    position    bigint      NOT NULL,
    stream      text        NOT NULL,
    version     bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    type        text        NOT NULL,
    category    text        NOT NULL,
    data        jsonb,
    data_bin    bytea,
    metadata    jsonb,
    created_at  timestamptz NOT NULL,
    deleted_at  timestamptz NOT NULL,
    occurred_at timestamptz,
    CONSTRAINT deleted_events_pkey PRIMARY KEY (stream, version)
);

COMMENT ON TABLE eventstore.deleted_events IS
    'Events of soft-deleted streams, as they were stored, until es_restore_stream puts them back or es_tombstone_stream / es_erase_stream removes them.';
COMMENT ON COLUMN eventstore.deleted_events.position IS 'The global position the event had (a restore gives it a new one).';
COMMENT ON COLUMN eventstore.deleted_events.stream IS 'Stream name.';
COMMENT ON COLUMN eventstore.deleted_events.version IS 'Version of the event within its stream (kept by a restore).';
COMMENT ON COLUMN eventstore.deleted_events.event_id IS 'Event id (kept by a restore).';
COMMENT ON COLUMN eventstore.deleted_events.type IS 'Event type.';
COMMENT ON COLUMN eventstore.deleted_events.category IS 'Category of the stream.';
COMMENT ON COLUMN eventstore.deleted_events.data IS 'JSON payload.';
COMMENT ON COLUMN eventstore.deleted_events.data_bin IS 'Binary payload.';
COMMENT ON COLUMN eventstore.deleted_events.metadata IS 'Metadata.';
COMMENT ON COLUMN eventstore.deleted_events.created_at IS 'When the event was first appended.';
COMMENT ON COLUMN eventstore.deleted_events.deleted_at IS 'When the stream was soft-deleted.';
COMMENT ON COLUMN eventstore.deleted_events.occurred_at IS 'When the event happened, as its writer said (kept by a restore).';

SELECT pg_catalog.pg_extension_config_dump('eventstore.deleted_events', '');
REVOKE ALL ON TABLE eventstore.deleted_events FROM PUBLIC;

-- The audit trail: one row per call of a lifecycle function.
CREATE TABLE eventstore.lifecycle_log (
    logged_at   timestamptz NOT NULL,
    action      text        NOT NULL,
    stream      text,
    handler     text,
    kind        text,
    detail      jsonb       NOT NULL,
    reason      text,
    session_role name       NOT NULL,
    calling_role name       NOT NULL
);

COMMENT ON TABLE eventstore.lifecycle_log IS
    'Audit trail of the lifecycle functions: what was deleted, restored, erased or reset, when, by whom and why.';
COMMENT ON COLUMN eventstore.lifecycle_log.logged_at IS 'When (clock time of the call).';
COMMENT ON COLUMN eventstore.lifecycle_log.action IS 'delete, restore, tombstone, erase, delete_snapshots, reset_checkpoint, set_retention, retention; in the partitioned layout also archive and drop_archive (an archive dropped by a superuser with eventstore.allow_destroy).';
COMMENT ON COLUMN eventstore.lifecycle_log.stream IS 'The stream concerned, if any.';
COMMENT ON COLUMN eventstore.lifecycle_log.handler IS 'The handler whose checkpoint was reset, if any.';
COMMENT ON COLUMN eventstore.lifecycle_log.kind IS 'The snapshot kind deleted, if any.';
COMMENT ON COLUMN eventstore.lifecycle_log.detail IS 'What changed: versions and numbers of events and snapshots removed, old and new checkpoint.';
COMMENT ON COLUMN eventstore.lifecycle_log.reason IS 'The reason the caller gave (required for an erasure).';
COMMENT ON COLUMN eventstore.lifecycle_log.session_role IS 'session_user of the call.';
COMMENT ON COLUMN eventstore.lifecycle_log.calling_role IS 'The role in effect when the function was called (after SET ROLE).';

SELECT pg_catalog.pg_extension_config_dump('eventstore.lifecycle_log', '');
REVOKE ALL ON TABLE eventstore.lifecycle_log FROM PUBLIC;

-- TRUNCATE is refused like DROP TABLE (ES005; es_forbid_truncate is
-- declared in 85_ddl_guard.sql, the triggers are created there).

CREATE FUNCTION eventstore.es_delete_stream(
    stream           text,
    expected_version bigint DEFAULT NULL,
    reason           text   DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_delete_stream'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_delete_stream(text, bigint, text) IS
    'Soft-delete a stream (admin): its events leave stream reads and the feed and are kept aside until restored or tombstoned; its snapshots are deleted. Returns the version it had. Audited.';

CREATE FUNCTION eventstore.es_restore_stream(
    stream text,
    reason text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_restore_stream'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_restore_stream(text, text) IS
    'Restore a soft-deleted stream (admin): its events come back with their versions and ids, at new global positions. Returns the stream''s version. Audited.';

CREATE FUNCTION eventstore.es_tombstone_stream(
    stream           text,
    expected_version bigint DEFAULT NULL,
    reason           text   DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_tombstone_stream'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_tombstone_stream(text, bigint, text) IS
    'Hard-delete a stream (admin): its events, also soft-deleted ones, and its snapshots are removed physically and the name can never be written again (ES006). Returns the version it had. Audited.';

CREATE FUNCTION eventstore.es_erase_stream(
    stream text,
    reason text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_erase_stream'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_erase_stream(text, text) IS
    'Erase a stream for data protection (admin): a tombstone that also removes its snapshots, its per-stream checkpoints and its archived events (partitioned layout); the reason is required and audited with the rows removed from each table. Returns the version it had.';

CREATE FUNCTION eventstore.es_delete_snapshots(
    stream text DEFAULT NULL,
    kind   text DEFAULT NULL,
    reason text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_delete_snapshots'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_delete_snapshots(text, text, text) IS
    'Delete snapshots (admin) of a stream, of a kind in every stream, or of a kind in one stream. Returns how many were deleted. Audited.';

CREATE FUNCTION eventstore.es_reset_checkpoint(
    handler    text,
    stream     text   DEFAULT NULL,
    "position" bigint DEFAULT 0,
    reason     text   DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_reset_checkpoint'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_reset_checkpoint(text, text, bigint, text) IS
    'Move a handler''s checkpoint back to position (admin; default 0, which removes it), for a rebuild; waits for the handler''s lock. Returns the previous position. Audited.';

CREATE FUNCTION eventstore.es_stream_info(
    stream text,
    OUT stream        text,
    OUT state         text,
    OUT version       bigint,
    OUT first_version bigint,
    OUT last_version  bigint,
    OUT deleted_at    timestamptz,
    OUT tombstoned_at timestamptz,
    OUT truncate_before bigint,
    OUT max_count     bigint,
    OUT max_age       interval)
RETURNS record
AS 'MODULE_PATHNAME', 'es_stream_info'
LANGUAGE C STABLE PARALLEL SAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_stream_info(text) IS
    'A stream''s lifecycle state (active, deleted, tombstoned or unknown), its version as es_stream_version answers it, the first version a read returns (NULL when none; after retention, the first version kept), the highest version it ever had, and its retention settings.';

CREATE FUNCTION eventstore.es_set_retention(
    stream          text,
    truncate_before bigint   DEFAULT NULL,
    max_count       bigint   DEFAULT NULL,
    max_age         interval DEFAULT NULL,
    reason          text     DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'es_set_retention'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_set_retention(text, bigint, bigint, interval, text) IS
    'Set a stream''s retention (admin): remove events below truncate_before, keep at most max_count, remove events older than max_age; all NULL clears it. Applied to the stream at once; es_apply_retention enforces it later. The last event is always kept. Returns the events removed now. Audited.';

CREATE FUNCTION eventstore.es_apply_retention(
    max_streams       integer DEFAULT NULL,
    OUT stream        text,
    OUT deleted       bigint,
    OUT first_version bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'es_apply_retention'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER;
COMMENT ON FUNCTION eventstore.es_apply_retention(integer) IS
    'Enforce every stream''s retention settings (admin; schedule it, e.g. with pg_cron), at most max_streams streams losing events per call (NULL: all; the next call goes on). Idempotent; never waits for a busy stream: a stream being appended to right now is returned with deleted NULL and cleaned by the next run. Returns the streams that lost events, with the first version they keep. Audited per stream.';
-- Scale-out by stream: the routing hash, the shard identity and the check
-- that makes a shard refuse streams that are not its own (src/shard.c;
-- design in docs/scale-out.md).

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
    bad text;
BEGIN
    -- The shape es_append checks, with its SQLSTATEs (src/append.c): a
    -- router refuses what the shard would refuse, and a malformed batch is
    -- 22023, not a missing stream name.
    IF batch IS NULL THEN
        RAISE EXCEPTION 'append batch must not be null' USING ERRCODE = '22004';
    END IF;
    IF pg_catalog.jsonb_typeof(batch) NOT IN ('object', 'array') THEN
        RAISE EXCEPTION 'invalid append batch: the batch must be a JSON object or array'
            USING ERRCODE = '22023',
                  DETAIL = pg_catalog.format('It is a JSON %s.', pg_catalog.jsonb_typeof(batch));
    END IF;
    SELECT pg_catalog.jsonb_typeof(e.value) INTO bad
      FROM pg_catalog.jsonb_array_elements(
               CASE pg_catalog.jsonb_typeof(batch) WHEN 'array' THEN batch
                    ELSE pg_catalog.jsonb_build_array(batch) END) e
     WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'object'
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'invalid append batch: each stream entry must be a JSON object'
            USING ERRCODE = '22023', DETAIL = pg_catalog.format('An entry is a JSON %s.', bad);
    END IF;
    SELECT pg_catalog.jsonb_typeof(e.value OPERATOR(pg_catalog.->) 'stream') INTO bad
      FROM pg_catalog.jsonb_array_elements(
               CASE pg_catalog.jsonb_typeof(batch) WHEN 'array' THEN batch
                    ELSE pg_catalog.jsonb_build_array(batch) END) e
     WHERE pg_catalog.jsonb_typeof(e.value OPERATOR(pg_catalog.->) 'stream') OPERATOR(pg_catalog.<>) 'string'
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'invalid append batch: a string is required'
            USING ERRCODE = '22023', DETAIL = pg_catalog.format('Key "stream" has a value of type %s.', bad);
    END IF;
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
-- Operations: the feed mode, the position counter (src/position.c).

CREATE FUNCTION eventstore.es_feed_mode() RETURNS text
AS 'MODULE_PATHNAME', 'es_feed_mode' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventstore.es_feed_mode() IS
    '"concurrent" when eventstore is in shared_preload_libraries, "serialized" otherwise (appending transactions of a database then commit one at a time).';

CREATE FUNCTION eventstore.es_reset_position_counter() RETURNS void
AS 'MODULE_PATHNAME', 'es_reset_position_counter' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION eventstore.es_reset_position_counter() IS
    'Make the next append reread the highest stored position (needed only after rows were added by hand with triggers disabled).';

-- A reinstall in the same database must not reuse a stale counter.
SELECT eventstore.es_reset_position_counter();

-- A WARNING, not a NOTICE: CREATE EXTENSION runs its script with
-- client_min_messages at least WARNING (extension.c), so a NOTICE would never
-- reach the user.
DO $$
BEGIN
    IF eventstore.es_feed_mode() = 'serialized' THEN
        RAISE WARNING 'eventstore is not in shared_preload_libraries: appends run in serialized mode'
            USING HINT = 'Add eventstore to shared_preload_libraries and restart the server so that appending transactions commit concurrently.';
    END IF;
END
$$;

-- Who holds the feed back (issue 11): the appending transactions in flight
-- (src/position.c), with eventstore.max_append_hold's deadline, and in
-- serialized mode the holder of a database's feed lock (advisory tag
-- field 4 = 0x4546 "EF", key 0: src/stream_lock.c).
CREATE FUNCTION eventstore.es_feed_holders(
    OUT pid            integer,
    OUT datid          oid,
    OUT first_position bigint,
    OUT last_position  bigint,
    OUT held_since     timestamptz,
    OUT deadline       timestamptz,
    OUT terminating    boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'es_feed_holders'
LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION eventstore.es_feed_holders() IS
    'The appending transactions in flight in the current database (concurrent mode): backend pid, database, positions taken, when the first was taken, the eventstore.max_append_hold deadline (NULL: none) and whether a reader has already ended the backend. See the feed_holders view.';

CREATE VIEW eventstore.feed_holders AS
SELECT h.pid,
       d.datname AS database,
       'concurrent'::text AS mode,
       h.first_position,
       h.last_position,
       h.first_position OPERATOR(pg_catalog.-) 1 AS held_at,
       h.held_since,
       pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) h.held_since AS held_for,
       h.deadline,
       CASE WHEN h.terminating THEN 'terminating' ELSE 'holding' END AS state,
       a.state AS backend_state,
       a.usename AS role,
       a.application_name,
       a.query
FROM eventstore.es_feed_holders() h
LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) h.datid
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) h.pid
UNION ALL
SELECT l.pid,
       d.datname,
       'serialized'::text,
       NULL::bigint,
       NULL::bigint,
       NULL::bigint,
       a.xact_start,
       pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.xact_start,
       NULL::timestamptz,
       'holding'::text,
       a.state,
       a.usename,
       a.application_name,
       a.query
FROM pg_catalog.pg_locks l
LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) l.database
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid
WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory'
  AND l.database OPERATOR(pg_catalog.=) (SELECT c.oid FROM pg_catalog.pg_database c
                                         WHERE c.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
  AND l.objsubid OPERATOR(pg_catalog.=) 17734
  AND l.classid OPERATOR(pg_catalog.=) 0::oid
  AND l.objid OPERATOR(pg_catalog.=) 0::oid
  AND l.granted;

COMMENT ON VIEW eventstore.feed_holders IS
    'The transactions that hold back the global feed of this database: they appended and have not ended (docs/global-feed.md, section 3). Other databases'' holders are not shown. In serialized mode, the holder of a database''s feed lock, which delays other appenders, not readers. The query column needs pg_read_all_stats for other roles'' sessions.';
COMMENT ON COLUMN eventstore.feed_holders.pid IS 'Backend process id of the holder (pg_terminate_backend ends it).';
COMMENT ON COLUMN eventstore.feed_holders.database IS 'Database whose feed it holds.';
COMMENT ON COLUMN eventstore.feed_holders.mode IS 'concurrent (it holds readers back) or serialized (it holds other appenders back).';
COMMENT ON COLUMN eventstore.feed_holders.first_position IS 'First position the transaction took: the feed stops below it.';
COMMENT ON COLUMN eventstore.feed_holders.last_position IS 'Last position the transaction took so far.';
COMMENT ON COLUMN eventstore.feed_holders.held_at IS 'The position readers are held at (first_position - 1), unless an older holder holds them lower.';
COMMENT ON COLUMN eventstore.feed_holders.held_since IS 'When the transaction first appended (serialized mode: when it began).';
COMMENT ON COLUMN eventstore.feed_holders.held_for IS 'How long it has held the feed.';
COMMENT ON COLUMN eventstore.feed_holders.deadline IS 'When a feed reader ends it (eventstore.max_append_hold in effect at its first append); NULL: no limit.';
COMMENT ON COLUMN eventstore.feed_holders.state IS 'holding, or terminating: a reader has sent it SIGTERM and the feed moves on when it has aborted.';
COMMENT ON COLUMN eventstore.feed_holders.backend_state IS 'pg_stat_activity.state of the holder, e.g. idle in transaction.';
COMMENT ON COLUMN eventstore.feed_holders.role IS 'Role of the holder''s session.';
COMMENT ON COLUMN eventstore.feed_holders.application_name IS 'application_name of the holder''s session.';
COMMENT ON COLUMN eventstore.feed_holders.query IS 'The holder''s current or last statement (pg_stat_activity.query).';

REVOKE ALL ON TABLE eventstore.feed_holders FROM PUBLIC;
-- No silent loss by DDL (src/ddl_guard.c, src/guards.c; docs/operations.md,
-- "Protection against destructive DDL").  New in 1.1.

-- TRUNCATE of the snapshots and checkpoints tables is refused like a DROP:
-- a checkpoint cannot be rebuilt from the events.
CREATE FUNCTION eventstore.es_forbid_truncate() RETURNS trigger
AS 'MODULE_PATHNAME', 'es_forbid_truncate' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_forbid_truncate() IS
    'Trigger: refuses TRUNCATE of a store table unless a superuser set eventstore.allow_destroy (SQLSTATE ES005).';

CREATE TRIGGER snapshots_no_truncate BEFORE TRUNCATE ON eventstore.snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON eventstore.checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
ALTER TABLE eventstore.snapshots ENABLE ALWAYS TRIGGER snapshots_no_truncate;
ALTER TABLE eventstore.checkpoints ENABLE ALWAYS TRIGGER checkpoints_no_truncate;
-- The lifecycle tables (50_lifecycle.sql): tombstones and the audit trail.
CREATE TRIGGER stream_state_no_truncate BEFORE TRUNCATE ON eventstore.stream_state
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
CREATE TRIGGER deleted_events_no_truncate BEFORE TRUNCATE ON eventstore.deleted_events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
CREATE TRIGGER lifecycle_log_no_truncate BEFORE TRUNCATE ON eventstore.lifecycle_log
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_forbid_truncate();
ALTER TABLE eventstore.stream_state ENABLE ALWAYS TRIGGER stream_state_no_truncate;
ALTER TABLE eventstore.deleted_events ENABLE ALWAYS TRIGGER deleted_events_no_truncate;
COMMENT ON TRIGGER stream_state_no_truncate ON eventstore.stream_state IS
    'Refuses TRUNCATE (ES005): the table holds the tombstones.';
COMMENT ON TRIGGER deleted_events_no_truncate ON eventstore.deleted_events IS
    'Refuses TRUNCATE (ES005): soft-deleted events are purged by es_tombstone_stream or es_erase_stream.';
COMMENT ON TRIGGER lifecycle_log_no_truncate ON eventstore.lifecycle_log IS
    'Refuses TRUNCATE (ES005): the table is the audit trail of the lifecycle functions.';
ALTER TABLE eventstore.lifecycle_log ENABLE ALWAYS TRIGGER lifecycle_log_no_truncate;

-- DROP EXTENSION eventstore, DROP SCHEMA eventstore, DROP TABLE of a store
-- table and DROP OWNED BY the store's owner are refused while the store
-- holds data; switching the store's own triggers off is refused always.
-- ddl_command_start fires before anything is dropped, also for this
-- extension's own DROP EXTENSION; ENABLE ALWAYS keeps it firing under
-- session_replication_role = replica.
CREATE FUNCTION eventstore.es_guard_ddl() RETURNS event_trigger
AS 'MODULE_PATHNAME', 'es_guard_ddl' LANGUAGE C;
COMMENT ON FUNCTION eventstore.es_guard_ddl() IS
    'Event trigger: refuses DDL that would destroy a store holding data unless a superuser set eventstore.allow_destroy (SQLSTATE ES005).';

CREATE EVENT TRIGGER eventstore_guard_ddl ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA', 'DROP TABLE', 'DROP OWNED', 'ALTER TABLE')
    EXECUTE FUNCTION eventstore.es_guard_ddl();
ALTER EVENT TRIGGER eventstore_guard_ddl ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER eventstore_guard_ddl IS
    'Refuses DROP EXTENSION eventstore, DROP SCHEMA eventstore, DROP TABLE of a store table and DROP OWNED BY its owner while the store holds data, and switching the store''s triggers off; SET eventstore.allow_destroy = on (superuser) to mean it.';
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
-- Grants on handler state and snapshots (issue 11; src/grants.c,
-- docs/security.md "Trust model").  EXECUTE on the writer functions says a
-- role is a writer; a row here says which handlers (by name prefix) and
-- which streams' snapshots (by category) it may write.  Superusers and
-- members of the extension's owner need no row.

CREATE TABLE eventstore.grants (
    grantee     name        NOT NULL,
    kind        text        NOT NULL,
    name        text        NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT grants_pkey PRIMARY KEY (grantee, kind, name),
    CONSTRAINT grants_kind_check CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['handler', 'category']))
);

COMMENT ON TABLE eventstore.grants IS
    'Which handlers (kind handler: name is a handler-name prefix) and which streams'' snapshots (kind category: name is a category) a writer role may write. An empty name covers all. Managed with es_grant_handler, es_grant_category, es_revoke_handler, es_revoke_category and es_grant_writer.';
COMMENT ON COLUMN eventstore.grants.grantee IS 'Role name; members that inherit its privileges are covered too. A renamed role loses its rows'' effect: grant again.';
COMMENT ON COLUMN eventstore.grants.kind IS 'handler (es_advance_position, es_lock_handler) or category (es_snapshot).';
COMMENT ON COLUMN eventstore.grants.name IS 'Handler-name prefix (kind handler) or category (kind category); empty: every handler or every category.';
COMMENT ON COLUMN eventstore.grants.granted_at IS 'When the grant was made.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.grants', '');

REVOKE ALL ON TABLE eventstore.grants FROM PUBLIC;

-- Every grant function refuses PUBLIC as a role name (issue 21, item 11):
-- GRANT ... TO public grants to every role, while eventstore.grants would
-- record a name that matches no role; and NULL.  In any case, since the
-- role name is an identifier: 'PUBLIC' names no role either.
CREATE FUNCTION eventstore.es_check_grantee(role_name name) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF role_name IS NULL THEN
        RAISE EXCEPTION 'role_name must not be null' USING ERRCODE = '22004';
    END IF;
    IF lower(role_name) = 'public' THEN
        RAISE EXCEPTION 'cannot grant the store''s rights to PUBLIC'
            USING ERRCODE = '22023',
                  DETAIL = 'A grant to PUBLIC would reach every role, present and future.',
                  HINT = 'Grant to a role made for the purpose, and make the users members of it.';
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_check_grantee(name) IS
    'Internal: refuse PUBLIC (any case) and NULL as the role of a grant function (22023, 22004).';

-- EXECUTE on the writer functions (with reader rights): the part of a grant
-- that is the same for every writer.  Called by the grant functions below
-- and es_grant_writer, which run as the store's owner; nobody else may call
-- it.
CREATE FUNCTION eventstore.es_grant_writer_functions(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_append(text, text, jsonb, bigint, jsonb, uuid, bytea), eventstore.es_append(jsonb) TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_snapshot(text, bigint, jsonb, text, bytea), eventstore.es_advance_position(text, bigint, text), eventstore.es_lock_handler(text, text, boolean) TO %I', role_name);
    PERFORM eventstore.es_grant_reader(role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_writer_functions(name) IS
    'Internal: EXECUTE on the writer and reader functions, without any handler or category grant.';

-- Check a grant's arguments and record it.
CREATE FUNCTION eventstore.es_grant_scope(role_name name, scope_kind text, scope_name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF scope_kind IS NULL OR scope_kind NOT IN ('handler', 'category') THEN
        RAISE EXCEPTION 'unrecognized grant kind: "%"', scope_kind
            USING ERRCODE = '22023', HINT = 'A grant is of kind handler or category.';
    END IF;
    IF role_name IS NULL OR scope_name IS NULL THEN
        RAISE EXCEPTION '% must not be null',
            CASE WHEN role_name IS NULL THEN 'role_name'
                 WHEN scope_kind = 'handler' THEN 'handler_prefix'
                 ELSE 'category' END
            USING ERRCODE = '22004';
    END IF;
    IF octet_length(scope_name) > 255 THEN
        RAISE EXCEPTION '% is too long', CASE WHEN scope_kind = 'handler' THEN 'handler_prefix' ELSE 'category' END
            USING ERRCODE = '22023',
                  DETAIL = format('It is %s bytes; the limit is 255.', octet_length(scope_name));
    END IF;
    IF scope_kind = 'category' AND strpos(scope_name, '-') > 0 THEN
        RAISE EXCEPTION 'category "%" contains "-"', scope_name
            USING ERRCODE = '22023',
                  DETAIL = 'A category is the part of a stream name before its first "-".';
    END IF;
    PERFORM eventstore.es_check_grantee(role_name);
    PERFORM eventstore.es_grant_writer_functions(role_name);
    INSERT INTO eventstore.grants (grantee, kind, name) VALUES (role_name, scope_kind, scope_name)
    ON CONFLICT ON CONSTRAINT grants_pkey DO NOTHING;
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_scope(name, text, text) IS
    'Internal: make a role a writer and record one handler or category grant.';

CREATE FUNCTION eventstore.es_grant_handler(role_name name, handler_prefix text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN eventstore.es_grant_scope(role_name, 'handler', handler_prefix);
COMMENT ON FUNCTION eventstore.es_grant_handler(name, text) IS
    'Let a role append and read, and advance and lock the handlers whose names start with handler_prefix ('''' = every handler). Other handlers'' checkpoints and locks stay out of its reach (42501).';

CREATE FUNCTION eventstore.es_grant_category(role_name name, category text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN eventstore.es_grant_scope(role_name, 'category', category);
COMMENT ON FUNCTION eventstore.es_grant_category(name, text) IS
    'Let a role append and read, and save snapshots of the streams of one category ('''' = every category). Other categories'' snapshots stay out of its reach (42501).';

-- Remove one grant; true when there was one.
CREATE FUNCTION eventstore.es_revoke_scope(role_name name, scope_kind text, scope_name text)
RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH gone AS (
        DELETE FROM eventstore.grants g
        WHERE g.grantee = role_name AND g.kind = scope_kind AND g.name = scope_name
        RETURNING 1)
    SELECT count(*) > 0 FROM gone;
END;
COMMENT ON FUNCTION eventstore.es_revoke_scope(name, text, text) IS
    'Internal: remove one handler or category grant of a role.';

CREATE FUNCTION eventstore.es_revoke_handler(role_name name, handler_prefix text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN eventstore.es_revoke_scope(role_name, 'handler', handler_prefix);
COMMENT ON FUNCTION eventstore.es_revoke_handler(name, text) IS
    'Remove one handler grant (exactly this prefix) of a role; true when there was one. EXECUTE rights stay.';

CREATE FUNCTION eventstore.es_revoke_category(role_name name, category text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN eventstore.es_revoke_scope(role_name, 'category', category);
COMMENT ON FUNCTION eventstore.es_revoke_category(name, text) IS
    'Remove one category grant of a role; true when there was one. EXECUTE rights stay.';
-- Backup and restore by the store's owner (issue 21, item 9;
-- docs/operations.md, "Backup and restore as the database owner").
--
-- The owner of a trusted install (the role that ran CREATE EXTENSION) has
-- no table rights, so pg_dump and pg_restore, which read and write the
-- store's tables directly, failed for it.  It gets SELECT on every table of
-- the store (pg_dump reads the rows of some and locks all of them): reading
-- is little more than es_grant_monitor already lets it give itself.
--
-- Writing is another matter: an owner with INSERT on stream_state or
-- lifecycle_log could hide streams or forge the audit trail of a store in
-- use.  So INSERT is lent only for a restore, and only into an empty store,
-- and only until the end of the transaction: es_restore_begin() lends it,
-- es_restore_end() takes it back, and a deferred constraint trigger
-- refuses to commit a transaction that did not call es_restore_end().  A
-- committed database never shows the owner with table rights it could use
-- on data that was not its own restore.

-- The tables pg_dump saves, from the catalog (one home for the list).
CREATE FUNCTION eventstore.es_dumped_tables() RETURNS SETOF pg_catalog.regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.oid::pg_catalog.regclass
    FROM pg_catalog.pg_extension e
    CROSS JOIN LATERAL pg_catalog.unnest(e.extconfig) AS t(oid)
    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.oid
    WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name
$$;
COMMENT ON FUNCTION eventstore.es_dumped_tables() IS
    'The store''s tables whose rows pg_dump saves (the extension''s configuration tables).';
REVOKE ALL ON FUNCTION eventstore.es_dumped_tables() FROM PUBLIC;

-- An open restore: one row while es_restore_begin()'s transaction runs.
CREATE TABLE eventstore.restore_window (
    opened_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    opened_by name        NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE eventstore.restore_window IS
    'A row while an owner''s restore is open (es_restore_begin until es_restore_end, in one transaction); empty otherwise.';
REVOKE ALL ON TABLE eventstore.restore_window FROM PUBLIC;

CREATE FUNCTION eventstore.es_restore_window_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT FROM eventstore.restore_window) THEN
        RAISE EXCEPTION 'restore was not finished'
            USING ERRCODE = 'ES015',
                  DETAIL = 'es_restore_begin() lends the owner INSERT on the store''s tables for one transaction only.',
                  HINT = 'Call eventstore.es_restore_end() in the transaction that called es_restore_begin(), after the data is loaded.';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION eventstore.es_restore_window_check() IS
    'Constraint trigger: refuses (ES015) to commit a transaction that opened an owner''s restore and did not close it.';
REVOKE ALL ON FUNCTION eventstore.es_restore_window_check() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER restore_window_must_close AFTER INSERT ON eventstore.restore_window
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION eventstore.es_restore_window_check();
ALTER TABLE eventstore.restore_window ENABLE ALWAYS TRIGGER restore_window_must_close;

CREATE FUNCTION eventstore.es_restore_begin() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t     pg_catalog.regclass;
    owner pg_catalog.name;
    held  boolean;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(e.extowner) INTO STRICT owner
    FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name;
    IF EXISTS (SELECT FROM eventstore.restore_window) THEN
        RAISE EXCEPTION 'a restore is already open' USING ERRCODE = 'ES008';
    END IF;
    -- Empty but for the grants, which the owner manages anyway.
    FOR t IN SELECT d FROM eventstore.es_dumped_tables() d
             WHERE d OPERATOR(pg_catalog.<>) 'eventstore.grants'::pg_catalog.regclass LOOP
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s)', t) INTO held;
        IF held THEN
            RAISE EXCEPTION 'store is not empty'
                USING ERRCODE = 'ES008',
                      DETAIL = pg_catalog.format('Table %s holds rows; a restore goes into a new database.', t),
                      HINT = 'Restore into a database where CREATE EXTENSION eventstore has just run (docs/operations.md, "Backup and restore as the database owner").';
        END IF;
    END LOOP;
    INSERT INTO eventstore.restore_window DEFAULT VALUES;
    FOR t IN SELECT d FROM eventstore.es_dumped_tables() d LOOP
        EXECUTE pg_catalog.format('GRANT INSERT ON %s TO %I', t, owner);
    END LOOP;
END
$$;
COMMENT ON FUNCTION eventstore.es_restore_begin() IS
    'Owner''s restore: lends the extension''s owner INSERT on the store''s dumped tables until es_restore_end() in the same transaction; only on an empty store (ES008).';

CREATE FUNCTION eventstore.es_restore_end() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t     pg_catalog.regclass;
    owner pg_catalog.name;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(e.extowner) INTO STRICT owner
    FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name;
    IF NOT EXISTS (SELECT FROM eventstore.restore_window) THEN
        RAISE EXCEPTION 'no restore is open' USING ERRCODE = 'ES008',
            HINT = 'Call eventstore.es_restore_begin() first, in the same transaction.';
    END IF;
    FOR t IN SELECT d FROM eventstore.es_dumped_tables() d LOOP
        EXECUTE pg_catalog.format('REVOKE INSERT ON %s FROM %I', t, owner);
    END LOOP;
    DELETE FROM eventstore.restore_window;
END
$$;
COMMENT ON FUNCTION eventstore.es_restore_end() IS
    'Owner''s restore: takes back the INSERT that es_restore_begin() lent; the transaction may then commit.';

REVOKE ALL ON FUNCTION eventstore.es_restore_begin() FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_restore_end() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventstore.es_restore_begin(), eventstore.es_restore_end() TO @extowner@;

-- pg_dump as the owner: SELECT on every table of the store (pg_dump locks
-- each table of an extension, not only those whose rows it saves).
-- 90_privileges.sql gives the rest of the owner's rights.
GRANT SELECT ON ALL TABLES IN SCHEMA eventstore TO @extowner@;
-- Privileges.  Tables are written only through the SECURITY DEFINER
-- functions; applications get EXECUTE on them, never table rights.
-- Every SPI statement in the C code is schema-qualified, operators included,
-- so a caller's search_path cannot redirect them.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eventstore FROM PUBLIC;
-- A pure conversion of its argument, callable by every role with USAGE.
GRANT EXECUTE ON FUNCTION eventstore.es_expected_version(text) TO PUBLIC;

CREATE FUNCTION eventstore.es_grant_writer(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventstore.es_grant_scope(role_name, 'handler', '');
    PERFORM eventstore.es_grant_scope(role_name, 'category', '');
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_writer(name) IS
    'Let a role append events, save snapshots of every stream, advance and lock every handler, and read, through the functions only (no table rights). For a writer limited to some handlers or categories, use es_grant_handler and es_grant_category instead.';

CREATE FUNCTION eventstore.es_grant_reader(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f regprocedure;
BEGIN
    PERFORM eventstore.es_check_grantee(role_name);
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.pronamespace = 'eventstore'::regnamespace
          AND p.proname IN ('es_load', 'es_stream_version', 'es_feed_mode',
                            'es_feed_head', 'es_wait', 'es_stream_hash',
                            'es_load_snapshot', 'es_load_with_snapshot', 'es_handler_position',
                            'es_feed_holders', 'es_stream_info', 'es_load_feed',
                            'es_load_event', 'es_load_events', 'es_load_correlated',
                            'es_load_causes', 'es_load_effects', 'es_load_until',
                            'es_feed_position_at', 'es_streams', 'es_stream_versions',
                            'es_categories', 'es_archive_horizon', 'es_partitions')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, role_name);
    END LOOP;
    EXECUTE format('GRANT SELECT ON eventstore.handler_lag, eventstore.feed_holders TO %I', role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_reader(name) IS
    'Let a role read streams, the feed, snapshots and checkpoints, through the functions and the handler_lag and feed_holders views only (no table rights).';

CREATE FUNCTION eventstore.es_grant_admin(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventstore.es_grant_writer(role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_delete_stream(text, bigint, text), eventstore.es_restore_stream(text, text), eventstore.es_tombstone_stream(text, bigint, text), eventstore.es_erase_stream(text, text) TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_delete_snapshots(text, text, text), eventstore.es_reset_checkpoint(text, text, bigint, text) TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_set_retention(text, bigint, bigint, interval, text), eventstore.es_apply_retention(integer) TO %I', role_name);
    EXECUTE format('GRANT SELECT ON eventstore.lifecycle_log TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION eventstore.es_archive_events(bigint, text) TO %I', role_name);
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_admin(name) IS
    'Let a role delete, restore, tombstone and erase streams, delete snapshots and reset checkpoints, set and apply retention and archive the oldest partitions (the audited lifecycle functions, docs/lifecycle.md, docs/partitioning.md) and read the lifecycle log, besides everything a writer may do.';

REVOKE ALL ON FUNCTION eventstore.es_grant_writer(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_grant_reader(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_grant_admin(name) FROM PUBLIC;

-- Installing without a superuser (docs/security.md): eventstore is a trusted
-- extension, so a role with CREATE on the database can install it; the
-- script then runs as the bootstrap superuser, which owns every object.  The
-- installing role (the extension's owner) gets what an application needs
-- and the right to hand it on, nothing more: it can append and read through
-- the functions and call es_grant_writer / es_grant_reader (SECURITY
-- DEFINER, so that it needs no grant option), and it does not own the schema:
-- a schema's owner could add objects beside the store's functions, which run
-- as a superuser.
-- (The schema was given to the superuser first: 00_claim_schema.sql.)
-- The owner's name is read from the catalog, never written into a string
-- literal: @extowner@ is substituted as an identifier, and a role name may
-- hold a quote that would end the literal.
GRANT EXECUTE ON FUNCTION eventstore.es_grant_writer(name), eventstore.es_grant_reader(name) TO @extowner@;
SELECT eventstore.es_grant_writer(pg_catalog.pg_get_userbyid(e.extowner))
FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'eventstore'::pg_catalog.name;
-- The owner and its members need no rows in eventstore.grants (src/grants.c),
-- and a row written by this script would come back from a dump as data and
-- collide with the one CREATE EXTENSION writes on restore.
DELETE FROM eventstore.grants;
-- Issue 11: the owner hands out and reads the handler and category grants.
GRANT EXECUTE ON FUNCTION eventstore.es_grant_handler(name, text), eventstore.es_grant_category(name, text),
    eventstore.es_revoke_handler(name, text), eventstore.es_revoke_category(name, text) TO @extowner@;
GRANT SELECT ON TABLE eventstore.grants TO @extowner@;
-- Read-only table access for operators, BI tools and CDC connectors
-- (docs/security.md).  Application roles read through the functions; these
-- grants are for tools that need plain SELECTs.  A plain SELECT does not
-- follow the feed's visibility rule (docs/global-feed.md): it may see a
-- higher position before a lower one that commits later, so a consumer
-- must page through es_load, not through the table.

CREATE FUNCTION eventstore.es_grant_monitor(role_name name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM eventstore.es_check_grantee(role_name);
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
    PERFORM eventstore.es_check_grantee(role_name);
    EXECUTE format('GRANT USAGE ON SCHEMA eventstore TO %I', role_name);
    EXECUTE format('GRANT SELECT ON eventstore.events TO %I', role_name);
    -- The partitioned layout's tables that a subscriber taking over the
    -- appends needs too (docs/partitioning.md publishes them with events).
    IF pg_catalog.to_regclass('eventstore.event_ids') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON eventstore.event_ids TO %I', role_name);
    END IF;
    IF pg_catalog.to_regclass('eventstore.stream_starts') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON eventstore.stream_starts TO %I', role_name);
    END IF;
END
$$;
COMMENT ON FUNCTION eventstore.es_grant_cdc(name) IS
    'Let a CDC connector''s role (e.g. Debezium) take its initial snapshot of the events table: USAGE on the schema and SELECT on events, and in the partitioned layout on event_ids and stream_starts, which are published with it. The REPLICATION attribute and the publication are the operator''s (docs/operations.md).';

REVOKE ALL ON FUNCTION eventstore.es_grant_monitor(name) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventstore.es_grant_cdc(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eventstore.es_grant_monitor(name), eventstore.es_grant_cdc(name) TO @extowner@;
-- The claim again, last: an object that another session created in the
-- schema while this script ran (before it took the schema over) is refused
-- here rather than left behind (00_claim_schema.sql).
SELECT eventstore.es_claim_schema();
