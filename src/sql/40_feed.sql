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
