-- Dynamic consistency boundaries (docs/dcb.md; src/tags.c, src/dcb_query.c,
-- src/dcb_locks.c, src/dcb_append.c): the index of tagged events, reads by
-- query, appends with a condition.  The tags themselves are the column
-- eventstore.events.tags (00_schema.sql).

-- One row per tag of each tagged event, written by the append that stores
-- the event.  A separate table, so that an untagged append touches no index
-- for tags.  Rows of events that left eventstore.events may stay: every
-- read and check joins the events table by position.
CREATE TABLE eventstore.event_tags (
    tag        text   NOT NULL,
    type       text   NOT NULL,
    "position" bigint NOT NULL,
    CONSTRAINT event_tags_pkey PRIMARY KEY (tag, type, "position")
);
COMMENT ON TABLE eventstore.event_tags IS
    'Index of tagged events for reads by query and append conditions: one row per tag of each tagged event (docs/dcb.md). Rows of deleted events may remain and are ignored.';
COMMENT ON COLUMN eventstore.event_tags.tag IS 'A tag of the event.';
COMMENT ON COLUMN eventstore.event_tags.type IS 'The event''s type.';
COMMENT ON COLUMN eventstore.event_tags."position" IS 'The event''s global position.';
SELECT pg_catalog.pg_extension_config_dump('eventstore.event_tags', '');
REVOKE ALL ON TABLE eventstore.event_tags FROM PUBLIC;

CREATE FUNCTION eventstore.es_load_query(
    query          jsonb,
    after_position bigint DEFAULT 0,
    max_count      bigint DEFAULT 1000,
    to_position    bigint DEFAULT NULL)
RETURNS SETOF eventstore.events
AS 'MODULE_PATHNAME', 'es_load_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 100;
COMMENT ON FUNCTION eventstore.es_load_query(jsonb, bigint, bigint, bigint) IS
    'Events matching a DCB query ({"items": [{"types": [...], "tags": [...]}, ...]} or {"all": true}) after after_position, in position order, at most max_count, never above the feed''s safe position (nor to_position). The condition''s after for a decision made from a complete answer: the last position returned, or after_position when none (docs/dcb.md).';

CREATE FUNCTION eventstore.es_append_if(
    batch                jsonb,
    fail_if_events_match jsonb,
    after_position       bigint DEFAULT NULL)
RETURNS SETOF eventstore.append_result
AS 'MODULE_PATHNAME', 'es_append_if'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER ROWS 10;
COMMENT ON FUNCTION eventstore.es_append_if(jsonb, jsonb, bigint) IS
    'Append a batch (as es_append; an entry may leave out the stream: each of its events gets a stream of its own) unless an event matching the query fail_if_events_match is stored after after_position (NULL: at any position), SQLSTATE ES016; checked and stored atomically, exact at READ COMMITTED (docs/dcb.md).';

-- Rows that leave the events table (a lifecycle delete, an erasure,
-- retention) take their event_tags rows with them: a tag may name a person
-- ("email:..."), and an erasure must not leave it behind.  Reads ignore
-- stale rows anyway.  Not ALWAYS, like events_forget_ids (05_layout.sql): a
-- logical-replication subscriber receives event_tags' deletes by the same
-- publication as the events, if it is published.
CREATE FUNCTION eventstore.es_event_tags_forget() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
    DELETE FROM eventstore.event_tags t
    USING (SELECT g.position, g.type, pg_catalog.unnest(g.tags) AS tag
           FROM gone g WHERE g.tags IS NOT NULL) d
    WHERE t.tag = d.tag AND t.type = d.type AND t.position = d.position;
    RETURN NULL;
END
$f$;
COMMENT ON FUNCTION eventstore.es_event_tags_forget() IS
    'Trigger: the event_tags rows of events deleted from eventstore.events are deleted with them (docs/dcb.md).';
REVOKE ALL ON FUNCTION eventstore.es_event_tags_forget() FROM PUBLIC;
CREATE TRIGGER events_forget_tags AFTER DELETE ON eventstore.events
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.es_event_tags_forget();
