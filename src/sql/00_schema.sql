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
    tags        text[],
    CONSTRAINT events_pkey PRIMARY KEY (position) WITH (fillfactor = 100),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version) WITH (fillfactor = 100),
    CONSTRAINT events_event_id_key UNIQUE (event_id) WITH (fillfactor = 100),
    CONSTRAINT events_version_check CHECK (version > 0),
    CONSTRAINT events_one_payload_check CHECK (data IS NULL OR data_bin IS NULL)
);
-- A category page of the feed is as cheap as an all-events page.
CREATE INDEX events_category_position_idx ON eventstore.events (category, position)
    WITH (fillfactor = 100);
-- Fill factor 100 on the indexes above and the correlation index
-- (13_correlation.sql): rows are never updated, and each of these indexes
-- grows at the right end of its key range (positions, a stream's versions,
-- the time-ordered ids es_append generates, a category's positions).
-- PostgreSQL splits a page where such an insert run goes on by the fill
-- factor, so the default 90 left a tenth of every full leaf page empty for
-- good (docs/benchmarks.md, "Bytes per event").

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

COMMENT ON COLUMN eventstore.events.tags IS 'Tags of the event (dynamic consistency boundaries, docs/dcb.md), e.g. {student:42,course:7}; NULL when it has none.';

SELECT pg_catalog.pg_extension_config_dump('eventstore.events', '');

REVOKE ALL ON TABLE eventstore.events FROM PUBLIC;
