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
-- in the index the catalogue walks (test/regress/sql/queries.sql pins it).

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
