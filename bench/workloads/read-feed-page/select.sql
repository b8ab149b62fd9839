-- read-feed-page, plain SELECT: the same page through the primary key.
\set p random(0, :maxpos - 1000)
SELECT position, stream, version, event_id, type, category, data, data_bin, metadata, created_at
FROM eventstore.events WHERE position > :p ORDER BY position LIMIT 1000;
