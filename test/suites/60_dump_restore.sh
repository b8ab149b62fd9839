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
-- tags and their index (docs/dcb.md)
SELECT es_append('course-1', 'CourseDefined', '{"seats": 2}', tags => ARRAY['course:1']);
SELECT es_append_if('{"events": [{"type": "Subscribed", "tags": ["course:1", "student:1"]}]}',
                    '{"items": [{"types": ["Subscribed"], "tags": ["course:1"]}]}');
-- handler and category grants (issue 11) are the store's data too
DO $$ BEGIN CREATE ROLE es_dump_svc; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SELECT es_grant_handler('es_dump_svc', 'svc.'), es_grant_category('es_dump_svc', 'order');
SQL

# Lifecycle state (docs/lifecycle.md): a soft-deleted stream (its events
# kept aside), a tombstone, an erasure, and their audit trail.
psql_q "$src" <<'SQL' >/dev/null || { echo "could not add lifecycle state"; exit 1; }
SET search_path = eventstore, public;
SELECT es_append('life-soft', 'A', '{"n": 1}');
SELECT es_append('life-soft', 'B', '{"n": 2}');
SELECT es_delete_stream('life-soft', 2, 'dump test');
SELECT es_append('life-hard', 'A', '{}');
SELECT es_tombstone_stream('life-hard');
SELECT es_append('life-person', 'A', '{"email": "x@example.org"}');
SELECT es_erase_stream('life-person', 'erasure request');
SELECT es_append('life-kept', 'A', pg_catalog.jsonb_build_object('i', i)) FROM generate_series(1, 5) i;
SELECT es_set_retention('life-kept', truncate_before => 2, max_count => 3, max_age => '30 days');
-- A managed subscription with events leased, waiting and parked (docs/subscriptions.md).
SELECT es_create_subscription('dump_sub', category => 'dsub', strategy => 'pinned');
SELECT count(*) FROM generate_series(1, 3) g, es_append('dsub-1', 'Step', pg_catalog.jsonb_build_object('g', g));
SELECT count(*) FROM es_append('dsub-2', 'Step', '{}');
SELECT count(*) FROM es_fetch('dump_sub', 'c1', 10);
SELECT es_nack('dump_sub', 'c1', ARRAY(SELECT position FROM eventstore.subscription_events WHERE subscription = 'dump_sub' AND stream = 'dsub-2'), 'park', 'kept');
SQL
life_sql="SELECT concat_ws(E'\n',
    (SELECT string_agg(concat_ws('|', stream, last_version, deleted_at, tombstoned_at, truncate_before, max_count, max_age, updated_at), ',' ORDER BY stream) FROM eventstore.stream_state),
    (SELECT string_agg(concat_ws('|', position, stream, version, event_id, type, data, created_at, deleted_at), ',' ORDER BY stream, version) FROM eventstore.deleted_events),
    (SELECT string_agg(concat_ws('|', logged_at, action, stream, handler, kind, detail, reason, session_role, calling_role), ',' ORDER BY logged_at) FROM eventstore.lifecycle_log))"
src_life=$(psql_q "$src" -c "$life_sql")

# An ordered dump of every column of every event, as text.
rows_sql="COPY (SELECT position, stream, version, event_id, type, category, data, data_bin, metadata, created_at, tags
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
check "handler and category grants restored" \
    "$(psql_q "$dst" -c "SELECT string_agg(grantee || ':' || kind || ':' || name, ',' ORDER BY kind) FROM eventstore.grants")" \
    "es_dump_svc:category:order,es_dump_svc:handler:svc."
check "stream version restored" "$(psql_q "$dst" -c "SELECT eventstore.es_stream_version('account-1')")" 2
q1='{"items": [{"types": ["Subscribed"], "tags": ["course:1"]}]}'
check "reads by query find the restored tagged events" \
    "$(psql_q "$dst" -c "SELECT string_agg(type || ':' || array_to_string(tags, '+'), ',') FROM eventstore.es_load_query('$q1')")" \
    'Subscribed:course:1+student:1'
sub_sql="SELECT (SELECT string_agg(concat_ws('|', subscription, position, seq, stream, consumer, tries), ',' ORDER BY position) FROM eventstore.subscription_events)
          || ' / ' || (SELECT string_agg(concat_ws('|', subscription, position, reason), ',') FROM eventstore.subscription_parked)
          || ' / ' || (SELECT string_agg(concat_ws('|', name, strategy, cursor_position), ',') FROM eventstore.subscriptions)"
check "subscriptions, their pools and parked events restored" "$(psql_q "$dst" -c "$sub_sql")" "$(psql_q "$src" -c "$sub_sql")"
check "a restored pool's arrival order goes on (next_seq restored)" \
    "$(psql_q "$dst" -c "SELECT bool_and(s.next_seq > e.seq) FROM eventstore.subscriptions s JOIN eventstore.subscription_events e ON e.subscription = s.name")" "t"
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
check "a restored tagged event fails a condition on it (ES016)" \
    "$(sqlstate "$dst" "SELECT eventstore.es_append_if('{\"events\": [{\"type\": \"Subscribed\", \"tags\": [\"course:1\"]}]}', '$q1')")" ES016
check "stale expected version is ES001" "$(sqlstate "$dst" "SELECT eventstore.es_append('order-1', 'X', '{}', 2)")" ES001
check "expected no_stream on restored stream is ES001" "$(sqlstate "$dst" "SELECT eventstore.es_append('cart-7', 'X', '{}', 0)")" ES001
restored_id=$(psql_q "$dst" -c "SELECT event_id FROM eventstore.es_load('order-1', 1, 1)")
check "reusing a restored event id elsewhere is ES002" \
    "$(sqlstate "$dst" "SELECT eventstore.es_append('order-9', 'X', '{}', event_id => '$restored_id')")" ES002
check "retrying a restored event is idempotent" \
    "$(psql_q "$dst" -c "SELECT version FROM eventstore.es_append('order-1', 'OrderPlaced', '{\"total\": 10, \"items\": [\"a\", \"b\"]}', 0, '{\"correlation_id\": \"c-1\"}', '$restored_id')")" 1

# Tombstones, deleted events, retention settings and the audit trail survive.
check "lifecycle state and audit trail identical" "$(psql_q "$dst" -c "$life_sql")" "$src_life"
check "a restored tombstone refuses appends" "$(sqlstate "$dst" "SELECT eventstore.es_append('life-hard', 'X', '{}')")" ES006
check "a restored erasure refuses appends" "$(sqlstate "$dst" "SELECT eventstore.es_append('life-person', 'X', '{}', 0)")" ES006
check "a restored soft-deleted stream can be restored" \
    "$(psql_q "$dst" -c "SELECT eventstore.es_restore_stream('life-soft')" -c "SELECT string_agg(type, ',' ORDER BY version) FROM eventstore.es_load('life-soft')")" "2
A,B"

# Immutability survives the restore.
check "UPDATE refused after restore" "$(sqlstate "$dst" "UPDATE eventstore.events SET type = 'x'")" ES003
check "DELETE refused after restore" "$(sqlstate "$dst" "DELETE FROM eventstore.events")" ES003
check "TRUNCATE refused after restore" "$(sqlstate "$dst" "TRUNCATE eventstore.events")" ES003
check "restored rows untouched" \
    "$(psql_q "$dst" -c "$rows_sql" | head -n "$src_count" | md5sum)" "$src_rows"

# (After the checks above: retention removes restored events.)
check "retention settings are restored and still enforced" \
    "$(psql_q "$dst" -c "SELECT eventstore.es_append('life-kept', 'B')" -c "SELECT count(*) FROM eventstore.es_apply_retention()" -c "SELECT string_agg(version::text, ',' ORDER BY version) FROM eventstore.es_load('life-kept')" | tail -1)" "4,5,6"

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

# What users add to the store's tables comes back (SPEC guarantee 11): a GIN
# index on data, a trigram index (an operator class outside pg_catalog,
# owned by a superuser), an expression index on metadata, a CHECK constraint, a row
# trigger (and one switched off), FOR TABLE publication memberships (one with
# a row filter), in the custom and in the plain format.  Restored triggers
# must not fire for restored events.
psql_q "$src" <<'SQL' >/dev/null 2>&1 || { echo "not ok - could not add objects to the store's tables"; fails=$((fails + 1)); }
CREATE TABLE public.trigger_log (position bigint);
CREATE FUNCTION public.log_event() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
    $$BEGIN INSERT INTO public.trigger_log VALUES (NEW.position); RETURN NEW; END$$;
CREATE INDEX events_data_gin ON eventstore.events USING gin (data);
CREATE EXTENSION pg_trgm;
CREATE INDEX events_type_trgm ON eventstore.events USING gin (type public.gin_trgm_ops);
CREATE INDEX events_correlation_idx ON eventstore.events ((metadata ->> 'correlation_id'));
ALTER TABLE eventstore.events ADD CONSTRAINT events_type_allowed CHECK (type <> 'Forbidden');
CREATE TRIGGER events_log AFTER INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION public.log_event();
CREATE TRIGGER events_log_off AFTER INSERT ON eventstore.events FOR EACH ROW EXECUTE FUNCTION public.log_event();
ALTER TABLE eventstore.events DISABLE TRIGGER events_log_off;
CREATE INDEX snapshots_kind_idx ON eventstore.snapshots (kind);
CREATE PUBLICATION es_cdc FOR TABLE eventstore.events;
CREATE PUBLICATION es_cdc_filtered FOR TABLE eventstore.events WHERE (type <> 'Tick'), eventstore.checkpoints;
CREATE PUBLICATION es_cdc_dropped FOR TABLE eventstore.events;
ALTER PUBLICATION es_cdc_dropped DROP TABLE eventstore.events;
SQL
additions_sql="SELECT string_agg(kind || ' ' || table_name || ' ' || name || ': ' || definition, E'\n' ORDER BY kind, table_name, name)
               FROM eventstore.es_current_table_additions()"
src_additions=$(psql_q "$src" -c "$additions_sql")
check "the source has 10 additions" "$(psql_q "$src" -c "SELECT count(*) FROM eventstore.es_current_table_additions()")" 10
check "all 10 are recorded" "$(psql_q "$src" -c "SELECT count(*) FROM eventstore.table_additions")" 10
"$PGBIN/pg_dump" -Fc -d "$src" -f "$dump" || { echo "pg_dump failed"; exit 1; }
for fmt in custom plain; do
    db=${dst}_$fmt
    "$PGBIN/psql" -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    if [ $fmt = custom ]; then
        "$PGBIN/pg_restore" --exit-on-error -d "$db" "$dump" 2>&1 | grep -v 'wal_level\|HINT'
    else
        "$PGBIN/pg_dump" -d "$src" | "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" 2>&1 >/dev/null | grep -v 'wal_level\|HINT'
    fi
    check "$fmt: every addition is back, as it was" "$(psql_q "$db" -c "$additions_sql")" "$src_additions"
    check "$fmt: every recorded addition is present (none pending or refused)" \
        "$(psql_q "$db" -c "SELECT string_agg(DISTINCT state, ',') FROM eventstore.table_additions")" present
    check "$fmt: every event identical" "$(psql_q "$db" -c "$rows_sql" | md5sum)" "$src_rows"
    check "$fmt: restored triggers did not fire for restored events" "$(psql_q "$db" -c "SELECT count(*) FROM public.trigger_log")" 0
    check "$fmt: the restored trigger fires for a new event" \
        "$(psql_q "$db" -c "SELECT count(*) FROM eventstore.es_append('order-77', 'X', '{}')" -c "SELECT count(*) FROM public.trigger_log")" "1
1"
    check "$fmt: the restored CHECK constraint refuses" "$(sqlstate "$db" "SELECT eventstore.es_append('order-78', 'Forbidden')")" 23514
    check "$fmt: publication memberships" \
        "$(psql_q "$db" -c "SELECT string_agg(pubname || ':' || tablename || ':' || coalesce(rowfilter, ''), ',' ORDER BY pubname, tablename) FROM pg_publication_tables WHERE schemaname = 'eventstore'")" \
        "es_cdc:events:,es_cdc_filtered:checkpoints:,es_cdc_filtered:events:(type <> 'Tick'::text)"
    check "$fmt: a GIN search uses the restored index" \
        "$(psql_q "$db" -c "SET enable_seqscan = off" -c "EXPLAIN (COSTS OFF) SELECT * FROM eventstore.events WHERE data @> '{\"sku\": \"a\"}'" | grep -c events_data_gin)" 1
    "$PGBIN/psql" -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE $db" >/dev/null 2>&1
done
# Dropping an addition forgets it; dropping a publication forgets its memberships.
psql_q "$src" -c "DROP INDEX eventstore.snapshots_kind_idx" -c "DROP PUBLICATION es_cdc_filtered" >/dev/null 2>&1
check "dropped additions are forgotten" \
    "$(psql_q "$src" -c "SELECT string_agg(kind || ':' || name, ',' ORDER BY kind, name) FROM eventstore.table_additions")" \
    "constraint:events_type_allowed,index:events_correlation_idx,index:events_data_gin,index:events_type_trgm,publication:es_cdc,trigger:events_log,trigger:events_log_off"
rm -f "$dump"
[ "$fails" = 0 ]
