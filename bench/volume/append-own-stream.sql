-- Volume benchmark (bench/volume.sh): one event to an existing stream with an
-- exact expected version, the scheme of bench/workloads/append-single: every
-- client writes streams of 100 events of its own (stream :n / 100, expected
-- version :n % 100), so 99 of 100 appends find the stream written moments
-- before.
\set e :n % 100
\set s :n / 100
SELECT * FROM eventstore.es_append('acct-' || :run || '-' || :client_id || '-' || :s, 'Deposited', :data,
                                   expected_version => :e, metadata => :meta);
\set n :n + 1
