-- es_append: single events, batches, multi-stream, expected versions, idempotency.
SET search_path = eventstore, public;

-- one event, new stream
SELECT stream, version, position > 0 AS has_position
  FROM es_append('order-1', 'OrderPlaced', '{"total": 10}', expected_version => 0);
-- exact expected version
SELECT stream, version FROM es_append('order-1', 'OrderPaid', '{"amount": 10}', 1);
-- any version (NULL)
SELECT stream, version FROM es_append('order-1', 'OrderShipped');
-- must exist (-1)
SELECT stream, version FROM es_append('order-1', 'OrderClosed', NULL, -1);
SELECT es_stream_version('order-1'), es_stream_version('order-404');

-- conflicts: SQLSTATE ES001; the message names the stream, the detail both versions
SELECT try_detail($$SELECT es_append('order-1', 'X', '{}', 2)$$);
SELECT try_detail($$SELECT es_append('order-1', 'X', '{}', 0)$$);
SELECT try_detail($$SELECT es_append('order-2', 'X', '{}', -1)$$);
SELECT try_detail($$SELECT es_append('order-2', 'X', '{}', 5)$$);
\set VERBOSITY default
SELECT es_append('order-1', 'X', '{}', 3);
SELECT es_stream_version('order-1');  -- unchanged: 4

-- binary payload and metadata
SELECT stream, version FROM es_append('blob-1', 'Proto', data_bin => '\x0a0b0c'::bytea,
    metadata => '{"correlation_id": "c-1"}', expected_version => 0);
SELECT type, data, data_bin, metadata FROM es_load('blob-1');

-- a batch to one stream (JSON form), versions are dense
SELECT stream, version FROM es_append('{"stream": "cart-7", "expected_version": 0, "events": [
    {"type": "ItemAdded", "data": {"sku": "a"}},
    {"type": "ItemAdded", "data": {"sku": "b"}, "metadata": {"user": "u1"}},
    {"type": "Note", "data_bin": "\\x00ff"}]}');
SELECT version, type, data, data_bin, metadata FROM es_load('cart-7');

-- positions are increasing in the caller's order
SELECT bool_and(p2 > p1) AS increasing FROM (
    SELECT position AS p2, lag(position) OVER (ORDER BY version) AS p1
    FROM es_load('cart-7')) s WHERE p1 IS NOT NULL;

-- several streams at once: all or nothing
SELECT stream, version FROM es_append('[
    {"stream": "account-1", "expected_version": "no_stream", "events": [{"type": "Opened", "data": {"balance": 100}}]},
    {"stream": "account-2", "expected_version": 0, "events": [{"type": "Opened", "data": {"balance": 0}}]}]');
SELECT stream, version FROM es_append('[
    {"stream": "account-2", "expected_version": 1, "events": [{"type": "Credited", "data": {"amount": 30}}]},
    {"stream": "account-1", "expected_version": 1, "events": [{"type": "Debited", "data": {"amount": 30}}]}]');
-- one stale stream fails the whole call
SELECT try_detail($$SELECT es_append('[
    {"stream": "account-1", "expected_version": 2, "events": [{"type": "Debited", "data": {"amount": 5}}]},
    {"stream": "account-2", "expected_version": 1, "events": [{"type": "Credited", "data": {"amount": 5}}]}]')$$);
SELECT es_stream_version('account-1') AS a1, es_stream_version('account-2') AS a2;

-- several calls in one transaction commit or roll back together
BEGIN;
SELECT version FROM es_append('tx-1', 'A', '{}', 0);
SELECT version FROM es_append('tx-1', 'B', '{}', 1);
ROLLBACK;
SELECT es_stream_version('tx-1');
BEGIN;
SELECT version FROM es_append('tx-1', 'A', '{}', 0);
SELECT version FROM es_append('tx-1', 'B', '{}', 1);
COMMIT;
SELECT version, type FROM es_load('tx-1');

-- a subtransaction rollback undoes its appends only
BEGIN;
SELECT version FROM es_append('sub-1', 'A', '{}', 0);
SAVEPOINT s;
SELECT version FROM es_append('sub-1', 'B', '{}', 1);
ROLLBACK TO SAVEPOINT s;
SELECT version FROM es_append('sub-1', 'C', '{}', 1);
COMMIT;
SELECT version, type FROM es_load('sub-1');

-- idempotent retries by event id
SELECT version FROM es_append('pay-1', 'Paid', '{"n": 1}', 0, event_id => '11111111-1111-1111-1111-111111111111');
SELECT version FROM es_append('pay-1', 'Paid', '{"n": 1}', 0, event_id => '11111111-1111-1111-1111-111111111111');
SELECT count(*) FROM es_load('pay-1');
-- the same id for a different event: ES002
SELECT try($$SELECT es_append('pay-1', 'Paid', '{"n": 2}', 1, event_id => '11111111-1111-1111-1111-111111111111')$$);
SELECT try($$SELECT es_append('pay-2', 'Paid', '{"n": 1}', 0, event_id => '11111111-1111-1111-1111-111111111111')$$);
-- a batch retry
SELECT version FROM es_append('{"stream": "pay-3", "expected_version": 0, "events": [
    {"type": "A", "id": "22222222-2222-2222-2222-222222222221"},
    {"type": "B", "id": "22222222-2222-2222-2222-222222222222"}]}');
SELECT version FROM es_append('{"stream": "pay-3", "expected_version": 0, "events": [
    {"type": "A", "id": "22222222-2222-2222-2222-222222222221"},
    {"type": "B", "id": "22222222-2222-2222-2222-222222222222"}]}');
-- part of a batch already stored: ES002
SELECT try($$SELECT es_append('{"stream": "pay-3", "events": [
    {"type": "B", "id": "22222222-2222-2222-2222-222222222222"},
    {"type": "C", "id": "22222222-2222-2222-2222-222222222223"}]}')$$);
SELECT count(*) FROM es_load('pay-3');
-- generated ids are UUID version 7 and unique
SELECT count(DISTINCT event_id) = count(*) AS unique_ids,
       bool_and(substr(event_id::text, 15, 1) = '7') AS v7
  FROM eventstore.events WHERE stream = 'order-1';

-- categories
SELECT DISTINCT stream, category FROM eventstore.events
 WHERE stream IN ('order-1', 'account-2', 'blob-1') ORDER BY 1;
SELECT a.version, e.category FROM es_append('nodash', 'T') a JOIN eventstore.events e USING (event_id);

-- symbolic expected versions (KurrentDB's names), single-event and JSON forms
SELECT version FROM es_append('sym-1', 'A', NULL, es_expected_version('no_stream'));
SELECT version FROM es_append('sym-1', 'B', NULL, es_expected_version('stream_exists'));
SELECT version FROM es_append('sym-1', 'C', NULL, es_expected_version('any'));
SELECT version FROM es_append('sym-1', 'D', NULL, es_expected_version('3'));
SELECT try_detail($$SELECT es_append('sym-1', 'E', NULL, es_expected_version('no_stream'))$$);
SELECT try_detail($$SELECT es_append('sym-2', 'E', NULL, es_expected_version('stream_exists'))$$);
SELECT stream, version FROM es_append('[
    {"stream": "sym-1", "expected_version": "stream_exists", "events": [{"type": "F"}]},
    {"stream": "sym-2", "expected_version": "no_stream", "events": [{"type": "A"}]},
    {"stream": "sym-3", "expected_version": "any", "events": [{"type": "A"}]}]');
-- -1 keeps the meaning 1.0 gave it: the stream must exist
SELECT version FROM es_append('sym-2', 'B', NULL, -1);
SELECT es_expected_version('any') IS NULL AS any_is_null, es_expected_version(NULL) IS NULL AS null_is_any,
       es_expected_version('no_stream') AS no_stream, es_expected_version('stream_exists') AS stream_exists,
       es_expected_version('exists') AS exists_alias, es_expected_version('-1') AS minus_one,
       es_expected_version('42') AS exact;
