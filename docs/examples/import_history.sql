-- Import the history of a home-made events table into eventstore, keeping
-- each event's version, time, id and order (docs/migrating.md).
-- test/suites/72_import_history.sh runs this file as it is, on good and on
-- broken legacy data.
--
-- Run it with psql as a superuser (applications have no rights on the
-- store's tables, and this writes the events table directly), before the
-- application appends to the store: the positions given here must not race
-- positions that appenders have already taken.  The whole import is one
-- transaction, so it stores every event or none.
--
-- The legacy table assumed here (adapt the SELECT below to yours):
--   legacy_events(seq bigint, aggregate_type text, aggregate_id text,
--                 version integer, event_type text, payload jsonb,
--                 meta jsonb, occurred_at timestamptz, id uuid)
-- seq is the legacy global order; version counts from 1 in each aggregate.

\set ON_ERROR_STOP on
BEGIN;

-- Appenders wait until the import commits (nothing else should write now).
LOCK TABLE eventstore.events IN EXCLUSIVE MODE;

-- What es_append would have checked, checked once for the whole history:
-- each stream's versions dense from 1, metadata an object, and names and
-- types within the store's rules (docs/append.md, "Names").  The names are
-- checked by the store's own functions, the one home of those rules:
-- es_stream_info refuses an invalid stream name (and tells whether the
-- stream exists or has a lifecycle state: a deleted or tombstoned name is
-- not free), es_load with an empty range refuses an invalid type.
CREATE TEMP TABLE import_rows ON COMMIT DROP AS
SELECT seq,
       aggregate_type || '-' || aggregate_id AS stream,
       version::bigint AS version,
       coalesce(id, gen_random_uuid()) AS event_id,
       event_type AS type,
       payload AS data,
       meta AS metadata,
       occurred_at AS created_at
  FROM legacy_events;

DO $$
DECLARE
    bad   text;
    state text;
BEGIN
    SELECT stream INTO bad FROM import_rows
     GROUP BY stream
    HAVING min(version) <> 1 OR max(version) <> count(*) OR count(DISTINCT version) <> count(*)
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'stream "%" does not have dense versions from 1', bad;
    END IF;
    SELECT stream INTO bad FROM import_rows
     WHERE stream IS NULL OR type IS NULL OR created_at IS NULL
        OR (metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object')
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'stream "%" has an event without a name, a type or a time, or with metadata that is not an object',
            coalesce(bad, '');
    END IF;
    PERFORM count(*) FROM eventstore.es_load(after_position => 0, to_position => 0,
        types => (SELECT array_agg(DISTINCT type) FROM import_rows));
    SELECT s.stream, i.state INTO bad, state
      FROM (SELECT DISTINCT stream FROM import_rows) s,
           LATERAL eventstore.es_stream_info(s.stream) i
     WHERE i.state <> 'unknown'
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'stream "%" already exists in the store (%)', bad, state;
    END IF;
END $$;

-- Positions follow the legacy order, above every stored position and every
-- position of a deleted event (never handed out again: docs/lifecycle.md),
-- so a feed reader sees the imported events once, after what it has
-- already read.
-- The category is the stream name up to its first "-", as es_append sets it.
-- A unique violation here (an id used twice) rolls the whole import back.
INSERT INTO eventstore.events
       (position, stream, version, event_id, type, category, data, data_bin, metadata, created_at)
SELECT greatest((SELECT coalesce(max(position), 0) FROM eventstore.events),
                (SELECT coalesce(max(last_position), 0) FROM eventstore.stream_state))
           + row_number() OVER (ORDER BY seq),
       stream, version, event_id, type, split_part(stream, '-', 1),
       data, NULL, metadata, created_at
  FROM import_rows
 ORDER BY seq;

COMMIT;
-- The store notices rows written by another path than es_append (a
-- statement trigger on the events table): the next append rereads the
-- highest position, so appends continue above the imported events.
