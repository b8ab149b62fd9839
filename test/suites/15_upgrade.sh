#!/usr/bin/env bash
# Upgrades (SPEC guarantee 9; docs/releasing.md), on a cluster of its own, for
# every released version V (each frozen eventstore--V.sql):
#  1. the new library with V's SQL still installed serves every function of V
#     (test/upgrade/sql/api_V.sql: the window between `make install` and
#     ALTER EXTENSION UPDATE that every production upgrade has);
#  2. ALTER EXTENSION eventstore UPDATE reaches the head version and keeps every
#     event, snapshot and checkpoint V wrote, byte for byte;
#  3. the whole regression suite (test/regress/sql/) passes against that upgraded database,
#     and V's rows are still intact afterwards;
#  4. V + UPDATE gives the same schema as a fresh install of the head version
#     (pg_dump --binary-upgrade --schema-only: every member object with its
#     definition, privileges and comment);
#  5. the DDL guard holds on the upgraded store.
# Also: a fresh store records no table additions (the list of the store's own
# objects in es_current_table_additions is complete).
cd "$(dirname "$0")/../.."
. test/lib/cluster.sh
set -u
fails=0
ok()     { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; fails=$((fails + 1)); }
check() {  # check NAME ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got [$2], expected [$3]"; fi
}
psql_q() { local db=$1; shift; "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }
sqlstate() { "$PGBIN/psql" -X -q -At -d "$1" -v VERBOSITY=sqlstate -c "$2" 2>&1 | sed -nE 's/^ERROR: +([0-9A-Z]{5}).*/\1/p'; }
new_db() { psql_q postgres -c "DROP DATABASE IF EXISTS \"$1\"" -c "CREATE DATABASE \"$1\""; }

head=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" eventstore.control)
released=$(ls eventstore--*.sql | grep -v -- '--.*--' | sed -E 's/eventstore--(.*)\.sql/\1/' | grep -vx "$head")
[ -n "$released" ] || { echo "no released version to upgrade from"; exit 1; }

es_start_cluster upgrade "shared_preload_libraries = 'eventstore'" || exit 1
trap 'es_stop_cluster upgrade' EXIT
out=$TMP_CHECK/upgrade_out
rm -rf "$out"; mkdir -p "$out"
[ "$(id -u)" = 0 ] && chown postgres "$out"

# 1.0's columns of events (1.1 adds occurred_at, NULL in every old row).
EVENT_COLUMNS_1_0="position, stream, version, event_id, type, category, data, data_bin, metadata, created_at"
# Every row of the store's tables, in a fixed order, as one checksum.
store_rows() {
    psql_q "$1" \
        -c "COPY (SELECT $EVENT_COLUMNS_1_0 FROM eventstore.events ORDER BY position) TO STDOUT" \
        -c "COPY (SELECT * FROM eventstore.snapshots ORDER BY stream, kind) TO STDOUT" \
        -c "COPY (SELECT * FROM eventstore.checkpoints ORDER BY handler, stream) TO STDOUT" | md5sum
}
# The same rows, but only those V wrote (the regression suite adds its own).
old_rows() {
    psql_q "$1" \
        -c "COPY (SELECT $EVENT_COLUMNS_1_0 FROM eventstore.events WHERE position <= $2 ORDER BY position) TO STDOUT" \
        -c "COPY (SELECT * FROM eventstore.snapshots WHERE stream LIKE 'v10%' ORDER BY stream, kind) TO STDOUT" \
        -c "COPY (SELECT * FROM eventstore.checkpoints WHERE handler LIKE 'v10-%' ORDER BY handler, stream) TO STDOUT" | md5sum
}
# The schema of the extension's objects, without OIDs, xids and LSNs: from
# the catalogs (test/upgrade/schema_fingerprint.sql), and from pg_dump where
# the server's tree has one (15; the trees of 17 and 18 have none, and 15's
# pg_dump refuses a later server).
schema_of() {
    psql_q "$1" -f test/upgrade/schema_fingerprint.sql || echo "the catalog query failed"
    if [ -x "$PGBIN/pg_dump" ]; then
        "$PGBIN/pg_dump" --schema-only --binary-upgrade -d "$1" |
            grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict' -e 'binary_upgrade_set_next' |
            sed -E "s/'[0-9]+'/'N'/g; s/\{[0-9,]+\}/{N}/g"
    fi
}

new_db es_fresh && psql_q es_fresh -c "CREATE EXTENSION eventstore" || exit 1
check "a fresh install is at the head version $head" \
    "$(psql_q es_fresh -c "SELECT extversion FROM pg_extension WHERE extname = 'eventstore'")" "$head"
check "a fresh store records no table additions" \
    "$(psql_q es_fresh -c "SELECT count(*) FROM eventstore.es_current_table_additions()")" 0
schema_of es_fresh >"$out/fresh.schema"
# An empty schema would make every comparison below pass.
check "the schema of a fresh install is read from the catalogs" \
    "$(grep -c '^relation eventstore\.events ' "$out/fresh.schema") $(grep -c '^the catalog query failed' "$out/fresh.schema")" "1 0"

for v in $released; do
    db=es_up_${v//./_}
    # 1. The new library with V's SQL.
    new_db "$db" && psql_q "$db" -c "CREATE EXTENSION eventstore VERSION '$v'" || exit 1
    check "$v: installed from its frozen script" \
        "$(psql_q "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'eventstore'")" "$v"
    if [ -f "test/upgrade/sql/api_$v.sql" ]; then
        if "$PG_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
            --inputdir=test/upgrade --outputdir="$out" --use-existing --dbname="$db" "api_$v" >"$out/api.log" 2>&1
        then ok "$v: every function of $v's SQL works with the new library"
        else not_ok "$v: functions of $v's SQL with the new library"; cat "$out/api.log"; head -60 "$out/regression.diffs"; fi
    else
        not_ok "$v: test/upgrade/sql/api_$v.sql is missing"
    fi
    # Roles granted V's way (issue 11: they keep what they could do); one pair
    # per version, since a role that holds rights in another database cannot be dropped.
    psql_q "$db" -c "DROP ROLE IF EXISTS es_up_writer_${v//./_}" -c "DROP ROLE IF EXISTS es_up_reader_${v//./_}" \
        -c "CREATE ROLE es_up_writer_${v//./_} LOGIN" -c "CREATE ROLE es_up_reader_${v//./_} LOGIN" \
        -c "SELECT eventstore.es_grant_writer('es_up_writer_${v//./_}'), eventstore.es_grant_reader('es_up_reader_${v//./_}')" >/dev/null
    before=$(store_rows "$db")
    old_max=$(psql_q "$db" -c "SELECT max(position) FROM eventstore.events")

    # 2. The update keeps everything.
    psql_q "$db" -c "ALTER EXTENSION eventstore UPDATE" || not_ok "$v: ALTER EXTENSION UPDATE failed"
    check "$v: updated to $head" \
        "$(psql_q "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'eventstore'")" "$head"
    check "$v: every event, snapshot and checkpoint intact after the update" "$(store_rows "$db")" "$before"
    check "$v: versions continue after the update" \
        "$(psql_q "$db" -c "SELECT version FROM eventstore.es_append('v10order-1', 'Reopened', expected_version => 4)")" 5
    check "$v: a writer granted $v's way still advances any handler and saves any snapshot" \
        "$(psql_q "$db" -U es_up_writer_${v//./_} -c "SELECT advanced FROM eventstore.es_advance_position('v10-up-any', 1)" \
            -c "SELECT saved FROM eventstore.es_snapshot('v10order-1', 1, '{}', 'up-check')")" "$(printf 't\nt')"
    check "$v: a reader granted $v's way reads feed_holders" \
        "$(psql_q "$db" -U es_up_reader_${v//./_} -c "SELECT count(*) >= 0 FROM eventstore.feed_holders")" t
    psql_q "$db" -c "DELETE FROM eventstore.checkpoints WHERE handler = 'v10-up-any'" \
        -c "DELETE FROM eventstore.snapshots WHERE kind = 'up-check'" 2>/dev/null
    check "$v: the DDL guard holds on the upgraded store" \
        "$(sqlstate "$db" "DROP EXTENSION eventstore CASCADE")" ES005
    check "$v: a role granted under $v can use the read functions the update added" \
        "$(psql_q "$db" -c "SELECT bool_and(has_function_privilege('v10_writer', p.oid, 'EXECUTE'))
                            FROM pg_proc p WHERE p.pronamespace = 'eventstore'::regnamespace
                              AND p.proname IN ('es_load_feed', 'es_load_event', 'es_streams', 'es_stream_info')")" t
    old_after=$(old_rows "$db" "$old_max")

    # 3. The whole regression suite against the upgraded database.
    tests=$(make -s print-regress)
    if "$PG_REGRESS" --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
        --inputdir=test/regress --outputdir="$out" --use-existing --dbname="$db" $tests >"$out/regress.log" 2>&1
    then ok "$v: the regression suite passes on the upgraded database"
    else not_ok "$v: the regression suite on the upgraded database"; tail -20 "$out/regress.log"; head -80 "$out/regression.diffs"; fi
    check "$v: the rows $v wrote are intact after the regression suite" "$(old_rows "$db" "$old_max")" "$old_after"

    # 4. Same schema as a fresh install.
    new_db "${db}_empty" && psql_q "${db}_empty" -c "CREATE EXTENSION eventstore VERSION '$v'" \
        -c "ALTER EXTENSION eventstore UPDATE" || exit 1
    schema_of "${db}_empty" >"$out/$v.schema"
    if diff -u "$out/fresh.schema" "$out/$v.schema" >"$out/$v.schema.diff"; then
        ok "$v + UPDATE has the schema of a fresh $head install"
    else
        not_ok "$v + UPDATE differs from a fresh $head install"; head -60 "$out/$v.schema.diff"
    fi
    check "$v: an empty upgraded store can be dropped" \
        "$(psql_q "${db}_empty" -c "DROP EXTENSION eventstore" -c "SELECT count(*) FROM pg_extension WHERE extname = 'eventstore'")" 0
done
[ "$fails" = 0 ]
