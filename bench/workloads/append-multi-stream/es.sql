-- append-multi-stream, eventstore: one event to each of three streams, atomically, in one
-- call, each stream with an exact expected version (append-single's scheme).
-- Both contenders get the same JSON batch built the same way.
\set e :n % 100
\set s :n / 100
SELECT version, position FROM eventstore.es_append(jsonb_build_array(
    jsonb_build_object('stream', 'order-' || :run || '-' || :client_id || '-' || :s, 'expected_version', :e::bigint,
        'events', jsonb_build_array(jsonb_build_object('type', 'OrderPlaced', 'data', :data::jsonb, 'metadata', :meta::jsonb))),
    jsonb_build_object('stream', 'payment-' || :run || '-' || :client_id || '-' || :s, 'expected_version', :e::bigint,
        'events', jsonb_build_array(jsonb_build_object('type', 'PaymentRequested', 'data', :data::jsonb, 'metadata', :meta::jsonb))),
    jsonb_build_object('stream', 'stock-' || :run || '-' || :client_id || '-' || :s, 'expected_version', :e::bigint,
        'events', jsonb_build_array(jsonb_build_object('type', 'StockReserved', 'data', :data::jsonb, 'metadata', :meta::jsonb)))));
\set n :n + 1
