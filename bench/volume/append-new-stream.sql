-- Volume benchmark (bench/volume.sh): one event to a new stream, expected
-- version 0 ("must not exist").  The client's counter :n (-D n=0) names a
-- stream of its own per transaction.
SELECT * FROM eventstore.es_append('fresh-' || :run || '-' || :client_id || '-' || :n, 'AccountOpened', :data,
                                   expected_version => 0, metadata => :meta);
\set n :n + 1
