-- Helpers for the other regression files: show a statement's SQLSTATE and message.
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT eventstore.es_feed_mode();
SET search_path = eventstore, public;
SHOW search_path;
