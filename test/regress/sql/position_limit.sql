-- Global positions never wrap past the bigint maximum (issue 11): a row
-- near the maximum (a restore, a superuser's insert) makes the next appends
-- fail with 2200H instead of getting negative positions that no feed reader
-- would ever reach.  In a scratch database, since nothing can be appended
-- there afterwards.
\set regress_db :DBNAME
CREATE DATABASE es_regress_position_limit;
\c es_regress_position_limit
SET client_min_messages = error;
CREATE EXTENSION eventstore;
RESET client_min_messages;
SET search_path = eventstore, public;
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT position FROM es_append('before-1', 'T');
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, created_at)
    VALUES (9223372036854775805, 'restored-1', 1, gen_random_uuid(), 'T', 'restored', now());

-- the last two positions can still be handed out, together
SELECT stream, version, position FROM es_append('{"stream": "near-1", "events": [{"type": "A"}, {"type": "B"}]}');
-- then nothing more, in any form
SELECT try($$SELECT es_append('near-1', 'C')$$);
SELECT try($$SELECT es_append('[{"stream": "near-2", "events": [{"type": "A"}]},
                                {"stream": "near-3", "events": [{"type": "A"}]}]')$$);
-- the message, with its detail and hint
SELECT es_append('near-1', 'C');

-- nothing went in, no position is negative, and the feed shows every row
SELECT count(*) AS events, min(position) > 0 AS all_positive FROM eventstore.events;
SELECT position, stream, version FROM es_load(after_position => 1, max_count => 10);
SELECT es_stream_version('near-1'), es_stream_version('near-2');

\c :regress_db
DROP DATABASE es_regress_position_limit;
