-- subscription-fetch-ack, pinned (one event per stream in flight, version
-- order): fetch 100 events, then ack them, as sub.sql does.
SELECT coalesce(array_agg(position), '{}') AS ps, count(data) AS n FROM eventstore.es_fetch(:run, 'c' || :client_id, 100) \gset
SELECT eventstore.es_ack(:run, 'c' || :client_id, :ps::bigint[]);
