#!/usr/bin/env bash
# Instruction profile of the single-event append path: bench/profile.sh [N]
# PROFILE_READS=1 bench/profile.sh 0 [R]: the read paths instead (read-stream
# and read-feed-page: R pages of 1,000 events, es_load against the plain
# SELECT).
#
# Runs N prepared single-event appends (append-single's scheme: streams of 100
# events, exact expected version, one transaction each) in a single-user
# backend under valgrind --tool=callgrind, for es_append, the plain INSERT
# floor and the PL/pgSQL baseline, and prints instructions per append
# (the difference between a run of N + 200 and a run of 200 appends, so
# start-up and the first calls' catalog loading drop out) and where
# es_append's instructions go.  Instruction counts do not depend on how busy
# the machine is, unlike pgbench's timings; they do not show time spent
# waiting (WAL flush, locks).
# PROFILE_PARTITION_SIZE=S bench/profile.sh [N]: the store in the partitioned
# layout (docs/partitioning.md), S positions per partition, 10 partitions
# made ahead so that the run routes rows and reads versions across them
# without making any.  PROFILE_SYSTEMS="es" profiles only these of floor,
# es and sql.  Uses tmp_install from a previous
# `bench/run.sh` or `make test`; callgrind files stay in tmp_profile/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-2000}
export TMP_CHECK=$ROOT/tmp_profile
. bench/lib/cluster.sh
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
bench_build_if_missing

# The cluster is made and its database set up by a server; the profiles then
# run in single-user backends on its data directory.
rm -rf "$TMP_CHECK"
PARTS=${PROFILE_PARTITION_SIZE:-0}
BENCH_KEEP=1 bench_start_cluster prof "shared_preload_libraries = 'eventstore'" "eventstore.partition_size = $PARTS" >/dev/null
bench_new_db bench
if [ "$PARTS" -gt 0 ]; then
    $PSQL -d bench -c "SELECT eventstore.es_make_partitions($PARTS * 10)" >/dev/null
fi
es_stop_cluster prof
DIR=$TMP_CHECK/prof

DATA=$BENCH_DATA META=$BENCH_META

# statements SYSTEM COUNT TAG: the input of one single-user session
statements() {
    local sys=$1 n=$2 tag=$3 i
    case $sys in
        es) echo "PREPARE a(text, bigint) AS SELECT * FROM eventstore.es_append(\$1, 'Deposited', '$DATA', expected_version => \$2, metadata => '$META');" ;;
        floor) echo "PREPARE a(text, bigint) AS INSERT INTO bench.floor_events (position, stream, version, event_id, type, category, data, metadata, created_at) VALUES (nextval('bench.floor_position_seq'), \$1, \$2 + 1, gen_random_uuid(), 'Deposited', 'acct', '$DATA', '$META', now()) RETURNING stream, version, position, event_id;" ;;
        sql) echo "PREPARE a(text, bigint) AS SELECT * FROM bench.sql_append(\$1, 'Deposited', '$DATA', \$2, '$META');" ;;
        load_es|load_select|feed_es|feed_select) reads "$sys" "$n"; return ;;
    esac
    for i in $(seq 0 $((n - 1))); do
        echo "EXECUTE a('acct-$tag-$((i / 100))', $((i % 100)));"
    done
}

# reads SYSTEM COUNT: COUNT pages of 1,000 events (read-stream, read-feed-page)
reads() {
    local i
    case $1 in
        load_es) echo "PREPARE r(text) AS SELECT * FROM eventstore.es_load(\$1, 1, 1000);" ;;
        load_select) echo "PREPARE r(text) AS SELECT $COLS FROM eventstore.events WHERE stream = \$1 AND version >= 1 ORDER BY version LIMIT 1000;" ;;
        feed_es) echo "PREPARE r(bigint) AS SELECT * FROM eventstore.es_load(after_position => \$1, max_count => 1000);" ;;
        feed_select) echo "PREPARE r(bigint) AS SELECT $COLS FROM eventstore.events WHERE position > \$1 ORDER BY position LIMIT 1000;" ;;
    esac
    for i in $(seq 0 $(($2 - 1))); do
        case $1 in
            load_*) echo "EXECUTE r('load-$((i % 20 + 1))');" ;;
            feed_*) echo "EXECUTE r($(( (i % 19) * 1000 )));" ;;
        esac
    done
}
COLS="position, stream, version, event_id, type, category, data, data_bin, metadata, created_at"

# instructions SYSTEM COUNT: total Ir of a single-user session
instructions() {
    local sys=$1 n=$2 out=$TMP_CHECK/callgrind.$1.$2
    statements "$sys" "$n" "$sys$n" > "$TMP_CHECK/in.$sys.$n"
    chmod 644 "$TMP_CHECK/in.$sys.$n"; [ "$(id -u)" = 0 ] && chown postgres "$TMP_CHECK"
    as_pg valgrind --tool=callgrind --callgrind-out-file="$out" --trace-children=no \
        "$PGBIN/postgres" --single -D "$DIR" -c shared_preload_libraries=eventstore -c fsync=off bench \
        < "$TMP_CHECK/in.$sys.$n" > "$TMP_CHECK/out.$sys.$n" 2>"$TMP_CHECK/err.$sys.$n"
    if grep -q ERROR "$TMP_CHECK/out.$sys.$n"; then grep -m3 ERROR "$TMP_CHECK/out.$sys.$n" >&2; exit 1; fi
    callgrind_annotate "$out" 2>/dev/null | sed -nE 's/^([0-9,]+) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
}

if [ "${PROFILE_READS:-0}" = 1 ]; then
    # 20 streams of 1,000 events, interleaved in the heap as in bench/run.sh.
    as_pg "$PGBIN/pg_ctl" -D "$DIR" -l "$TMP_CHECK/prof.log" -w start >/dev/null
    $PSQL -d bench >/dev/null <<SQL
INSERT INTO eventstore.events (position, stream, version, event_id, type, category, data, metadata, created_at)
SELECT g + 1, 'load-' || (g % 20 + 1), g / 20 + 1, gen_random_uuid(), 'Deposited', 'load',
       '$DATA'::jsonb, '$META'::jsonb, now()
FROM generate_series(0, 19999) AS g;
VACUUM ANALYZE eventstore.events;
SQL
    es_stop_cluster prof
    R=${2:-20}
    echo "instructions per page of 1,000 events (callgrind, $R pages, prepared):"
    for sys in load_select load_es feed_select feed_es; do
        small=$(instructions $sys 5)
        big=$(instructions $sys $((R + 5)))
        printf '  %-12s %10d\n' "$sys" $(( (big - small) / R ))
    done
    exit 0
fi

echo "instructions per single-event append (callgrind, $N appends, prepared, one transaction each):"
for sys in ${PROFILE_SYSTEMS:-floor es sql}; do
    small=$(instructions $sys 200)
    big=$(instructions $sys $((N + 200)))
    printf '  %-6s %10d\n' "$sys" $(( (big - small) / N ))
done
echo
echo "where es_append's instructions go (inclusive, whole session of $((N + 200)) appends):"
callgrind_annotate --inclusive=yes "$TMP_CHECK/callgrind.es.$((N + 200))" 2>/dev/null | sed -n '1,/^-- /d; p' |
    grep -E 'es_|exec_execute_message|PostgresMain|CommitTransaction|SPI_|_SPI|heap_insert|ExecInsert|btinsert|_bt_doinsert|LockAcquire|XLogInsert|RecordTransactionCommit|ExecutorStart|ExecutorEnd|pg_prng|uuid|jsonb|InitMaterializedSRF|tuplestore|GetLatestSnapshot|GetSnapshotData|AtEOXact|ExecuteQuery|standard_ExecutorRun|ExecScan|index_getnext|_bt_first|PortalRun|CreateExecutorState|ExecInitNode|SearchCatCache|hash_search|AllocSet|palloc' |
    head -60
