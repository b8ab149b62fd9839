-- Operations: the feed mode, the position counter (src/position.c).

CREATE FUNCTION eventstore.es_feed_mode() RETURNS text
AS 'MODULE_PATHNAME', 'es_feed_mode' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION eventstore.es_feed_mode() IS
    '"concurrent" when eventstore is in shared_preload_libraries, "serialized" otherwise (appending transactions of a database then commit one at a time).';

CREATE FUNCTION eventstore.es_reset_position_counter() RETURNS void
AS 'MODULE_PATHNAME', 'es_reset_position_counter' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION eventstore.es_reset_position_counter() IS
    'Make the next append reread the highest stored position (needed only after rows were added by hand with triggers disabled).';

-- A reinstall in the same database must not reuse a stale counter.
SELECT eventstore.es_reset_position_counter();

-- A WARNING, not a NOTICE: CREATE EXTENSION runs its script with
-- client_min_messages at least WARNING (extension.c), so a NOTICE would never
-- reach the user.
DO $$
BEGIN
    IF eventstore.es_feed_mode() = 'serialized' THEN
        RAISE WARNING 'eventstore is not in shared_preload_libraries: appends run in serialized mode'
            USING HINT = 'Add eventstore to shared_preload_libraries and restart the server so that appending transactions commit concurrently.';
    END IF;
END
$$;
