-- Volume benchmark (bench/volume.sh): load a whole 1,000-event stream, one of
-- the :nlong long streams whose events are spread over the store.
\set k random(0, :nlong - 1)
SELECT * FROM eventstore.es_load('ledger-' || :k, 1, 1000);
