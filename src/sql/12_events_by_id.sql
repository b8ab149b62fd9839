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
