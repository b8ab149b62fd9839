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
    WITH (fillfactor = 100)
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
