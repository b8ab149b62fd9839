-- append-single, eventstore: one event with an exact expected version.  Every
-- client writes its own streams of 100 events: the client's counter :n
-- (starts at 0 via -D n=0, persists across transactions) gives the stream
-- number :n / 100 and the expected version :n % 100.
\set e :n % 100
\set s :n / 100
SELECT * FROM eventstore.es_append('acct-' || :run || '-' || :client_id || '-' || :s, 'Deposited', :data,
                                   expected_version => :e, metadata => :meta);
\set n :n + 1
