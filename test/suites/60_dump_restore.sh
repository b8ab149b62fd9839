#!/usr/bin/env bash
# pg_dump -Fc / pg_restore of a database with eventstore (SPEC guarantee 8):
# every event comes back identical, es_load works, and the restored store
# goes on: versions continue, expected versions are checked, new positions
# are above every restored one, the immutability triggers still fire.
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
set -u

src=es_dump_src; dst=es_dump_dst
dump=$TMP_CHECK/es_dump.custom
fails=0
psql_q() { local db=$1; shift; "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }
check() {  # check NAME ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then echo "ok - $1"
    else echo "not ok - $1: got [$2], expected [$3]"; fails=$((fails + 1)); fi
}

es_new_db "$src" || exit 1
psql_q "$src" <<'SQL' >/dev/null || { echo "could not fill the source database"; exit 1; }
SET search_path = eventstore, public;
SELECT es_append('order-1', 'OrderPlaced', '{"total": 10, "items": ["a", "b"]}', 0,
                 '{"correlation_id": "c-1"}');
SELECT es_append('order-1', 'OrderPaid', '{"amount": 10}', 1);
SELECT es_append('blob-1', 'Proto', data_bin => '\x000102ff'::bytea, expected_version => 0);
SELECT es_append('blob-1', 'Proto', data_bin => pg_catalog.decode(repeat('00ff', 5000), 'hex'));
SELECT es_append('empty-1', 'Ping');
SELECT es_append('{"stream": "cart-7", "expected_version": 0, "events": [
    {"type": "ItemAdded", "data": {"sku": "a"}},
    {"type": "ItemAdded", "data": {"sku": "b"}, "metadata": {"user": "u1"}},
    {"type": "Note", "data_bin": "\\x00ff"}]}');
SELECT es_append('[
    {"stream": "account-1", "expected_version": 0, "events": [{"type": "Opened", "data": {"balance": 100}}]},
    {"stream": "account-2", "expected_version": 0, "events": [{"type": "Opened", "data": {"balance": 0}}]}]');
SELECT es_append('[
    {"stream": "account-1", "expected_version": 1, "events": [{"type": "Debited", "data": {"amount": 30}}]},
    {"stream": "account-2", "expected_version": 1, "events": [{"type": "Credited", "data": {"amount": 30}}]}]');
-- an aborted append leaves a gap in the positions; the restore keeps it
BEGIN;
SELECT es_append('gap-1', 'Lost', '{}');
ROLLBACK;
SELECT es_append('stream-many', 'Tick', pg_catalog.jsonb_build_object('i', i)) FROM generate_series(1, 50) i;
SQL

# An ordered dump of every column of every event, as text.
rows_sql="COPY (SELECT position, stream, version, event_id, type, category, data, data_bin, metadata, created_at
           FROM eventstore.events ORDER BY position) TO STDOUT"
src_rows=$(psql_q "$src" -c "$rows_sql" | md5sum)
src_count=$(psql_q "$src" -c "SELECT count(*) FROM eventstore.events")
src_max=$(psql_q "$src" -c "SELECT max(position) FROM eventstore.events")

"$PGBIN/pg_dump" -Fc -d "$src" -f "$dump" || { echo "pg_dump failed"; exit 1; }
# The dump must carry the events' rows (pg_extension_config_dump) and must
# not recreate the extension's own objects (they come from CREATE EXTENSION).
toc=$("$PGBIN/pg_restore" -l "$dump")
check "dump has CREATE EXTENSION" "$(echo "$toc" | grep -c 'EXTENSION - eventstore')" 1
check "dump has the events' data" "$(echo "$toc" | grep -c 'TABLE DATA eventstore events')" 1
check "dump does not recreate the triggers" "$(echo "$toc" | grep -c ' TRIGGER ')" 0

"$PGBIN/psql" -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $dst" -c "CREATE DATABASE $dst" >/dev/null
"$PGBIN/pg_restore" --exit-on-error -d "$dst" "$dump" || { echo "pg_restore failed"; exit 1; }

check "same number of events" "$(psql_q "$dst" -c "SELECT count(*) FROM eventstore.events")" "$src_count"
check "every event identical (md5 of ordered rows)" "$(psql_q "$dst" -c "$rows_sql" | md5sum)" "$src_rows"
check "es_load returns the restored stream" \
    "$(psql_q "$dst" -c "SELECT string_agg(version || ':' || type || ':' || coalesce(data::text, encode(data_bin, 'hex'), ''), ',' ORDER BY version) FROM eventstore.es_load('cart-7')")" \
    '1:ItemAdded:{"sku": "a"},2:ItemAdded:{"sku": "b"},3:Note:00ff'
check "es_load backward" \
    "$(psql_q "$dst" -c "SELECT string_agg(version::text, ',') FROM eventstore.es_load('stream-many', NULL, 3, true)")" '50,49,48'
check "binary payload byte-exact" \
    "$(psql_q "$dst" -c "SELECT md5(data_bin) FROM eventstore.es_load('blob-1', 2, 1)")" \
    "$(psql_q "$src" -c "SELECT md5(data_bin) FROM eventstore.es_load('blob-1', 2, 1)")"
check "stream version restored" "$(psql_q "$dst" -c "SELECT eventstore.es_stream_version('account-1')")" 2
check "extension registered at the same version" \
    "$(psql_q "$dst" -c "SELECT extversion FROM pg_extension WHERE extname = 'eventstore'")" \
    "$(psql_q "$src" -c "SELECT extversion FROM pg_extension WHERE extname = 'eventstore'")"

# The restored store goes on.  A fresh session first, then one that had
# already read the feed state before more rows arrived (the counter is per
# database and must have been rebuilt from the restored rows).
out=$(psql_q "$dst" -c "SELECT version || ' ' || position FROM eventstore.es_append('order-1', 'OrderShipped', '{}', 2)")
check "next version after restore is old version + 1" "${out% *}" 3
[ "${out#* }" -gt "$src_max" ] && echo "ok - new position ${out#* } > restored max $src_max" ||
    { echo "not ok - new position ${out#* } not above restored max $src_max"; fails=$((fails + 1)); }
out=$(psql_q "$dst" -c "SELECT min(position) FROM eventstore.es_append('[
    {\"stream\": \"account-1\", \"expected_version\": 2, \"events\": [{\"type\": \"Debited\", \"data\": {\"amount\": 5}}]},
    {\"stream\": \"account-2\", \"expected_version\": 2, \"events\": [{\"type\": \"Credited\", \"data\": {\"amount\": 5}}]}]')")
[ "$out" -gt "$src_max" ] && echo "ok - multi-stream append after restore above restored max" ||
    { echo "not ok - multi-stream position $out"; fails=$((fails + 1)); }
check "positions stay unique and ordered by version in each stream" \
    "$(psql_q "$dst" -c "SELECT count(*) FROM (SELECT stream, version, position, lag(position) OVER (PARTITION BY stream ORDER BY version) AS p FROM eventstore.events) s WHERE p >= position")" 0
check "new stream after restore" "$(psql_q "$dst" -c "SELECT version FROM eventstore.es_append('order-2', 'OrderPlaced', '{}', 0)")" 1

# Expected-version checks and idempotency against restored rows.
sqlstate() { "$PGBIN/psql" -X -q -At -d "$1" -v VERBOSITY=sqlstate -c "$2" 2>&1 | sed -nE 's/^ERROR: +([0-9A-Z]{5}).*/\1/p'; }
check "stale expected version is ES001" "$(sqlstate "$dst" "SELECT eventstore.es_append('order-1', 'X', '{}', 2)")" ES001
check "expected no_stream on restored stream is ES001" "$(sqlstate "$dst" "SELECT eventstore.es_append('cart-7', 'X', '{}', 0)")" ES001
restored_id=$(psql_q "$dst" -c "SELECT event_id FROM eventstore.es_load('order-1', 1, 1)")
check "reusing a restored event id elsewhere is ES002" \
    "$(sqlstate "$dst" "SELECT eventstore.es_append('order-9', 'X', '{}', event_id => '$restored_id')")" ES002
check "retrying a restored event is idempotent" \
    "$(psql_q "$dst" -c "SELECT version FROM eventstore.es_append('order-1', 'OrderPlaced', '{\"total\": 10, \"items\": [\"a\", \"b\"]}', 0, '{\"correlation_id\": \"c-1\"}', '$restored_id')")" 1

# Immutability survives the restore.
check "UPDATE refused after restore" "$(sqlstate "$dst" "UPDATE eventstore.events SET type = 'x'")" ES003
check "DELETE refused after restore" "$(sqlstate "$dst" "DELETE FROM eventstore.events")" ES003
check "TRUNCATE refused after restore" "$(sqlstate "$dst" "TRUNCATE eventstore.events")" ES003
check "restored rows untouched" \
    "$(psql_q "$dst" -c "$rows_sql" | head -n "$src_count" | md5sum)" "$src_rows"

# A data-only restore into a fresh install: the shared position counter of
# that database is already cached (a rolled-back append took position 1),
# so only the BEFORE INSERT trigger (es_note_insert) makes the next append
# reread max(position) instead of handing out a position the restore used.
"$PGBIN/psql" -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ${dst}2" -c "CREATE DATABASE ${dst}2" >/dev/null
psql_q "${dst}2" -c "CREATE EXTENSION eventstore" >/dev/null 2>&1
psql_q "${dst}2" -c "BEGIN" -c "SELECT eventstore.es_append('pre-1', 'X', '{}')" -c "ROLLBACK" >/dev/null
"$PGBIN/pg_restore" --exit-on-error --data-only -d "${dst}2" "$dump" || { echo "not ok - data-only restore"; fails=$((fails + 1)); }
check "data-only restore: every event identical" "$(psql_q "${dst}2" -c "$rows_sql" | md5sum)" "$src_rows"
out=$(psql_q "${dst}2" -c "SELECT position FROM eventstore.es_append('order-1', 'OrderShipped', '{}', 2)")
[ -n "$out" ] && [ "$out" -gt "$src_max" ] && echo "ok - data-only restore: new position $out > $src_max" ||
    { echo "not ok - data-only restore: new position [$out] not above $src_max"; fails=$((fails + 1)); }

"$PGBIN/psql" -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS ${dst}2" >/dev/null
rm -f "$dump"
[ "$fails" = 0 ]
