#!/usr/bin/env bash
# Importing a home-made events table (docs/examples/import_history.sql, run
# as it is): versions, times, ids and the legacy order are kept, appends
# continue the versions with positions above the imported ones, the feed
# shows every imported event once; broken legacy data (a version gap, a
# stream that already exists, a name or type against the store's rules)
# imports nothing.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
DB=es_import
PSQL="$PGBIN/psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"
fails=0
check() {  # check NAME GOT EXPECTED
    if [ "$2" = "$3" ]; then echo "ok - $1"
    else echo "not ok - $1: got [$2], expected [$3]"; fails=$((fails + 1)); fi
}

es_new_db $DB 2>/dev/null || exit 1
$PSQL >/dev/null <<'SQL' || exit 1
SELECT count(*) FROM eventstore.es_append('live-1', 'Started', '{}', 0);
-- A deleted stream holds the highest position, and a tombstoned name is not free.
SELECT count(*) FROM eventstore.es_append('gone-1', 'Started', '{}', 0);
SELECT count(*) FROM eventstore.es_append('gone-2', 'Started', '{}', 0);
SELECT eventstore.es_tombstone_stream('gone-1');
SELECT eventstore.es_delete_stream('gone-2');
CREATE TABLE legacy_events (seq bigint, aggregate_type text, aggregate_id text, version integer,
                            event_type text, payload jsonb, meta jsonb, occurred_at timestamptz, id uuid);
INSERT INTO legacy_events VALUES
 (10, 'order', '1', 1, 'OrderPlaced', '{"total": 5}', '{"user": "u1"}', '2019-03-01 10:00:00+00', 'a0000000-0000-4000-8000-000000000001'),
 (11, 'cart',  '7', 1, 'ItemAdded',   '{"sku": "a"}', NULL,             '2019-03-01 10:00:01+00', NULL),
 (12, 'order', '1', 2, 'OrderPaid',   '{"amount": 5}', NULL,            '2019-03-02 09:30:00+00', NULL),
 (20, 'order', '2', 1, 'OrderPlaced', '{"total": 7}', NULL,             '2019-04-01 08:00:00+00', NULL),
 (21, 'cart',  '7', 2, 'ItemAdded',   '{"sku": "b"}', NULL,             '2019-04-01 08:00:05+00', NULL),
 (30, 'order', '1', 3, 'OrderShipped', NULL,          NULL,             '2019-05-01 12:00:00+00', NULL);
SQL
head=$($PSQL -c "SELECT max(position) FROM eventstore.es_append('gone-3', 'T')")
$PSQL -c "SELECT eventstore.es_delete_stream('gone-3')" >/dev/null
$PSQL -f docs/examples/import_history.sql >/dev/null || { echo "not ok - the import failed"; exit 1; }

check "versions and times of a stream are kept" \
    "$($PSQL -c "SELECT string_agg(version || '@' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), ' ' ORDER BY version) FROM eventstore.es_load('order-1')")" \
    "1@2019-03-01 10:00 2@2019-03-02 09:30 3@2019-05-01 12:00"
check "a given id is kept, metadata too" \
    "$($PSQL -c "SELECT event_id || ' ' || metadata::text FROM eventstore.es_load('order-1', max_count => 1)")" \
    'a0000000-0000-4000-8000-000000000001 {"user": "u1"}'
check "the feed shows the imported events once, in legacy order, after the store's own" \
    "$($PSQL -c "SELECT string_agg(stream || '/' || version, ' ' ORDER BY position) FROM eventstore.es_load(after_position => 0)")" \
    "live-1/1 order-1/1 cart-7/1 order-1/2 order-2/1 cart-7/2 order-1/3"
check "positions follow the store's highest one (a deleted event's), without gaps" \
    "$($PSQL -c "SELECT min(position) - $head || '-' || max(position) - $head FROM eventstore.events WHERE stream NOT IN ('live-1', 'gone-1', 'gone-2', 'gone-3')")" \
    "1-6"
check "categories are set as es_append sets them" \
    "$($PSQL -c "SELECT string_agg(DISTINCT category, ' ') FROM eventstore.events")" \
    "cart live order"
check "appends continue the versions, above the imported positions" \
    "$($PSQL -c "SELECT version || ' ' || (position > $head + 6) FROM eventstore.es_append('order-1', 'OrderClosed', NULL, 3)")" \
    "4 true"
check "an imported stream exists for the expected-version rules" \
    "$($PSQL -c "SELECT count(*) FROM eventstore.es_append('cart-7', 'X', NULL, eventstore.es_expected_version('no_stream'))" 2>&1 | grep -o 'wrong expected version' )" \
    "wrong expected version"

# Broken legacy data: nothing is imported.
refused() {  # refused NAME ROWS MESSAGE: the import of ROWS fails with MESSAGE
    $PSQL -c "TRUNCATE legacy_events" -c "INSERT INTO legacy_events VALUES $2"
    check "$1" "$($PSQL -f docs/examples/import_history.sql 2>&1 | grep -oF "$3")" "$3"
}
count_before=$($PSQL -c "SELECT count(*) FROM eventstore.events")
refused "a version gap is refused" \
    "(1, 'invoice', '1', 1, 'Issued', '{}', NULL, now(), NULL), (2, 'invoice', '1', 3, 'Paid', '{}', NULL, now(), NULL)" \
    'stream "invoice-1" does not have dense versions from 1'
refused "a stream that already exists is refused" \
    "(1, 'invoice', '2', 1, 'Issued', '{}', NULL, now(), NULL), (2, 'order', '2', 1, 'Placed', '{}', NULL, now(), NULL)" \
    'stream "order-2" already exists in the store'
refused "a tombstoned stream name is refused" \
    "(1, 'gone', '1', 1, 'Started', '{}', NULL, now(), NULL)" \
    'stream "gone-1" already exists in the store (tombstoned)'
refused "a soft-deleted stream is refused" \
    "(1, 'gone', '2', 1, 'Started', '{}', NULL, now(), NULL)" \
    'stream "gone-2" already exists in the store (deleted)'
refused "a stream name against the store's rules is refused" \
    "(1, 'invoice', E'3\\t', 1, 'Issued', '{}', NULL, now(), NULL)" \
    'stream name must not contain control characters'
refused "an event type against the store's rules is refused" \
    "(1, 'invoice', '4', 1, ' Issued', '{}', NULL, now(), NULL)" \
    'event type must not begin or end with white space'
check "a refused import writes nothing" "$($PSQL -c "SELECT count(*) FROM eventstore.events")" "$count_before"
[ "$fails" = 0 ]
