-- append-single, floor: the same row as es_append writes (same table shape and
-- indexes, generated uuid, position from a sequence), version computed by
-- the client from its counter, no check.
\set e :n % 100
\set s :n / 100
\set v :e + 1
INSERT INTO bench.floor_events (position, stream, version, event_id, type, category, data, metadata, created_at)
VALUES (nextval('bench.floor_position_seq'), 'acct-' || :run || '-' || :client_id || '-' || :s, :v,
        gen_random_uuid(), 'Deposited', 'acct', :data, :meta, now())
RETURNING stream, version, position, event_id;
\set n :n + 1
