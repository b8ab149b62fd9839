-- read-stream, plain SELECT: the same rows and columns through the (stream, version) index.
\set k random(1, :nstreams)
SELECT position, stream, version, event_id, type, category, data, data_bin, metadata, created_at
FROM eventstore.events WHERE stream = 'load-' || :k AND version >= 1 ORDER BY version LIMIT 1000;
