-- The handler_lag view (checkpoints: src/sql/31_checkpoints.sql; feed head: 40_feed.sql).

-- Lag of every handler (after 40_feed.sql: it needs es_feed_head).  The head
-- of the feed is the highest position a feed reader may return now; on a hot
-- standby, where the feed cannot be read, it is max(position).
CREATE VIEW eventstore.handler_lag AS
WITH feed AS (
    SELECT CASE WHEN pg_catalog.pg_is_in_recovery()
                THEN (SELECT COALESCE(pg_catalog.max(e."position"), 0) FROM eventstore.events e)
                ELSE eventstore.es_feed_head()
           END AS head
)
SELECT c.handler,
       c.stream,
       c."position",
       h.head,
       GREATEST(h.head OPERATOR(pg_catalog.-) c."position", 0) AS lag,
       c.updated_at
FROM eventstore.checkpoints c
CROSS JOIN feed
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.stream OPERATOR(pg_catalog.=) '' THEN feed.head
                ELSE (SELECT COALESCE(pg_catalog.max(e.version), 0)
                      FROM eventstore.events e
                      WHERE e.stream OPERATOR(pg_catalog.=) c.stream)
           END AS head
) h;

COMMENT ON VIEW eventstore.handler_lag IS
    'Every checkpoint with its head (feed head for a feed handler, stream version for a per-stream handler) and lag = head - position. A feed lag counts positions, which can have gaps: it is an upper bound of the events left.';
COMMENT ON COLUMN eventstore.handler_lag.handler IS 'Handler name.';
COMMENT ON COLUMN eventstore.handler_lag.stream IS 'Empty for a feed handler; the stream for a per-stream handler.';
COMMENT ON COLUMN eventstore.handler_lag."position" IS 'The handler''s checkpoint.';
COMMENT ON COLUMN eventstore.handler_lag.head IS 'Feed head (feed handler) or stream version (per-stream handler).';
COMMENT ON COLUMN eventstore.handler_lag.lag IS 'head - position, never below 0.';
COMMENT ON COLUMN eventstore.handler_lag.updated_at IS 'When the checkpoint last advanced.';

REVOKE ALL ON TABLE eventstore.handler_lag FROM PUBLIC;
