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

-- Who holds the feed back (issue 11): the appending transactions in flight
-- (src/position.c), with eventstore.max_append_hold's deadline, and in
-- serialized mode the holder of a database's feed lock (advisory tag
-- field 4 = 0x4546 "EF", key 0: src/stream_lock.c).
CREATE FUNCTION eventstore.es_feed_holders(
    OUT pid            integer,
    OUT datid          oid,
    OUT first_position bigint,
    OUT last_position  bigint,
    OUT held_since     timestamptz,
    OUT deadline       timestamptz,
    OUT terminating    boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'es_feed_holders'
LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION eventstore.es_feed_holders() IS
    'The appending transactions in flight in the current database (concurrent mode): backend pid, database, positions taken, when the first was taken, the eventstore.max_append_hold deadline (NULL: none) and whether a reader has already ended the backend. See the feed_holders view.';

CREATE VIEW eventstore.feed_holders AS
SELECT h.pid,
       d.datname AS database,
       'concurrent'::text AS mode,
       h.first_position,
       h.last_position,
       h.first_position OPERATOR(pg_catalog.-) 1 AS held_at,
       h.held_since,
       pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) h.held_since AS held_for,
       h.deadline,
       CASE WHEN h.terminating THEN 'terminating' ELSE 'holding' END AS state,
       a.state AS backend_state,
       a.usename AS role,
       a.application_name,
       a.query
FROM eventstore.es_feed_holders() h
LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) h.datid
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) h.pid
UNION ALL
SELECT l.pid,
       d.datname,
       'serialized'::text,
       NULL::bigint,
       NULL::bigint,
       NULL::bigint,
       a.xact_start,
       pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) a.xact_start,
       NULL::timestamptz,
       'holding'::text,
       a.state,
       a.usename,
       a.application_name,
       a.query
FROM pg_catalog.pg_locks l
LEFT JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) l.database
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid
WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory'
  AND l.database OPERATOR(pg_catalog.=) (SELECT c.oid FROM pg_catalog.pg_database c
                                         WHERE c.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
  AND l.objsubid OPERATOR(pg_catalog.=) 17734
  AND l.classid OPERATOR(pg_catalog.=) 0::oid
  AND l.objid OPERATOR(pg_catalog.=) 0::oid
  AND l.granted;

COMMENT ON VIEW eventstore.feed_holders IS
    'The transactions that hold back the global feed of this database: they appended and have not ended (docs/global-feed.md, section 3). Other databases'' holders are not shown. In serialized mode, the holder of a database''s feed lock, which delays other appenders, not readers. The query column needs pg_read_all_stats for other roles'' sessions.';
COMMENT ON COLUMN eventstore.feed_holders.pid IS 'Backend process id of the holder (pg_terminate_backend ends it).';
COMMENT ON COLUMN eventstore.feed_holders.database IS 'Database whose feed it holds.';
COMMENT ON COLUMN eventstore.feed_holders.mode IS 'concurrent (it holds readers back) or serialized (it holds other appenders back).';
COMMENT ON COLUMN eventstore.feed_holders.first_position IS 'First position the transaction took: the feed stops below it.';
COMMENT ON COLUMN eventstore.feed_holders.last_position IS 'Last position the transaction took so far.';
COMMENT ON COLUMN eventstore.feed_holders.held_at IS 'The position readers are held at (first_position - 1), unless an older holder holds them lower.';
COMMENT ON COLUMN eventstore.feed_holders.held_since IS 'When the transaction first appended (serialized mode: when it began).';
COMMENT ON COLUMN eventstore.feed_holders.held_for IS 'How long it has held the feed.';
COMMENT ON COLUMN eventstore.feed_holders.deadline IS 'When a feed reader ends it (eventstore.max_append_hold in effect at its first append); NULL: no limit.';
COMMENT ON COLUMN eventstore.feed_holders.state IS 'holding, or terminating: a reader has sent it SIGTERM and the feed moves on when it has aborted.';
COMMENT ON COLUMN eventstore.feed_holders.backend_state IS 'pg_stat_activity.state of the holder, e.g. idle in transaction.';
COMMENT ON COLUMN eventstore.feed_holders.role IS 'Role of the holder''s session.';
COMMENT ON COLUMN eventstore.feed_holders.application_name IS 'application_name of the holder''s session.';
COMMENT ON COLUMN eventstore.feed_holders.query IS 'The holder''s current or last statement (pg_stat_activity.query).';

REVOKE ALL ON TABLE eventstore.feed_holders FROM PUBLIC;
