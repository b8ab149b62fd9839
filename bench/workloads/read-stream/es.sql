-- read-stream, eventstore: load a whole 1,000-event stream.
\set k random(1, :nstreams)
SELECT * FROM eventstore.es_load('load-' || :k, 1, 1000);
