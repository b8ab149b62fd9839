-- subscription-fetch-ack, round robin: fetch 100 events (payloads included),
-- then ack them, each statement its own transaction; the subscription is
-- the run's own (wl_setup), the consumer the client.
SELECT coalesce(array_agg(position), '{}') AS ps, count(data) AS n FROM eventstore.es_fetch(:run, 'c' || :client_id, 100) \gset
SELECT eventstore.es_ack(:run, 'c' || :client_id, :ps::bigint[]);
