-- Correlation and causation (src/correlation.c, docs/queries.md).  The
-- documented metadata keys "correlation_id" and "causation_id" are indexed
-- by the store itself, in hash indexes: a hash index stores no entry for a
-- NULL key (an event without the key costs the evaluation of the expression
-- only), and a value of any length can be stored.  Their names are in the
-- store's own list (86_table_additions.sql).
CREATE INDEX events_correlation_hash_idx ON eventstore.events
    USING hash ((metadata OPERATOR(pg_catalog.->>) 'correlation_id'));
COMMENT ON INDEX eventstore.events_correlation_hash_idx IS
    'Events by metadata correlation_id (es_load_correlated).';
CREATE INDEX events_causation_hash_idx ON eventstore.events
    USING hash ((metadata OPERATOR(pg_catalog.->>) 'causation_id'));
COMMENT ON INDEX eventstore.events_causation_hash_idx IS
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
