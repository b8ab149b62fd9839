-- append-batch, SQL baseline: the same batch through the PL/pgSQL append.
SELECT version, position FROM bench.sql_append_batch(jsonb_build_object(
    'stream', 'cart-' || :run || '-' || :client_id || '-' || :n,
    'expected_version', 0,
    'events', :events::jsonb));
\set n :n + 1
