-- append-batch, eventstore: 100 events to a new stream per call (expected
-- version 0), the events as one JSON array (-D events=...).
SELECT version, position FROM eventstore.es_append(jsonb_build_object(
    'stream', 'cart-' || :run || '-' || :client_id || '-' || :n,
    'expected_version', 0,
    'events', :events::jsonb));
\set n :n + 1
